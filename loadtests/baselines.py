"""Warm-up and the wrk baselines: uiserver warm GET and 304, the bare route, nginx.

The rules that make the ratios honest: the same requests file, the same wrk settings and the
same pinning for every target; the bare route and nginx return byte-for-byte the body uiserver
served to those clients; every target is probed first (status, body) and the uiserver runs are
cross-checked against its own counters, so a run that silently measured 401s or 200s-instead-
of-304s is reported, not ratioed.
"""

from __future__ import annotations

import asyncio
import gzip
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loadtests.facts import delta, scrape
from loadtests.population import CONTEXTS, Member
from loadtests.servers import Pinning, Proc, free_port, start_bare, start_nginx
from loadtests.wrkbench import WrkResult, run_wrk, write_requests, write_script

PAGE = "home"
Row = tuple[str, str, str]  # (path with query, token, etag)


@dataclass
class WarmSet:
    """The clients wrk replays: all got the same body (`body`, `etag`) from uiserver."""

    rows: list[Row]
    body: bytes
    etag: str
    warmed: int
    identical_share: float
    notes: list[str] = field(default_factory=list)


def path_of(member: Member) -> str:
    return f"/v1/layouts/{PAGE}?{member.query}"


# What the warm-up's launches ask for: gzip, the encoding the server picks for clients that
# accept it (the mini-program SDK's and locust's requests do), so the ETag a member keeps is the
# one its next launch sends.
WARM_ACCEPT_ENCODING = "gzip, deflate, br"


