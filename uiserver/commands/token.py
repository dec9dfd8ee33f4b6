"""`uiserver token USER [--role] [--ttl] [--data-dir]`: print a token signed with the server's
secret, carrying `iat` and a random `jti`; `uiserver token revoke (SUBJECT | --jti JTI)
[--store] [--data-dir]`: revoke tokens (`auth.revocations`).

`--ttl` defaults to a day for users and to the designer maximum (12 h) for designers and admins,
and may not exceed the maximum lifetime the server accepts for the role
(`UISERVER_TOKEN_MAX_LIFETIME`, `UISERVER_DESIGNER_TOKEN_MAX_LIFETIME`): such a token would be
refused anyway.

The secret is found exactly as `uiserver serve` finds it: `UISERVER_JWT_SECRET`, else the
`jwt-secret` file in the data dir (`--data-dir`, else `UISERVER_DATA_DIR`, else `./.uiserver`,
resolved by `config.resolve_data_dir` for both commands). `token` never makes a secret: one
made here (another working directory, a typo in `--data-dir`) would sign tokens the server
refuses, so it stops with the fix instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from uiserver.audit.acts import revocation_details
from uiserver.audit.log import AuditLog
from uiserver.auth import SECRET_FILE, Lifetimes, default_ttl, mint_token, resolve_secret
from uiserver.auth.revocations import RevocationRefused, revocation
from uiserver.config import Config
from uiserver.files import resolved
from uiserver.store.base import Revocation, StoreUnavailable
from uiserver.store.factory import existing_store_problem, open_store
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
    config = Config()
    lifetimes = Lifetimes(config.token_max_lifetime, config.designer_token_max_lifetime)
    ttl = default_ttl(args.role, lifetimes) if args.ttl is None else args.ttl
    if ttl <= 0:
        return _fail("--ttl must be positive")
    if ttl > lifetimes.of(args.role):
        variable = (
            "UISERVER_DESIGNER_TOKEN_MAX_LIFETIME"
            if args.role != "user"
            else "UISERVER_TOKEN_MAX_LIFETIME"
        )
        return _fail(
            f"--ttl {ttl} is longer than the server accepts for role {args.role} "
            f"({lifetimes.of(args.role):.0f} s, {variable}); such a token would be refused"
        )
    secret, _ = resolve_secret(args.data_dir, create=False)
    if not secret:
        where = resolved(args.data_dir / SECRET_FILE)
        return _fail(
            f"no JWT secret: UISERVER_JWT_SECRET is not set and {where} does not exist (or is "
            "empty).\nA token must be signed with the secret the server uses, so none is made "
            "here. Fix: run this where `uiserver serve` runs, pass the server's data directory "
            "(--data-dir DIR or UISERVER_DATA_DIR=DIR; it holds jwt-secret), or set "
            "UISERVER_JWT_SECRET to the server's secret."
        )
    print(mint_token(secret, args.user, args.role, ttl))
    return 0


def revoke(args: argparse.Namespace) -> int:
    """`uiserver token revoke (SUBJECT | --jti JTI)`: store the revocation (the servers on the
    same store refuse the tokens from their next request) and print it as JSON; 2 and a message
    for a bad subject or jti, or no store to write to (`--store` not a store URL, or no SQLite
    database in `--data-dir`), 1 when the store cannot be reached."""
    config = Config()
    lifetimes = Lifetimes(config.token_max_lifetime, config.designer_token_max_lifetime)
    try:
        record = revocation(
            subject=args.subject,
            jti=args.jti,
            author=args.author,
            lifetimes=lifetimes,
            leeway=config.jwt_leeway,
            now=time.time(),
        )
    except RevocationRefused as exc:
        print(f"uiserver token revoke: {exc.message}", file=sys.stderr)
        return 2
    problem = existing_store_problem(args.store, args.data_dir)
    if problem:
        print(f"uiserver token revoke: {problem}", file=sys.stderr)
        return 2
    try:
        stored = asyncio.run(_store(args.store, args.data_dir, record))
    except StoreUnavailable as exc:
        print(f"uiserver token revoke: the store is unreachable: {exc}", file=sys.stderr)
        return 1
    shown = {"kind": stored.kind, stored.kind: stored.value, "not_before": stored.not_before}
    print(json.dumps({**shown, "expires": stored.expires}))
    return 0


async def _store(url: str, data_dir: Path, record: Revocation) -> Revocation:
    store = open_store(url, data_dir)
    await store.open()
    try:
        stored = await store.revocations.revoke(record)
        await AuditLog(store.audit).record(
            "token.revoke", record.author, details=revocation_details(stored)
        )
        return stored
    finally:
        await store.close()
