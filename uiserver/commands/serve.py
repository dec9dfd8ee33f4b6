"""`uiserver serve`: run uvicorn or granian on the app factory with the chosen options.

Options travel to each worker through `UISERVER_*` variables, so `--workers N` processes all
build the same app. No JWT secret configured: one is made in the data dir on first run.

`--server granian|uvicorn` (`UISERVER_SERVER`, default granian: its RSGI interface serves a
warm layout GET with less CPU, docs/BENCHMARKS.md "Issue 26") picks the HTTP server. Both run
the same factory with HTTP/1.1 only, uvloop, no access log and the lifespan on; SIGINT/SIGTERM
stop both gracefully (in-flight requests finish, the lifespan's shutdown closes the store).
Forwarded headers: both trust `X-Forwarded-Proto`/`-For` only from `UISERVER_FORWARDED_ALLOW_IPS`
(default 127.0.0.1, uvicorn's default). granian has no such setting of its own, so its factory
(`granian_app`) wraps the app in uvicorn's own `ProxyHeadersMiddleware`: the same rule and code
on both servers.

Connection limits (issue 27, section 1; `http/limits.py`): `--max-header-bytes`,
`--max-headers`, `--header-timeout`, `--keepalive-timeout`, `--max-connections` and `--backlog`
(and their `UISERVER_*` variables) reach uvicorn through `LimitedHttpToolsProtocol` and granian
through its HTTP/1 settings and `backpressure`. Before starting, the soft open-files limit is
raised to the hard one, and the connection cap of each worker kept below it.

Behind a TLS proxy on another host, `--forwarded-allow-ips` (`UISERVER_FORWARDED_ALLOW_IPS`)
names the proxies whose `X-Forwarded-Proto`/`-For` are believed; only then does a request that
reached the proxy over https count as https (the console cookie's `Secure` flag depends on it).
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import errno
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

from starlette.types import ASGIApp

from uiserver.auth import resolve_secret
from uiserver.config import DEFAULT_SERVER, DURATION_OPTIONS, SERVERS, check_environment
from uiserver.files import resolved
from uiserver.http import collector, supervisor
from uiserver.http.limits import ConnectionLimits, raise_open_files_limit
from uiserver.http.logs import JsonFormatter
from uiserver.http.rsgi import RSGIApp
from uiserver.policy import PolicyError, load_policy
from uiserver.store.factory import store_url_problem

UVICORN_PROTOCOL = "uiserver.http.uvicorn_protocol:LimitedHttpToolsProtocol"
GRANIAN_MIN_BUFFER = 8192
GRANIAN_MAX_HEADERS = 100  # hyper's fixed header-field count
FACTORY = "uiserver.http.app:app_from_env"
GRANIAN_FACTORY = "uiserver.commands.serve:granian_rsgi_app"
# uvicorn's log levels that granian lacks, and what granian calls them.
GRANIAN_LEVELS = {"trace": "debug"}
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
# RFC 7518 3.2: an HS256 key "of the same size as the hash output (256 bits) or larger MUST be
# used". A generated secret is 64 characters (`auth.resolve_secret`).
MIN_SECRET_BYTES = 32


def run(args: argparse.Namespace) -> int:
    """Run the chosen server until it stops (0); the data dir and JWT secret are made when
    missing. Raises SystemExit for an unknown `--server`."""
    secret, created = server_secret(args.data_dir)
    os.environ.update(
        {
            "UISERVER_DATA_DIR": str(resolved(args.data_dir)),
            "UISERVER_LAYOUTS": str(resolved(args.layouts)),
            "UISERVER_COMPONENTS": str(resolved(args.components)),
            "UISERVER_STORE": args.store,
            "UISERVER_LOG_LEVEL": args.log_level,
            "UISERVER_LOG_FORMAT": getattr(args, "log_format", "text"),
        }
    )
    for option, variable, _, _ in DURATION_OPTIONS:
        value = getattr(args, option.lstrip("-").replace("-", "_"), None)
        if value:
            os.environ[variable] = value
    gc_thresholds = getattr(args, "gc_thresholds", None)
    if gc_thresholds:
        os.environ[collector.ENV] = gc_thresholds
    try:
        collector.thresholds_from_env()  # the workers read it; a bad value fails here, once
    except ValueError as exc:
        raise SystemExit(f"uiserver: --gc-thresholds: {exc}") from None
    try:
        check_environment()  # the cache bounds and intervals every worker reads, likewise
        preflight(args)
    except ValueError as exc:
        raise SystemExit(f"uiserver: {exc}") from None
    forwarded = getattr(args, "forwarded_allow_ips", None)
    if forwarded:
        os.environ["UISERVER_FORWARDED_ALLOW_IPS"] = forwarded
    limits = _limits(args)
    ensure_free(args.host, args.port)
    log_format = getattr(args, "log_format", "text")
    if created:
        print(
            start_line(
                f"uiserver: created a JWT secret in {args.data_dir / 'jwt-secret'}; mint a token "
                f"with\n  uiserver token USER --data-dir {args.data_dir}",
                log_format,
            ),
            file=sys.stderr,
        )
    del secret
    if log_format == "text":
        print(console_banner(args.host, args.port, args.data_dir), file=sys.stderr)
    server = getattr(args, "server", DEFAULT_SERVER)
    if server == "granian":
        _run_granian(args, limits)
    elif server == "uvicorn":
        _run_uvicorn(args, forwarded, limits)
    else:
        raise SystemExit(f"uiserver: --server must be one of {', '.join(SERVERS)}, not {server!r}")
    return 0


def server_secret(data_dir: Path) -> tuple[str, bool]:
    """(secret, created): `UISERVER_JWT_SECRET`, else the data dir's file, made (with the dir)
    on first run. SystemExit with one line for a data dir that cannot be made (a file of that
    name, no permission: was a traceback) or a secret under `MIN_SECRET_BYTES`."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        secret, created = resolve_secret(data_dir, create=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SystemExit(f"uiserver: --data-dir {data_dir}: {reason}") from None
    if len(secret.encode()) < MIN_SECRET_BYTES:
        source = (
            "UISERVER_JWT_SECRET"
            if os.environ.get("UISERVER_JWT_SECRET")
            else str(data_dir / "jwt-secret")
        )
        raise SystemExit(
            f"uiserver: {source} is {len(secret.encode())} bytes; an HS256 secret needs at "
            f"least {MIN_SECRET_BYTES} (RFC 7518 3.2), else tokens of any role can be forged "
            "by guessing it. Make one: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'"
        )
    return secret, created


