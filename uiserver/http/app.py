"""The ASGI application: the layout fast path in front of the Starlette routes.

`create_app(config)` builds everything from a Config; `app_from_env()` is the factory uvicorn
imports in every worker (`uiserver serve` passes its options through `UISERVER_*` variables).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from uiserver import tracing
from uiserver.admin.errors import AdminError
from uiserver.auth import TokenVerifier, resolve_secret
from uiserver.catalog import read_catalog, read_templates
from uiserver.config import Config, resolve_data_dir
from uiserver.documents import DocumentError
from uiserver.http import collector, faults, logs
from uiserver.http.admin import admin_routes
from uiserver.http.assessment import assessment_routes
from uiserver.http.audit import audit_routes
from uiserver.http.capabilities import capability_routes
from uiserver.http.console.render import http_error_page, is_console, unexpected_error_page
from uiserver.http.console.routes import console_routes
from uiserver.http.editor_api import designer_api_routes
from uiserver.http.errors import ApiError, api_error_handler, http_exception_handler
from uiserver.http.failures import Failures
from uiserver.http.health import health_routes
from uiserver.http.layouts import LayoutApp
from uiserver.http.limits import BODY_TIMEOUT, ConnectionLimits
from uiserver.http.logs import RequestLog
from uiserver.http.me import client_routes
from uiserver.http.metrics import Family, Metrics
from uiserver.http.queries import RepeatedQuery
from uiserver.http.revocations import revocation_routes
from uiserver.http.tracing import Traced
from uiserver.http.uvicorn_protocol import open_connections
from uiserver.policy import load_policy
from uiserver.publishing.filesync import file_bases
from uiserver.schema import Template
from uiserver.service import Service
from uiserver.store.base import store_errors
from uiserver.store.factory import open_store

log = logging.getLogger("uiserver")


def create_app(
    config: Config,
    body_timeout: float = BODY_TIMEOUT,
    after_start: Callable[[], None] | None = None,
) -> ASGIApp:
    """Build the service and its HTTP edge; the store opens in the lifespan. `body_timeout`:
    seconds allowed between two reads of a request body (`--body-timeout`); `after_start`: run
    once the service has started, before the first request (`serve`: `collector.settle`)."""
    policy = load_policy(config.policy_path)
    catalog, file_errors = read_catalog(config.components_dir)
    file_templates: dict[str, Template] = {}
    bases: dict[str, str] = {}
    if config.publish_layouts_on_start:
        file_templates, template_errors = read_templates(config.layouts_dir)
        file_errors += template_errors
        bases = file_bases(config.layouts_dir)
    for error in file_errors:
        # One bad file (too large, a FIFO, malformed) is skipped, not fatal: the rest serve.
        log.error("not loaded: %s", error)
    store = open_store(config.store_url, config.data_dir, poll_interval=config.poll_interval)
    service = Service(config, store, catalog, policy)
    service.file_errors = tuple(file_errors)
    verifier = (
        TokenVerifier(
            config.jwt_secret,
            config.token_cache_size,
            config.jwt_leeway,
            service.lifetimes,
            service.revocations,
        )
        if config.jwt_secret
        else None
    )

    def cache_sizes() -> dict[str, int]:
        return {
            "bodies": len(service.cache.bodies),
            "plans": len(service.cache.plans),
            "requests": len(service.cache.requests),
            "personal_requests": service.cache.requests.personal,
            "profiles": len(service.loader.cache),
            "tokens": verifier.cached if verifier else 0,
        }

    def stats() -> dict[str, int]:
        counts = dict(service.server.stats)
        counts["background_errors"] += service.recorder.failures
        return counts

    metrics = Metrics(stats, cache_sizes, lambda: served_now(service), operator_families(service))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start(file_templates, bases)
        if after_start is not None:
            after_start()
        try:
            yield
        finally:
            await service.close()
            tracing.flush()

    routes: list[BaseRoute] = [
        *client_routes(),
        *health_routes(),
        *admin_routes(),
        *revocation_routes(),
        *audit_routes(),
        *assessment_routes(),
        *capability_routes(),
        *designer_api_routes(),
        *console_routes(),
        # Reached only for methods the fast path does not take: answers 405 in JSON.
        Route("/v1/layouts/{page}", _layout_fallback, methods=["GET"]),
    ]
    route_paths = {r.endpoint: r.path for r in routes if isinstance(r, Route)}
    failures = Failures(metrics.unexpected_errors, route_paths)
    inject = faults.enabled()  # UISERVER_FAULTS=1: tests of real processes only
    starlette = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(RepeatedQuery),
            *([Middleware(faults.FaultMiddleware)] if inject else []),
        ],
        exception_handlers={
            ApiError: api_error_handler,
            AdminError: api_error_handler,
            DocumentError: api_error_handler,
            HTTPException: _http_exception,
            # A bug: the JSON 500 that closes the connection (`failures.py`).
            Exception: functools.partial(_unexpected, failures),
        },
    )
    # A slash redirect would build its Location from the Host header (`GET /v1/me/settings/`
    # with `Host: evil.example` -> `Location: http://evil.example/...`): a trailing slash is a
    # 404 instead, and every redirect the app makes itself is a relative path.
    starlette.router.redirect_slashes = False
    starlette.state.service = service
    starlette.state.metrics = metrics
    starlette.state.verifier = verifier
    starlette.state.config = config
    starlette.state.body_timeout = body_timeout
    edge = faults.FaultyLayoutApp if inject else LayoutApp
    app: ASGIApp = edge(
        service, lambda: verifier, metrics, starlette, route_paths, failures, body_timeout
    )
    # Tracing and JSON logs wrap the edge only when on: off, the warm path pays nothing.
    if tracing.configure_from_env():
        app = Traced(app, route_paths)
    try:
        logs.configure(config.log_format, config.log_level)
    except ValueError as exc:
        raise SystemExit(f"uiserver: {exc}") from None
    if config.log_format == "json":
        app = RequestLog(app, route_paths)
    return app


def served_now(service: Service) -> dict[tuple[str, str], int]:
    """Layouts served by (page, version), for the versions served now (both during a staged
    rollout): the others' counts are dropped, so the series stay bounded by pages x 2."""
    live = set()
    for page in service.live.pages.values():
        live.add(page.served_key)
        if page.previous is not None:
            live.add(page.previous.served_key)
    counts = service.server.served
    for key in [key for key in counts if key not in live]:
        del counts[key]
    return dict(counts)


