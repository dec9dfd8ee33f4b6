"""`uiserver serve | token | validate | publish | export | assess | bench`: the parser and the
dispatch, nothing else.

Each command lives in `uiserver/commands/` and is imported only when run, so `uiserver validate`
does not pay for starting a server.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from uiserver.config import (
    DEFAULT_SERVER,
    DURATION_OPTIONS,
    SERVERS,
    default_components,
    default_layouts,
    parse_duration,
    resolve_data_dir,
)

DATA_DIR_HELP = (
    "where the SQLite store and the JWT secret live (default: UISERVER_DATA_DIR, else .uiserver/)"
)
COMPONENTS_HELP = "the component catalogue directory (default: components/)"
STORE_HELP = (
    "the shared Redis store: redis://host:port/db, redis+sentinel://host:port,.../service/db or "
    "redis-cluster://host:port,... (default: SQLite in --data-dir)"
)
AUTHOR_HELP = "who did it, as the history and the audit log name them (default: $USER)"


def duration(text: str) -> str:
    """An argparse type: the option's text, once it reads as a duration."""
    try:
        parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


DESCRIPTION = """\
uiserver serves adaptive, accessible page layouts to a mini-program: each user gets the page's
template adapted to their settings (elderly mode, font size, contrast, handedness) and, within
the designer's rules, to what they use. Designers edit, preview and publish the templates in the
console at /designer/ (sign in with a designer token from `uiserver token NAME --role designer`).
"""
EPILOG = """\
first steps:
  uiserver serve                              run the server (http://127.0.0.1:8000)
  uiserver token dora --role designer         a token to sign in to http://127.0.0.1:8000/designer/
  uiserver validate layouts/                  lint template files before publishing them
`uiserver COMMAND --help` describes each command's options.
"""


