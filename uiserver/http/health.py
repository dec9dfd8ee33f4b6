"""Liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from uiserver.http.deps import service_of
from uiserver.http.openapi import openapi_document
from uiserver.http.responses import json_response


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the store answers, this process hears other replicas' invalidations (a
    store without a subscription, SQLite, always does), templates are loaded and the store
    still has them (`templates_lost`: pages a Redis that came back empty lost, served from this
    process's copy until republished).

    Not ready is not dead: layouts keep answering (degraded) while the store is down.
    """
    state = await service_of(request).readiness()
    request.app.state.metrics.store_up.set(1 if state.store else 0)
    body = {
        "ready": state.ready,
        "store": state.store,
        "invalidations": state.invalidations,
        "templates": state.templates,
        "templates_lost": list(state.templates_lost),
        # Files in layouts/ left unpublished at start because the console published since.
        "file_conflicts": [
            {
                "page": c.page,
                "live_version": c.live_version,
                "file_version": c.file_version,
                "reason": c.reason,
                "message": c.message,
            }
            for c in state.file_conflicts
        ],
        # Files of components/ and layouts/ skipped at start: too large, not a regular file,
        # malformed (the rest serve; a page whose file was skipped keeps its live version).
        "file_errors": [
            {"file": e.file, "field": e.field, "message": e.message} for e in state.file_errors
        ],
    }
    return json_response(body, status=200 if state.ready else 503)


async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


async def openapi(request: Request) -> Response:
    return json_response(openapi_document())


def health_routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
