"""OpenTelemetry traces: off by default and free when off; on through the standard `OTEL_*`
variables when the `otel` extra is installed (`pip install "uiserver[otel]"`).

    OTEL_TRACES_EXPORTER=otlp        # or `console`; unset or `none`: tracing off
    OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318   # read by the OTLP exporter itself
    OTEL_SERVICE_NAME=uiserver       # the default; OTEL_RESOURCE_ATTRIBUTES is honoured too
    OTEL_SDK_DISABLED=true           # off, whatever else is set

A request gets one span (`http.edge.TracingMiddleware`: `GET /v1/layouts/{page}`, with the
W3C `traceparent` of the caller as its parent) and, on a layout miss, children for the store
read, the plan and the render (`span("store.profile")`...). Off, `span()` returns one shared
no-op context manager: a call and a branch per child, on the miss path only; the warm path pays
nothing (the middleware is not installed).

Span names and attributes carry routes and page names, never user ids or tokens.
"""

from __future__ import annotations

import contextlib
import logging
import os
from contextlib import AbstractContextManager
from typing import Any

log = logging.getLogger("uiserver")

_NOTHING: AbstractContextManager[None] = contextlib.nullcontext()
_tracer: Any = None  # an opentelemetry Tracer while tracing is on
_provider: Any = None  # its TracerProvider


def enabled() -> bool:
    return _tracer is not None


def span(name: str, **attributes: str | int | float | bool) -> AbstractContextManager[Any]:
    """A child span of the current one (while tracing is on), else a shared no-op."""
    tracer = _tracer
    if tracer is None:
        return _NOTHING
    return tracer.start_as_current_span(name, attributes=attributes or None)  # type: ignore[no-any-return]


def tracer() -> Any:
    """The Tracer while tracing is on, else None."""
    return _tracer


def use(provider: Any) -> None:
    """Trace through `provider` (an opentelemetry-sdk TracerProvider; tests pass one with an
    in-memory exporter); None turns tracing off."""
    global _tracer, _provider
    _provider = provider
    _tracer = None if provider is None else provider.get_tracer("uiserver")


def configure_from_env(environ: dict[str, str] | None = None) -> bool:
    """Turn tracing on when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`) and
    `OTEL_SDK_DISABLED` is not `true` (which turns it off). Returns whether it is on. Raises
    SystemExit for an exporter it does not know, or when the `otel` extra is missing: a
    misconfigured tracer is a deployment error worth failing on, not a silent loss of traces."""
    env = os.environ if environ is None else environ
    exporter = env.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        use(None)
        return False
    if exporter in ("", "none"):
        return enabled()  # a provider given by `use()` (tests) stays
    if exporter not in ("otlp", "console"):
        raise SystemExit(
            f"uiserver: OTEL_TRACES_EXPORTER must be otlp, console or none, not {exporter!r}"
        )
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        raise SystemExit(
            "uiserver: OTEL_TRACES_EXPORTER is set but the otel extra is not installed: pip "
            'install "uiserver[otel]"'
        ) from None
    name = env.get("OTEL_SERVICE_NAME", "uiserver")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    use(provider)
    log.info("tracing on: %s exporter, service %s", exporter, name)
    return True


def remote_parent(headers: list[tuple[bytes, bytes]]) -> Any:
    """The caller's trace context from a W3C `traceparent`/`tracestate` header, else None."""
    from opentelemetry.propagate import extract

    carrier = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in headers
        if name in (b"traceparent", b"tracestate")
    }
    return extract(carrier) if carrier else None


def flush() -> None:
    """Export the spans still batched (the process is ending: the lifespan's exit)."""
    if _provider is not None:
        _provider.force_flush()