@dataclass
class Answer:
    """One response of the warm-up's launches: status, headers (lower-case names) and the
    body as the client reads it (gzip decoded)."""

    status_code: int
    headers: dict[str, str]
    content: bytes


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    """One HTTP/1.1 response off a keep-alive connection (Content-Length or chunked)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size + 2))
        await reader.readuntil(b"\r\n")  # no trailers are sent
        body = b"".join(part[:-2] for part in parts)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return Answer(status, headers, body)


async def _fetch_all(
    base_url: str, members: Sequence[Member], concurrency: int = 32
) -> dict[int, Answer]:
    """GET home for each member (by position), as the client's launch "yesterday": over
    `concurrency` keep-alive connections with a minimal HTTP/1.1 client (httpx spent ~3.5 ms
    of the load core per launch here: 10 s for the default run's 2,765)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        pages = (await client.get("/readyz")).json()["templates"]
        for page in pages:  # compile and cache every page's base layout
            (await client.get(f"/v1/layouts/{page}")).raise_for_status()
    host, _, port = base_url.removeprefix("http://").partition(":")
    results: dict[int, Answer] = {}
    pending = iter(enumerate(members))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for index, member in pending:
                writer.write(
                    f"GET {path_of(member)} HTTP/1.1\r\nHost: {host}\r\n"
                    f"Accept-Encoding: {WARM_ACCEPT_ENCODING}\r\n"
                    f"Authorization: Bearer {member.token}\r\n\r\n".encode()
                )
                results[index] = answer = await _read_answer(reader)
                if answer.headers.get("connection", "").lower() == "close":
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
        finally:
            writer.close()

    # A server that stops answering fails the warm-up instead of hanging it.
    await asyncio.wait_for(
        asyncio.gather(*(connection() for _ in range(concurrency))),
        timeout=60 + len(members) / 100,
    )
    return results


def warm_up(base_url: str, members: list[Member], hot: int, clients: int) -> WarmSet:
    """Launch the daily-active slice and wrk's clients once: their clients now hold an ETag
    (the population file carries it to locust), and their layouts are in the server's caches.

    wrk's clients are default-persona members on the most common context without history:
    they all get the same layout, which is what the bare route and nginx will return.
    """
    reference = CONTEXTS[0][0]
    candidates = [
        i
        for i, m in enumerate(members)
        if m.persona == "default" and m.query == reference and not m.clicks
    ][:clients]
    chosen = sorted(set(range(min(hot, len(members)))) | set(candidates))
    responses = asyncio.run(_fetch_all(base_url, [members[i] for i in chosen]))
    by_member = {chosen[pos]: r for pos, r in responses.items()}
    notes = []
    bad = Counter(r.status_code for r in by_member.values() if r.status_code != 200)
    if bad:  # a server bug, not a reason to stop: locust will count these as failures too
        notes.append(
            f"WARNING: {sum(bad.values())} of {len(by_member)} warm-up launches "
            f"failed, statuses {dict(bad)} (see server.log)"
        )
    for index, response in by_member.items():
        if response.status_code == 200:
            members[index].etag = response.headers["etag"]
    candidates = [i for i in candidates if by_member[i].status_code == 200]
    bodies = Counter(by_member[i].content for i in candidates)
    if not bodies:
        raise RuntimeError("warm-up: no default-persona client to replay; grow --population")
    body, count = bodies.most_common(1)[0]
    rows = [
        (path_of(members[i]), members[i].token, "")
        for i in candidates
        if by_member[i].content == body
    ]
    etag = next(by_member[i].headers["etag"] for i in candidates if by_member[i].content == body)
    if count < len(candidates):
        notes.append(
            f"{len(candidates) - count} of {len(candidates)} reference clients got "
            "another body (an A/B variant or exploration); they are left out of the "
            "wrk replay"
        )
    return WarmSet(rows, body, etag, len(chosen), count / len(candidates), notes)


def with_etag(rows: Sequence[Row], etag: str) -> list[Row]:
    """The same requests, each carrying `If-None-Match: etag`."""
    return [(path, token, etag) for path, token, _ in rows]


@dataclass
class Target:
    """One wrk target: where, which requests, and what a correct answer is."""

    name: str
    server: str  # uiserver, bare or nginx
    base_url: str
    rows: list[Row]
    status: int
    body: bytes | None = None


@dataclass
class Measurer:
    """Runs every target with the same wrk settings and pinning, in interleaved rounds.

    A shared machine drifts (other tenants, frequency scaling), so targets are measured in
    rounds, in a rotating order, and the ratios are taken per round (paired) before the median:
    a slow minute then hurts both sides of a ratio instead of one. Each server gets one
    discarded `warmup` run (of its first target) before its first measured run: its 200 and
    304 targets are the same process, and a warm-up per target added 3 s to a default run.
    """

    out: Path
    pin: Pinning
    threads: int
    connections: int
    duration: str
    warmup: str | None
    progress: Callable[[str], None]
    checks: list[str] = field(default_factory=list)

    def script(self, target: Target) -> Path:
        folder = self.out / "wrk"
        folder.mkdir(exist_ok=True)
        requests = folder / f"{target.name}.tsv"
        write_requests(requests, target.rows)
        return write_script(folder / f"{target.name}.lua", requests)

    def wrk(self, name: str, base_url: str, script: Path, duration: str) -> WrkResult:
        return run_wrk(
            name,
            base_url,
            script,
            threads=self.threads,
            connections=self.connections,
            duration=duration,
            pin=self.pin,
            log=self.out / "wrk" / "wrk.log",
        )

    def probe(self, target: Target) -> httpx.Response:
        """One request exactly as wrk will send it: must give the target's status and body."""
        path, token, etag = target.rows[0]
        headers = {"Accept-Encoding": "identity"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if etag:
            headers["If-None-Match"] = etag
        response = httpx.get(target.base_url + path, headers=headers, timeout=10)
        if response.status_code != target.status or (
            target.body is not None and response.content != target.body
        ):
            raise RuntimeError(
                f"{target.name}: probe got {response.status_code} "
                f"({len(response.content)} bytes), expected {target.status}"
            )
        return response

    def rounds(
        self, targets: list[Target], rounds: int, uiserver_url: str, workers: int
    ) -> dict[str, list[WrkResult]]:
        for target in targets:
            self.probe(target)
        results: dict[str, list[WrkResult]] = {t.name: [] for t in targets}
        scripts = {t.name: self.script(t) for t in targets}
        warmed: set[str] = set()
        for number in range(rounds):
            shift = number % len(targets)
            for target in targets[shift:] + targets[:shift]:
                script = scripts[target.name]
                if self.warmup and target.server not in warmed:  # once per server
                    self.wrk(f"{target.name} warm-up", target.base_url, script, self.warmup)
                    warmed.add(target.server)
                before = scrape(uiserver_url) if target.server == "uiserver" else None
                result = self.wrk(target.name, target.base_url, script, self.duration)
                if result.failed:
                    self.checks.append(
                        f"{target.name}: wrk counted {result.failed} errors or non-2xx/3xx answers"
                    )
                if before is not None:
                    self._cross_check(target, result, delta(before, scrape(uiserver_url)), workers)
                results[target.name].append(result)
                self.progress(
                    f"  round {number + 1}/{rounds} {target.name}: "
                    f"{result.rps:,.0f} req/s, p99 {result.p99_ms:.2f} ms, "
                    f"errors {result.failed}"
                )
        return results

    def _cross_check(
        self, target: Target, result: WrkResult, change: dict[str, float], workers: int
    ) -> None:
        """The server's own counters must agree with what wrk thinks it measured."""
        if target.status == 304:
            counted, what = change["not_modified"], "304s"
        else:
            counted, what = change["hits"], "cache hits"
        note = (
            f"{target.name}: server counted {counted:,.0f} {what} and "
            f"{change['misses']:,.0f} cache misses for {result.requests:,} requests"
        )
        if workers == 1 and counted < 0.99 * result.requests:
            note = "WARNING: " + note + " (the run did not measure what it says)"
        self.checks.append(note)


def uiserver_targets(base_url: str, warm: WarmSet) -> list[Target]:
    return [
        Target("uiserver_get", "uiserver", base_url, warm.rows, 200, warm.body),
        Target("uiserver_304", "uiserver", base_url, with_etag(warm.rows, warm.etag), 304),
    ]


def start_baselines(
    out: Path,
    pin: Pinning,
    warm: WarmSet,
    workers: int,
    checks: list[str],
    server: str = "uvicorn",
) -> tuple[list[Proc], list[Target]]:
    """The bare route (on `server`, the one uiserver runs on) and nginx, up beside uiserver on
    the server core (idle until driven)."""
    body_file = out / "wrk" / "layout.json"
    body_file.parent.mkdir(exist_ok=True)
    body_file.write_bytes(warm.body)
    procs: list[Proc] = []
    port = free_port()
    procs.append(start_bare(body_file, warm.etag, port, workers, pin, out / "bare.log", server))
    bare = f"http://127.0.0.1:{port}"
    targets = [
        Target("bare_get", "bare", bare, warm.rows, 200, warm.body),
        Target("bare_304", "bare", bare, with_etag(warm.rows, warm.etag), 304),
    ]
    port = free_port()
    nginx = start_nginx(warm.body, f"/v1/layouts/{PAGE}", port, workers, pin, out / "nginx.log")
    if nginx is None:
        checks.append("nginx is not installed: no physical-limit baseline")
        return procs, targets
    procs.append(nginx)
    base_url = f"http://127.0.0.1:{port}"
    etag = httpx.get(base_url + warm.rows[0][0], timeout=10).headers["etag"]
    targets += [
        Target("nginx_get", "nginx", base_url, warm.rows, 200, warm.body),
        Target("nginx_304", "nginx", base_url, with_etag(warm.rows, etag), 304),
    ]
    return procs, targets


def summarize(results: dict[str, list[WrkResult]]) -> dict[str, dict[str, Any]]:
    """Per target: the median round (by req/s) in full, and every round's req/s."""
    summary = {}
    for name, runs in results.items():
        ordered = sorted(runs, key=lambda r: r.rps)
        median = ordered[len(ordered) // 2]
        summary[name] = {
            **median.as_dict(),
            "failed": sum(r.failed for r in runs),
            "rounds_rps": [r.rps for r in runs],
        }
    return summary


def paired_ratio(
    results: dict[str, list[WrkResult]], top: str, bottom: str
) -> dict[str, float] | None:
    """Median, min and max over rounds of top/bottom measured in the same round."""
    if top not in results or bottom not in results:
        return None
    ratios = sorted(
        a.rps / b.rps for a, b in zip(results[top], results[bottom], strict=True) if b.rps
    )
    if not ratios:
        return None
    return {"median": ratios[len(ratios) // 2], "min": ratios[0], "max": ratios[-1]}