def operator_families(service: Service) -> tuple[Family, ...]:
    """The plain counters the parts keep, as metric families read at scrape time."""

    def connections() -> dict[tuple[str, ...], float]:
        held = open_connections()
        return {} if held is None else {(): held}

    return (
        Family(
            "uiserver_store_errors",
            "Store calls that failed (StoreUnavailable) by kind",
            ("kind",),
            lambda: {(kind,): count for kind, count in store_errors.items()},
        ),
        Family(
            "uiserver_invalidations",
            "Invalidations sent by this process's writes and received from other processes",
            ("direction", "kind"),
            lambda: dict(service.store.invalidation_counts),
        ),
        Family(
            "uiserver_events",
            "Behaviour events stored, and ignored by reason",
            ("outcome", "reason"),
            lambda: dict(service.events.counts),
        ),
        Family(
            "uiserver_open_connections",
            "Connections this worker holds (uvicorn)",
            (),
            connections,
            gauge=True,
        ),
    )


async def _layout_fallback(request: Any) -> Any:  # pragma: no cover - never routed for GET
    raise ApiError(405, "method_not_allowed", "use GET")  # Starlette answers 405 (with Allow)


def config_from_env() -> Config:
    """The Config `uiserver serve` hands to each uvicorn worker through the environment."""
    data_dir = resolve_data_dir(None)
    secret, _ = resolve_secret(data_dir, create=True)
    policy = os.environ.get("UISERVER_POLICY")
    return Config(
        data_dir=data_dir,
        layouts_dir=Path(os.environ.get("UISERVER_LAYOUTS", "layouts")),
        components_dir=Path(os.environ.get("UISERVER_COMPONENTS", "components")),
        store_url=os.environ.get("UISERVER_STORE", ""),
        jwt_secret=secret,
        policy_path=Path(policy) if policy else None,
    )


def app_from_env() -> ASGIApp:
    """The app `uiserver serve`'s workers run: configured from `UISERVER_*`, the garbage
    collector settled once it has started (`collector`). Raises ValueError for a bad
    `UISERVER_GC_THRESHOLDS` (`serve` checks it before starting a worker)."""
    thresholds = collector.thresholds_from_env()
    return create_app(
        config_from_env(),
        ConnectionLimits.from_env().body_timeout,
        after_start=lambda: collector.settle(thresholds),
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    """A 404 or 405 no route took: the console's HTML page under `/designer`, else JSON."""
    if is_console(request.url.path):
        return await http_error_page(request, exc)
    return await http_exception_handler(request, exc)


async def _unexpected(failures: Failures, request: Request, exc: Exception) -> Response:
    """A bug: the JSON 500 that closes (`failures.py`), as the console's page under /designer
    (issue 23: a console route answers a page, never a bare 500)."""
    answer = await failures.starlette_handler(request, exc)
    return unexpected_error_page(request, answer) if is_console(request.url.path) else answer
