"""`uiserver serve`: run uvicorn or granian on the app factory with the chosen options.

Options travel to each worker through `UISERVER_*` variables, so `--workers N` processes all
build the same app. No JWT secret configured: one is made in the data dir on first run.

`--server uvicorn|granian` (`UISERVER_SERVER`, default uvicorn) picks the HTTP server. Both run
the same factory with HTTP/1.1 only, uvloop, no access log and the lifespan on; SIGINT/SIGTERM
stop both gracefully (in-flight requests finish, the lifespan's shutdown closes the store).
Forwarded headers: both trust `X-Forwarded-Proto`/`-For` only from `UISERVER_FORWARDED_ALLOW_IPS`
(default 127.0.0.1, uvicorn's default). granian has no such setting of its own, so its factory
(`granian_app`) wraps the app in uvicorn's own `ProxyHeadersMiddleware`: the same rule and code
on both servers.

Behind a TLS proxy on another host, `--forwarded-allow-ips` (`UISERVER_FORWARDED_ALLOW_IPS`)
names the proxies whose `X-Forwarded-Proto`/`-For` are believed; only then does a request that
reached the proxy over https count as https (the console cookie's `Secure` flag depends on it).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, cast

from starlette.types import ASGIApp

from uiserver.auth import resolve_secret

SERVERS = ("uvicorn", "granian")
FACTORY = "uiserver.http.app:app_from_env"
GRANIAN_FACTORY = "uiserver.commands.serve:granian_app"
# uvicorn's log levels that granian lacks, and what granian calls them.
GRANIAN_LEVELS = {"trace": "debug"}


def run(args: argparse.Namespace) -> int:
    """Run the chosen server until it stops (0); the data dir and JWT secret are made when
    missing. Raises SystemExit for an unknown `--server`."""
    args.data_dir.mkdir(parents=True, exist_ok=True)
    secret, created = resolve_secret(args.data_dir, create=True)
    os.environ.update(
        {
            "UISERVER_DATA_DIR": str(args.data_dir.resolve()),
            "UISERVER_LAYOUTS": str(args.layouts.resolve()),
            "UISERVER_COMPONENTS": str(args.components.resolve()),
            "UISERVER_STORE": args.store,
        }
    )
    forwarded = getattr(args, "forwarded_allow_ips", None)
    if forwarded:
        os.environ["UISERVER_FORWARDED_ALLOW_IPS"] = forwarded
    if created:
        print(
            f"uiserver: created a JWT secret in {args.data_dir / 'jwt-secret'}; mint a token with\n"
            f"  uiserver token USER --data-dir {args.data_dir}",
            file=sys.stderr,
        )
    del secret
    server = getattr(args, "server", "uvicorn")
    if server == "granian":
        _run_granian(args)
    elif server == "uvicorn":
        _run_uvicorn(args, forwarded)
    else:
        raise SystemExit(f"uiserver: --server must be one of {', '.join(SERVERS)}, not {server!r}")
    return 0


def _run_uvicorn(args: argparse.Namespace, forwarded: str | None) -> None:
    import uvicorn

    uvicorn.run(
        FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers if args.workers > 1 else None,
        log_level=args.log_level,
        access_log=False,  # paths only, but at launch rates the log would cost more than the GET
        lifespan="on",
        server_header=False,
        date_header=True,
        proxy_headers=True,
        forwarded_allow_ips=forwarded,  # None: uvicorn's default, 127.0.0.1
    )


def _run_granian(args: argparse.Namespace) -> None:
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    level = GRANIAN_LEVELS.get(args.log_level.lower(), args.log_level.lower())
    Server(
        GRANIAN_FACTORY,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=max(1, args.workers),
        http=HTTPModes.http1,
        websockets=False,
        loop=Loops.uvloop,
        log_level=LogLevels(level),
        log_access=False,
        factory=True,
    ).serve()


def granian_app() -> ASGIApp:
    """The factory granian imports in each worker: `app_from_env()` behind uvicorn's
    `ProxyHeadersMiddleware`, trusting `UISERVER_FORWARDED_ALLOW_IPS` (default 127.0.0.1)."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from uiserver.http.app import app_from_env

    trusted = os.environ.get("UISERVER_FORWARDED_ALLOW_IPS", "127.0.0.1")
    wrapped: Any = ProxyHeadersMiddleware(app_from_env(), trusted_hosts=trusted)  # type: ignore[arg-type]
    return cast(ASGIApp, wrapped)
