"""`uiserver token USER [--role] [--ttl] [--data-dir]`: print a token signed with the server's
secret.

The secret is found exactly as `uiserver serve` finds it: `UISERVER_JWT_SECRET`, else the
`jwt-secret` file in the data dir (`--data-dir`, else `UISERVER_DATA_DIR`, else `./.uiserver`,
resolved by `config.resolve_data_dir` for both commands). `token` never makes a secret: one
made here (another working directory, a typo in `--data-dir`) would sign tokens the server
refuses, so it stops with the fix instead.
"""

from __future__ import annotations

import argparse
import sys

from uiserver.auth import SECRET_FILE, mint_token, resolve_secret
from uiserver.users.ids import user_id_problem


def _fail(message: str) -> int:
    print(f"uiserver token: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Mint and print a JWT; 2 (and a message on stderr) for a bad user id, a `--ttl` that is
    not positive, or no secret to sign with."""
    problem = user_id_problem(args.user)
    if problem is not None:
        return _fail(f"{problem} (got {args.user!r})")
    if args.ttl <= 0:
        return _fail("--ttl must be positive")
    secret, _ = resolve_secret(args.data_dir, create=False)
    if not secret:
        where = (args.data_dir / SECRET_FILE).resolve()
        return _fail(
            f"no JWT secret: UISERVER_JWT_SECRET is not set and {where} does not exist (or is "
            "empty).\nA token must be signed with the secret the server uses, so none is made "
            "here. Fix: run this where `uiserver serve` runs, pass the server's data directory "
            "(--data-dir DIR or UISERVER_DATA_DIR=DIR; it holds jwt-secret), or set "
            "UISERVER_JWT_SECRET to the server's secret."
        )
    print(mint_token(secret, args.user, args.role, args.ttl))
    return 0