def preflight(args: argparse.Namespace) -> None:
    """ValueError naming the first option no worker could start with, checked once before
    the server starts: a port outside 0-65535, a log level the servers do not know, a
    `--layouts` or `--components` directory that is not there, a `--store` that is neither
    empty (SQLite) nor a Redis URL `store.redis.address` parses, a `UISERVER_POLICY` file that
    does not load. Each was a traceback (granian's supervisor, or every worker in turn, which
    then exited: `serve` stopped with exit 1 after a page of frames). Normalises
    `args.log_level` to lower case (both servers' names), an empty one to `info`."""
    if not 0 <= args.port <= 65_535:
        raise ValueError(f"--port must be a TCP port from 0 to 65535, not {args.port}")
    level = str(args.log_level or "").strip().lower() or "info"  # UISERVER_LOG_LEVEL= too
    if level not in LOG_LEVELS:
        raise ValueError(
            f"--log-level (or UISERVER_LOG_LEVEL) must be one of {', '.join(LOG_LEVELS)}, "
            f"not {str(args.log_level)[:40]!r}"
        )
    args.log_level = level
    for option, path in (("--layouts", args.layouts), ("--components", args.components)):
        if not Path(path).is_dir():
            raise ValueError(f"{option} {str(path)[:200]}: no such directory")
    problem = store_url_problem(args.store)
    if problem:
        raise ValueError(f"--store (or UISERVER_STORE): {problem}")
    policy = os.environ.get("UISERVER_POLICY")
    if policy:
        try:
            load_policy(Path(policy))
        except PolicyError as exc:
            raise ValueError(f"UISERVER_POLICY: {exc}") from None


def ensure_free(host: str, port: int) -> None:
    """SystemExit (a message, exit 1) when nothing may listen on `host`:`port`: in use, not
    allowed, an unknown host. granian listens with SO_REUSEPORT, so a second `serve` on a port
    another server already held (an old instance not yet stopped) started listening beside it
    and took a share of its connections, each answered from its own data dir, without a word;
    uvicorn refused. A probe bound without SO_REUSEPORT (SO_REUSEADDR only: connections in
    TIME_WAIT do not count) is refused while any socket listens there. Port 0: any free one."""
    if port == 0:
        return
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:  # gaierror included
        reason = exc.strerror or str(exc)
        hint = " (is another server running there?)" if exc.errno == errno.EADDRINUSE else ""
        raise SystemExit(f"uiserver: cannot listen on {where}: {reason}{hint}") from None


def start_line(text: str, log_format: str) -> str:
    """A line `serve` prints on stderr before the server starts: `text` as it is in text mode; in
    json mode one `JsonFormatter` object (logger `uiserver`, INFO, newlines escaped), since there
    every line on stderr is one JSON object (README, "Configuration")."""
    if log_format != "json":
        return text
    record = logging.LogRecord("uiserver", logging.INFO, __file__, 0, text, None, None)
    return JsonFormatter().format(record)


