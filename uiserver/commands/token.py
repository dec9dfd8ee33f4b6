"""`uiserver token USER [--role] [--ttl]`: print a token signed with the server's secret."""

from __future__ import annotations

import argparse
import sys

from uiserver.auth import mint_token, resolve_secret


def run(args: argparse.Namespace) -> int:
    """Mint and print a JWT; 2 when `--ttl` is not positive. The secret is made on first use."""
    secret, _ = resolve_secret(args.data_dir, create=True)
    if args.ttl <= 0:
        print("uiserver token: --ttl must be positive", file=sys.stderr)
        return 2
    print(mint_token(secret, args.user, args.role, args.ttl))
    return 0