def port_number(text: str) -> int:
    """A TCP port, 0-65535 (0: any free one); argparse.ArgumentTypeError otherwise."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65_535:
        raise argparse.ArgumentTypeError(
            f"a TCP port is a whole number from 0 to 65535 (--port or UISERVER_PORT), "
            f"not {text[:40]!r}"
        )
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uiserver",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP server (uvicorn or granian)")
    serve.add_argument(
        "--host",
        default=os.environ.get("UISERVER_HOST", "127.0.0.1"),
        help="address to listen on (default 127.0.0.1, or UISERVER_HOST; 0.0.0.0 for all)",
    )
    serve.add_argument(
        "--port",
        type=port_number,
        # A string: argparse reads it with `port_number` only when `--port` is not given, so
        # a bad UISERVER_PORT is serve's usage error, never a traceback of every command.
        default=os.environ.get("UISERVER_PORT", "8000"),
        help="TCP port (default 8000, or UISERVER_PORT)",
    )
    serve.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    serve.add_argument(
        "--layouts",
        type=Path,
        default=None,
        help="template files; a changed file is published at start unless the console published "
        "the page since (README, Configuration) (default: layouts/)",
    )
    serve.add_argument("--components", type=Path, default=None, help=COMPONENTS_HELP)
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (default 1; see docs/DEPLOY.md)"
    )
    serve.add_argument(
        "--store",
        default=os.environ.get("UISERVER_STORE", ""),
        help=STORE_HELP,
    )
    serve.add_argument(
        "--log-level",
        default=os.environ.get("UISERVER_LOG_LEVEL", "info"),
        help="critical, error, warning, info, debug or trace (default info, or UISERVER_LOG_LEVEL)",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=os.environ.get("UISERVER_LOG_FORMAT", "text"),
        help="json: one JSON object a line on stderr, with request ids (X-Request-Id) and an "
        "access line per request (default: text, or UISERVER_LOG_FORMAT)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=os.environ.get("UISERVER_FORWARDED_ALLOW_IPS"),
        help="comma-separated proxy addresses (or networks, or '*') whose X-Forwarded-Proto and "
        "X-Forwarded-For are trusted (default: 127.0.0.1 only, as uvicorn)",
    )
    serve.add_argument(
        "--server",
        choices=list(SERVERS),
        default=os.environ.get("UISERVER_SERVER", DEFAULT_SERVER),
        help="the HTTP server (default: granian, on its RSGI interface: the faster for layout "
        "GETs, docs/BENCHMARKS.md; or UISERVER_SERVER). uvicorn: the same app on ASGI",
    )
    serve.add_argument(
        "--gc-thresholds",
        default=os.environ.get("UISERVER_GC_THRESHOLDS"),
        metavar="N0,N1,N2",
        help="Python's garbage-collector thresholds in each worker, set after start-up with "
        "what exists frozen (gc.freeze); 'off' keeps Python's 700,10,10 (default 50000,50,100, "
        "or UISERVER_GC_THRESHOLDS: docs/BENCHMARKS.md, issue 26)",
    )
    _connection_options(serve)
    for option, variable, default, what in DURATION_OPTIONS:
        serve.add_argument(
            option,
            type=duration,
            default=os.environ.get(variable),
            help=f"{what}: seconds, or 90s, 15m, 12h, 30d (default {default}, or {variable})",
        )

    token = sub.add_parser(
        "token",
        help="mint a JWT for a user (with iat and jti); `uiserver token revoke` revokes tokens",
    )
    token.add_argument("user", help="the token's subject (sub): a user id, or a designer's name")
    token.add_argument(
        "--role",
        choices=["user", "designer", "admin"],
        default="user",
        help="user (the client API), designer (the console and /v1/admin) or admin (also "
        "revocations) (default user)",
    )
    token.add_argument(
        "--ttl",
        type=int,
        default=None,
        help="seconds until it expires (default: a day for users, the designer maximum, 12 h, "
        "for designers and admins); at most the server's maximum lifetime for the role",
    )
    token.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)

    validate = sub.add_parser("validate", help="schema and accessibility lint of files")
    validate.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="template files or directories (default: the catalogue and layouts/)",
    )
    validate.add_argument("--components", type=Path, default=None, help=COMPONENTS_HELP)

    publish = sub.add_parser(
        "publish", help="publish a template file (or each file of a directory) as a new version"
    )
    publish.add_argument("file", type=Path, help="a template file (YAML or JSON) or a directory")
    publish.add_argument(
        "--message", "-m", required=True, help="what changed and why (kept in the history)"
    )
    publish.add_argument("--author", default=os.environ.get("USER", "cli"), help=AUTHOR_HELP)
    publish.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    publish.add_argument("--components", type=Path, default=None, help=COMPONENTS_HELP)
    publish.add_argument("--store", default=os.environ.get("UISERVER_STORE", ""), help=STORE_HELP)
    publish.add_argument(
        "--force",
        action="store_true",
        help="publish even over a version published from the console since the file's base "
        "(and abort a running rollout)",
    )

    export = sub.add_parser("export", help="write live versions back as template files")
    export.add_argument("pages", nargs="*", metavar="PAGE", help="default: every live page")
    export.add_argument("--to", type=Path, default=None, help="directory (default: layouts/)")
    export.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    export.add_argument("--store", default=os.environ.get("UISERVER_STORE", ""), help=STORE_HELP)

    assess = sub.add_parser(
        "assess", help="ageing-friendly (MIIT) and WCAG 2.2 assessment of the templates"
    )
    assess.add_argument("pages", nargs="*", metavar="PAGE", help="default: every template")
    assess.add_argument(
        "--format",
        choices=["md", "html", "json"],
        default="md",
        help="the report as Markdown, HTML or JSON (default md)",
    )
    assess.add_argument("--layouts", type=Path, default=None, help="default: layouts/")
    assess.add_argument("--components", type=Path, default=None, help="default: components/")

    bench = sub.add_parser("bench", help="run the load test and write a report")
    bench.add_argument(
        "bench_args",
        nargs=argparse.REMAINDER,
        help="the load test's own options (`uiserver bench --help` lists them)",
    )
    return parser


def _connection_options(serve: argparse.ArgumentParser) -> None:
    """Connection limits per worker (docs/DEPLOY.md "Connections an attacker holds open");
    None: the `UISERVER_*` variable, else the default in `uiserver/http/limits.py`."""
    limits = serve.add_argument_group("connection limits (per worker)")
    limits.add_argument(
        "--max-header-bytes",
        type=int,
        default=None,
        help="request line and headers, in bytes; more: 431 and closed (default 16384)",
    )
    limits.add_argument(
        "--max-headers",
        type=int,
        default=None,
        help="header fields per request; more: 431 (default 100, granian's most)",
    )
    limits.add_argument(
        "--header-timeout",
        type=float,
        default=None,
        help="seconds from connecting, or from the previous response, to a request's last "
        "header byte; later: closed (default 10)",
    )
    limits.add_argument(
        "--body-timeout",
        type=float,
        default=None,
        help="seconds allowed between two reads of a request body; longer: 408 and closed "
        "(default 10)",
    )
    limits.add_argument(
        "--keepalive-timeout",
        type=int,
        default=None,
        help="seconds an idle keep-alive connection is kept (uvicorn; default 5; granian: "
        "--header-timeout bounds it)",
    )
    limits.add_argument(
        "--max-connections",
        type=int,
        default=None,
        help="connections per worker (default 16384), never above the open-files limit less 64 "
        "(the soft limit is raised to the hard one first)",
    )
    limits.add_argument(
        "--backlog",
        type=int,
        default=None,
        help="connections the kernel queues before accept (default 2048; capped by somaxconn)",
    )


COMMANDS = ("serve", "token", "validate", "publish", "export", "assess", "bench")


def revoke_parser() -> argparse.ArgumentParser:
    """`uiserver token revoke (SUBJECT | --jti JTI)` (to mint a token for a user named
    `revoke`: `uiserver token -- revoke`)."""
    parser = argparse.ArgumentParser(
        prog="uiserver token revoke",
        description="revoke every token of a user or designer issued until now, or one token "
        "by its jti; every server on the store refuses them from its next request",
    )
    parser.add_argument("subject", nargs="?", default=None, help="the tokens' sub")
    parser.add_argument("--jti", default=None, help="the id of one token")
    parser.add_argument("--author", default=os.environ.get("USER", "cli"), help=AUTHOR_HELP)
    parser.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    parser.add_argument("--store", default=os.environ.get("UISERVER_STORE", ""), help=STORE_HELP)
    return parser


def _run(command: str, args: argparse.Namespace) -> int:
    module = importlib.import_module(f"uiserver.commands.{command}")
    return int(module.run(args))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        # argparse's REMAINDER drops leading options (`bench --users 20`): hand them over as is.
        return _run("bench", argparse.Namespace(command="bench", bench_args=argv[1:]))
    if argv[:2] == ["token", "revoke"]:
        revoke = revoke_parser().parse_args(argv[2:])
        revoke.data_dir = resolve_data_dir(revoke.data_dir)
        module = importlib.import_module("uiserver.commands.token")
        return int(module.revoke(revoke))
    args = build_parser().parse_args(argv)
    if getattr(args, "pages", None):
        # `assess home home`, `export home home`: each page once, in the order first named
        # (it was assessed, printed and counted, or exported, twice).
        args.pages = list(dict.fromkeys(args.pages))
    if getattr(args, "layouts", "unset") is None:
        args.layouts = default_layouts()
    if getattr(args, "to", "unset") is None:
        args.to = default_layouts()
    if getattr(args, "components", "unset") is None:
        args.components = default_components()
    if hasattr(args, "data_dir"):
        args.data_dir = resolve_data_dir(args.data_dir)
    missing = missing_directory(args)
    if missing:
        print(f"uiserver {args.command}: {missing}: no such directory", file=sys.stderr)
        return 2
    return _run(args.command, args)


def missing_directory(args: argparse.Namespace) -> str | None:
    """`--components DIR` (validate, publish, assess) or `--layouts DIR` (assess) naming
    nothing that exists, as `--option DIR`, else None. A catalogue directory that is not
    there was read as an empty catalogue: every component of every template was reported as
    an unknown type (111 problems for the shipped pages), never the mistyped path. `serve`
    checks its own (`commands.serve.preflight`)."""
    if args.command not in ("validate", "publish", "assess"):
        return None
    options = ("components", "layouts") if args.command == "assess" else ("components",)
    for option in options:
        path = getattr(args, option, None)
        # Nothing at all there: a link loop or a file so named is reported by the command.
        if isinstance(path, Path) and not path.exists() and not path.is_symlink():
            return f"--{option} {str(path)[:200]}"
    return None


if __name__ == "__main__":
    sys.exit(main())
