"""`uiserver serve`: run uvicorn on the app factory with the chosen options.

Options travel to each worker through `UISERVER_*` variables, so `--workers N` processes all
build the same app. No JWT secret configured: one is made in the data dir on first run.

Behind a TLS proxy on another host, `--forwarded-allow-ips` (`UISERVER_FORWARDED_ALLOW_IPS`)
names the proxies whose `X-Forwarded-Proto`/`-For` uvicorn believes; only then does a request
that reached the proxy over https count as https (the console cookie's `Secure` flag depends on
it). uvicorn's default trusts 127.0.0.1 only. (uvicorn is the only server `serve` runs; a
granian option would need the same setting passed on.)
"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from uiserver.auth import resolve_secret


def run(args: argparse.Namespace) -> int:
    """Run uvicorn until it stops (0); the data dir and JWT secret are made when missing."""
    args.data_dir.mkdir(parents=True, exist_ok=True)
    secret, created = resolve_secret(args.data_dir, create=True)
    os.environ.update({
        "UISERVER_DATA_DIR": str(args.data_dir.resolve()),
        "UISERVER_LAYOUTS": str(args.layouts.resolve()),
        "UISERVER_COMPONENTS": str(args.components.resolve()),
        "UISERVER_STORE": args.store,
    })
    if created:
        print(
            f"uiserver: created a JWT secret in {args.data_dir / 'jwt-secret'}; mint a token with\n"
            f"  uiserver token USER --data-dir {args.data_dir}",
            file=sys.stderr,
        )
    del secret
    uvicorn.run(
        "uiserver.http.app:app_from_env",
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
        forwarded_allow_ips=args.forwarded_allow_ips,  # None: uvicorn's default, 127.0.0.1
    )
    return 0