def console_banner(host: str, port: int, data_dir: Path) -> str:
    """Where the designer console is and how to sign in to it (printed by `serve` on start).
    A wildcard host (0.0.0.0, ::) is shown as localhost: the address a browser on this machine
    opens."""
    shown = "localhost" if host in ("", "0.0.0.0", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"  # an IPv6 literal in a URL (RFC 3986 3.2.2)
    return (
        f"uiserver: designer console at http://{shown}:{port}/designer/ - sign in with a "
        f"designer token from\n  uiserver token YOUR_NAME --role designer --data-dir {data_dir}"
    )


def _limits(args: argparse.Namespace) -> ConnectionLimits:
    """The options (else `UISERVER_*`, else defaults) as `ConnectionLimits`, exported for the
    workers; the soft open-files limit raised first, so the cap follows the new one. Raises
    SystemExit for a value out of range."""
    names = {
        "max_header_bytes": "UISERVER_MAX_HEADER_BYTES",
        "max_headers": "UISERVER_MAX_HEADERS",
        "header_timeout": "UISERVER_HEADER_TIMEOUT",
        "body_timeout": "UISERVER_BODY_TIMEOUT",
        "keepalive_timeout": "UISERVER_KEEPALIVE_TIMEOUT",
        "max_connections": "UISERVER_MAX_CONNECTIONS",
        "backlog": "UISERVER_BACKLOG",
    }
    for attribute, variable in names.items():
        value = getattr(args, attribute, None)
        if value is not None:
            os.environ[variable] = str(value)
    before, after = raise_open_files_limit()
    try:
        limits = ConnectionLimits.from_env()
    except ValueError as exc:
        raise SystemExit(f"uiserver: {exc}") from None
    cap = limits.connections()
    log_format = getattr(args, "log_format", "text")
    if limits.max_connections > cap:
        print(
            start_line(
                f"uiserver: --max-connections {limits.max_connections} is above what the "
                f"open-files limit ({after}) allows; using {cap}",
                log_format,
            ),
            file=sys.stderr,
        )
    if after > before:
        print(
            start_line(f"uiserver: open-files limit raised from {before} to {after}", log_format),
            file=sys.stderr,
        )
    return limits


# granian's supervisor formats with it too: `jsonlog` imports nothing of the app.
JSON_FORMATTER = {"()": "uiserver.http.jsonlog.JsonFormatter"}


def _uvicorn_log_config(args: argparse.Namespace) -> dict[str, Any]:
    """`--log-format json`: uvicorn's own lines (the supervisor's too) as JSON objects."""
    if getattr(args, "log_format", "text") != "json":
        return {}
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"] = {"default": JSON_FORMATTER, "access": JSON_FORMATTER}
    return {"log_config": config}


def _granian_log_config(args: argparse.Namespace) -> dict[str, Any] | None:
    """`--log-format json`: granian's own lines as JSON objects (its formatters replaced) on
    stderr, where every other line of the server goes (granian's handlers write to stdout)."""
    if getattr(args, "log_format", "text") != "json":
        return None
    return {
        "formatters": {"generic": JSON_FORMATTER, "access": JSON_FORMATTER},
        "handlers": {
            name: {
                "formatter": name,
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
            }
            for name in ("generic", "access")
        },
        "loggers": {
            "_granian": {"handlers": ["generic"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def _run_uvicorn(args: argparse.Namespace, forwarded: str | None, limits: ConnectionLimits) -> None:
    import uvicorn

    uvicorn.run(
        FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers if args.workers > 1 else None,
        log_level=args.log_level,
        access_log=False,  # paths only, but at launch rates the log would cost more than the GET
        **_uvicorn_log_config(args),
        lifespan="on",
        server_header=False,
        date_header=True,
        proxy_headers=True,
        forwarded_allow_ips=forwarded,  # None: uvicorn's default, 127.0.0.1
        # Header limits, the header deadline and the connection cap (it reads them from the
        # UISERVER_* variables `_limits` set). No `limit_concurrency`: it answers 503 counting
        # idle connections too, which is how idle connections would lock clients out.
        http=UVICORN_PROTOCOL,
        timeout_keep_alive=limits.keepalive_timeout,
        backlog=limits.backlog,
    )


PR_SET_PDEATHSIG = 1  # linux/prctl.h
SERVER_PID = "UISERVER_SERVER_PID"  # the pid of `serve`'s own process, for granian's workers


def die_with_server() -> None:
    """In a granian worker (a child process of `serve`): be sent SIGTERM, and so stop
    gracefully, when `serve`'s process dies, even by SIGKILL or the OOM killer (Linux
    `prctl(PR_SET_PDEATHSIG)`); exit at once if it is already gone. Without this, a `serve`
    killed outright left its worker serving on the port, an orphan nobody stops (a replica
    "killed" with kill -9 went on answering and taking scheduled steps). Elsewhere, a no-op."""
    parent = os.environ.get(SERVER_PID)
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != int(parent):  # died between spawning this worker and here
        os._exit(1)


def _run_granian(args: argparse.Namespace, limits: ConnectionLimits) -> None:
    """Become granian's supervisor, started afresh (`uiserver.http.supervisor`: the same pid,
    none of the modules imported so far); does not return."""
    level = GRANIAN_LEVELS.get(args.log_level.lower(), args.log_level.lower())
    os.environ[SERVER_PID] = str(os.getpid())  # workers inherit it: `die_with_server`
    command = supervisor_command(granian_settings(args, limits, level))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)


def supervisor_command(settings: dict[str, Any]) -> list[str]:
    """The argv `_run_granian` execs: this interpreter with its flags (`-X`, `-W`, `-O`...; the
    workers, forked from the supervisor, inherit them as they did from `serve`), then `-P -c`
    code that imports `uiserver.http.supervisor` from the directory this very `uiserver` package
    was imported from, and `settings` as JSON. Not `-m uiserver.http.supervisor`: that puts the
    working directory first on `sys.path`, so a `uiserver/` there (another checkout, an older
    version, a planted one) would have become the supervisor and the workers' app."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(supervisor.__file__))))
    # What multiprocessing passes a spawned child (a private helper typeshed leaves out).
    flags: list[str] = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
    boot = (
        f"import sys; sys.path.insert(0, {root!r}); "
        f"from {supervisor.__name__} import main; sys.exit(main(sys.argv))"
    )
    return [sys.executable, *flags, "-P", "-c", boot, json.dumps(settings)]


def granian_settings(
    args: argparse.Namespace, limits: ConnectionLimits, level: str
) -> dict[str, Any]:
    """What `uiserver.http.supervisor` runs granian with (its `SETTINGS`)."""
    return {
        "target": GRANIAN_FACTORY,
        "address": args.host,
        "port": args.port,
        "workers": max(1, args.workers),
        "log_level": level,
        "log_dictconfig": _granian_log_config(args),
        # Connections a worker serves at once; past it granian stops accepting (they wait in
        # the backlog). Kept below the open-files limit, never granian's backlog/workers.
        "backlog": limits.backlog,
        "backpressure": limits.connections(),
        # hyper: from connecting, or from the previous response, to the last header byte; it
        # also bounds an idle keep-alive connection (no separate idle timer).
        "header_read_timeout_ms": max(1, round(limits.header_timeout * 1000)),
        # hyper answers 431 when a request head does not fit its read buffer; 8 KiB is hyper's
        # minimum. Header count: hyper's fixed 100 (`granian_app` enforces less).
        "max_buffer_size": max(GRANIAN_MIN_BUFFER, limits.max_header_bytes),
    }


def granian_rsgi_app() -> RSGIApp:
    """The factory granian imports in each worker (its RSGI interface, issue 26): layout GETs
    answered natively, everything else through `granian_app`'s ASGI stack (`http/rsgi.py`)."""
    from uiserver.http.app import app_from_env
    from uiserver.http.layouts import LayoutApp

    die_with_server()

    edge = app_from_env()
    # JSON logs (`--log-format json`) and tracing wrap the edge in ASGI middleware: then every
    # request, layouts too, goes through them (the ASGI bridge), so each has its request id
    # and span; the layouts' native RSGI path is for the plain edge.
    inner: Any = edge
    while not isinstance(inner, LayoutApp):
        inner = inner.app
    max_headers = ConnectionLimits.from_env().max_headers
    return RSGIApp(inner, _granian_asgi(edge), max_headers, native=inner is edge)


def granian_app() -> ASGIApp:
    """The factory granian imports in each worker: `app_from_env()` behind uvicorn's
    `ProxyHeadersMiddleware`, trusting `UISERVER_FORWARDED_ALLOW_IPS` (default 127.0.0.1)."""
    from uiserver.http.app import app_from_env

    return _granian_asgi(app_from_env())


def _granian_asgi(app: ASGIApp) -> ASGIApp:
    """`app` behind uvicorn's `ProxyHeadersMiddleware`, trusting `UISERVER_FORWARDED_ALLOW_IPS`
    (default 127.0.0.1), and the header-count limit below granian's fixed 100."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from uiserver.http.limits import HeaderCountLimit

    trusted = os.environ.get("UISERVER_FORWARDED_ALLOW_IPS", "127.0.0.1")
    wrapped: Any = ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type]
    most = ConnectionLimits.from_env().max_headers
    if most < GRANIAN_MAX_HEADERS:
        wrapped = HeaderCountLimit(wrapped, most)
    return cast(ASGIApp, wrapped)
