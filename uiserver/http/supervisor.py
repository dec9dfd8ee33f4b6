"""granian's supervisor for `uiserver serve`: a process started afresh that holds none of the app.

`uiserver serve --server granian` parses its options, makes the data dir and the JWT secret and
exports every setting the workers read (`UISERVER_*`), then replaces itself (`os.execv`, the
same pid, so signals and `die_with_server` are unchanged) with this module's `main` on SETTINGS,
the JSON object `settings` below (`serve.supervisor_command`: imported from the checkout `serve`
ran from, never from the working directory, and the workers' app likewise). This
module imports granian and the standard library only: the supervisor starts, watches and stops
the workers, and each worker imports the app itself (`uiserver.commands.serve:granian_rsgi_app`).

Why (issue 26, memory at 1,000,000 users): granian forks its workers from the supervisor and
keeps it running beside them, so before this the supervisor was `serve`'s own process with
every module `serve` had imported (the app, Starlette, the engine, httpx, prometheus_client):
48.6 MB RSS (35 MB of it its own, by `smaps_rollup` Pss) counted in the server's memory for a
process that serves nothing. Started afresh it is granian and Python alone.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

# The settings object's keys and their JSON types; anything else is refused (ValueError).
SETTINGS: dict[str, type | tuple[type, ...]] = {
    "target": str,
    "address": str,
    "port": int,
    "workers": int,
    "log_level": str,
    "log_dictconfig": (dict, type(None)),
    "backlog": int,
    "backpressure": int,
    "header_read_timeout_ms": int,
    "max_buffer_size": int,
}


def parse(text: str) -> dict[str, Any]:
    """The settings `serve` passed, checked: a JSON object with exactly the keys of `SETTINGS`,
    each of its type (bool is not an int here). Raises ValueError naming what is wrong."""
    try:
        settings = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"settings are not JSON: {exc}") from None
    if not isinstance(settings, dict):
        raise ValueError("settings must be a JSON object")
    missing = SETTINGS.keys() - settings.keys()
    extra = settings.keys() - SETTINGS.keys()
    if missing or extra:
        raise ValueError(f"settings: missing {sorted(missing)}, unknown {sorted(extra)}")
    for key, kind in SETTINGS.items():
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ValueError(f"settings: {key} has the wrong type ({type(value).__name__})")
    return settings


def serve(settings: dict[str, Any]) -> None:
    """Run granian's server with `settings` (`parse`d) until it stops: RSGI, HTTP/1.1 with
    keep-alive, uvloop, no websockets, no access log, the target as a factory."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    # The target loaded by `load_factory`, not granian's loader: that one puts the working
    # directory first on each worker's sys.path before importing the target, so a stray
    # `msgspec.py` or `redis/` there would have shadowed the app's own dependencies.
    Server(
        settings["target"],
        address=settings["address"],
        port=settings["port"],
        interface=Interfaces.RSGI,
        workers=settings["workers"],
        http=HTTPModes.http1,
        websockets=False,
        loop=Loops.uvloop,
        log_level=LogLevels(settings["log_level"]),
        log_access=False,
        log_dictconfig=settings["log_dictconfig"],
        factory=True,
        backlog=settings["backlog"],
        backpressure=settings["backpressure"],
        http1_settings=HTTP1Settings(
            header_read_timeout=settings["header_read_timeout_ms"],
            keep_alive=True,
            max_buffer_size=settings["max_buffer_size"],
        ),
    ).serve(target_loader=load_factory)


def load_factory(target: str) -> Any:
    """In a worker: `target` ("module:function") imported as `sys.path` stands (the supervisor's,
    without the working directory), and the function's result (the RSGI app). Raises
    ImportError or AttributeError for a target that is not there."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)()


def main(argv: list[str]) -> int:
    """`python -m uiserver.http.supervisor SETTINGS`: 0 when the server stops, 2 (and a
    message on stderr) for settings that are missing or malformed."""
    if len(argv) != 2:
        print("usage: python -m uiserver.http.supervisor SETTINGS_JSON", file=sys.stderr)
        return 2
    try:
        settings = parse(argv[1])
    except ValueError as exc:
        print(f"uiserver: {exc}", file=sys.stderr)
        return 2
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
