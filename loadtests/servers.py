"""The processes a benchmark run starts: uiserver, the bare Starlette route, nginx.

Each runs as a real process in its own session, pinned to the server core when pinning is on,
and is stopped by its own pid (and process group: uvicorn's workers are its children).

However a run ends, nothing it started outlives it: every `Proc` is registered until stopped,
`stop_all` (run at exit, and by the runner's `finally` and signal handlers) stops the rest, and
each child asks the kernel for SIGTERM when the runner dies (`PR_SET_PDEATHSIG`, Linux), which
covers a runner killed with SIGKILL too. `record_processes(path)` makes every start append a
line (pid, name, command) to a file, so a test or an operator can check afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from uiserver.http.limits import ConnectionLimits

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Pinning:
    """Which CPUs the server and the load generator run on (`taskset -c` lists), if pinned."""

    host_cpu: str | None
    load_cpu: str | None
    why_not: str = ""

    def host(self, argv: list[str]) -> list[str]:
        return ["taskset", "-c", self.host_cpu, *argv] if self.host_cpu else argv

    def load(self, argv: list[str]) -> list[str]:
        return ["taskset", "-c", self.load_cpu, *argv] if self.load_cpu else argv

    def describe(self) -> str:
        if not self.host_cpu:
            return f"not pinned ({self.why_not}); server and load generator share all cores"
        return (
            f"server on CPU {self.host_cpu}, load generator on CPU {self.load_cpu} (`taskset -c`)"
        )


def choose_pinning(host_cpu: str, load_cpu: str, enabled: bool = True) -> Pinning:
    """Pin when asked, `taskset` exists and there is more than one core to split."""
    if not enabled:
        return Pinning(None, None, "--no-pin")
    if shutil.which("taskset") is None:
        return Pinning(None, None, "taskset not installed")
    if (os.cpu_count() or 1) < 2:
        return Pinning(None, None, "one core only")
    return Pinning(host_cpu, load_cpu)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_RUNNING: dict[int, Proc] = {}  # pid -> every started Proc not yet stopped
_RECORD: list[Path] = []  # where starts are recorded (`record_processes`)
PR_SET_PDEATHSIG = 1
_LIBC: ctypes.CDLL | None = None
if sys.platform == "linux":
    _LIBC = ctypes.CDLL(None, use_errno=True)


def record_processes(path: Path | None) -> None:
    """Append one line per process started from now on to `path` (None: stop recording)."""
    _RECORD.clear()
    if path is not None:
        _RECORD.append(path)


def die_with_parent(parent: int | None = None) -> Callable[[], None]:
    """A `preexec_fn`: the child gets SIGTERM when the process that started it dies, even by
    SIGKILL (Linux `prctl(PR_SET_PDEATHSIG)`; elsewhere a no-op). If that parent already
    died between fork and here, the child exits at once."""
    parent = os.getpid() if parent is None else parent

    def arrange() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return arrange


def stop_all() -> list[str]:
    """Stop every process started and not yet stopped, newest first; their names."""
    stopped = []
    for proc in reversed(list(_RUNNING.values())):
        proc.stop(timeout=10.0)
        stopped.append(proc.name)
    return stopped


atexit.register(stop_all)


class Proc:
    """A started process with its log file; `stop()` is idempotent. Registered until stopped
    (`stop_all`), and stopped by the kernel if the runner dies (`die_with_parent`)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
        cleanup: Path | None = None,
    ) -> None:
        self.name = name
        self.cleanup = cleanup
        self.argv = argv
        self.log = log
        self._log = log.open("ab")
        self.popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        _RUNNING[self.popen.pid] = self
        for record in _RECORD:
            with record.open("a") as handle:
                handle.write(f"{self.popen.pid}\t{name}\t{' '.join(argv)}\n")

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> None:
        """Ask politely (SIGINT/SIGQUIT), then SIGKILL our own process group."""
        if self.alive():
            self._signal_group(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout=5)
        _RUNNING.pop(self.popen.pid, None)
        self._log.close()
        if self.cleanup is not None:
            shutil.rmtree(self.cleanup, ignore_errors=True)

    def _signal_group(self, sig: int) -> None:
        # The group we created (start_new_session): pgid == pid, nobody else's processes.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_until(url: str, proc: Proc, timeout: float = 60.0, status: int = 200) -> None:
    """Poll `url` until it answers `status`; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
        try:
            if httpx.get(url, timeout=2.0).status_code == status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{proc.name}: {url} not ready within {timeout:.0f}s:\n{proc.tail()}")


def started(proc: Proc, url: str, timeout: float = 60.0) -> Proc:
    """`proc` once `url` answers 200; stopped (not leaked) if it never does."""
    try:
        wait_until(url, proc, timeout)
    except BaseException:
        proc.stop()
        raise
    return proc


def server_env(secret: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without the caller's UISERVER_* settings, plus the run's secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    env["UISERVER_JWT_SECRET"] = secret
    # The server imports the checkout beside loadtests/, not whatever is pip-installed.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra or {})
    return env


def start_uiserver(
    data_dir: Path,
    port: int,
    workers: int,
    pin: Pinning,
    log: Path,
    env: dict[str, str],
    server: str = "uvicorn",
    *,
    wait: bool = True,
) -> Proc:
    """`uiserver serve --server SERVER` exactly as an operator runs it (the CLI, a real
    process): uvicorn (ASGI) or granian (its RSGI interface, `uiserver/http/rsgi.py`). Returned
    once `/readyz` answers 200; at once with `wait=False` (then `started(proc, url)`)."""
    argv = [
        sys.executable,
        "-m",
        "uiserver.cli",
        "serve",
        "--server",
        server,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--workers",
        str(workers),
        "--layouts",
        str(ROOT / "layouts"),
        "--components",
        str(ROOT / "components"),
        "--log-level",
        "warning",
    ]
    proc = Proc("uiserver", pin.host(argv), log, env=env)
    return started(proc, f"http://127.0.0.1:{port}/readyz") if wait else proc


def uvicorn_options(port: int, workers: int) -> list[str]:
    """The uvicorn settings `uiserver serve` uses (uiserver/commands/serve.py): auto loop and http
    (uvloop, httptools), no access log, no server header, date header on."""
    options = [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--no-server-header",
        "--log-level",
        "warning",
    ]
    if workers > 1:
        options += ["--workers", str(workers)]
    return options


def start_bare(
    body_file: Path,
    etag: str,
    port: int,
    workers: int,
    pin: Pinning,
    log: Path,
    server: str = "uvicorn",
) -> Proc:
    """The ceiling: one Starlette route returning the same bytes, on `server` (uvicorn with
    `uiserver serve`'s settings, or granian's ASGI interface with its `granian_options`)."""
    if server == "granian":
        return start_granian(
            "bare",
            "bare_app:app",
            "asgi",
            port,
            workers,
            pin,
            log,
            {**os.environ, "BARE_BODY_FILE": str(body_file), "BARE_ETAG": etag},
            "/v1/layouts/home",
        )
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bare_app:app",
        "--app-dir",
        str(HERE),
        *uvicorn_options(port, workers),
    ]
    env = {**os.environ, "BARE_BODY_FILE": str(body_file), "BARE_ETAG": etag}
    proc = Proc("bare", pin.host(argv), log, env=env)
    return started(proc, f"http://127.0.0.1:{port}/v1/layouts/home")


def start_raw_uvicorn(
    body_file: Path, etag: str, port: int, workers: int, pin: Pinning, log: Path
) -> Proc:
    """A raw ASGI app (no framework) returning the same bytes, same uvicorn settings."""
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "raw_app:app",
        "--app-dir",
        str(HERE),
        *uvicorn_options(port, workers),
    ]
    env = {**os.environ, "BARE_BODY_FILE": str(body_file), "BARE_ETAG": etag}
    proc = Proc("raw-uvicorn", pin.host(argv), log, env=env)
    return started(proc, f"http://127.0.0.1:{port}/v1/layouts/home")


# How granian runs in every rung: HTTP/1 only (like uvicorn), uvloop, no access log, and the
# connection limits `uiserver serve` gives it (uiserver/http/limits.py defaults).
def granian_options(port: int, workers: int) -> list[str]:
    limits = ConnectionLimits()
    return [
        "--backlog",
        str(limits.backlog),
        "--backpressure",
        str(limits.connections()),
        "--http1-header-read-timeout",
        str(round(limits.header_timeout * 1000)),
        "--http1-buffer-size",
        str(max(8192, limits.max_header_bytes)),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(max(1, workers)),
        "--http",
        "1",
        "--no-ws",
        "--loop",
        "uvloop",
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def start_granian(
    name: str,
    target: str,
    interface: str,
    port: int,
    workers: int,
    pin: Pinning,
    log: Path,
    env: dict[str, str],
    ready_path: str,
    factory: bool = False,
) -> Proc:
    """`granian --interface asgi|rsgi [--factory] TARGET` as a real process (its workers are
    children in its process group), ready once `ready_path` answers 200."""
    argv = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        interface,
        *granian_options(port, workers),
        "--working-dir",
        str(HERE),
        *(["--factory"] if factory else []),
        target,
    ]
    env = {
        **env,
        "PYTHONPATH": os.pathsep.join(
            [str(HERE), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
        ),
    }
    proc = Proc(name, pin.host(argv), log, env=env)
    return started(proc, f"http://127.0.0.1:{port}{ready_path}")


# The ASGI app factory `uiserver serve` hands uvicorn (it reads the UISERVER_* variables).
UISERVER_FACTORY = "uiserver.http.app:app_from_env"


def start_uiserver_granian(
    data_dir: Path,
    port: int,
    workers: int,
    pin: Pinning,
    log: Path,
    env: dict[str, str],
    store: str = "",
) -> Proc:
    """uiserver's own app factory on granian's ASGI interface (what `uiserver serve --server
    granian` ran before it moved to RSGI: the ladder's `granian-asgi`)."""
    env = {
        **env,
        "UISERVER_DATA_DIR": str(data_dir.resolve()),
        "UISERVER_LAYOUTS": str(ROOT / "layouts"),
        "UISERVER_COMPONENTS": str(ROOT / "components"),
        "UISERVER_STORE": store,
    }
    return start_granian(
        "uiserver-granian",
        UISERVER_FACTORY,
        "asgi",
        port,
        workers,
        pin,
        log,
        env,
        "/readyz",
        factory=True,
    )


def start_redis(
    directory: Path, pin: Pinning | None = None, extra: list[str] | None = None
) -> tuple[Proc, str]:
    """A private redis-server (no persistence) on a free port; (process, redis:// url).
    `extra`: more redis-server options (cluster mode)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    import redis

    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
        "--protected-mode",
        "no",
        *(extra or []),
    ]
    proc = Proc("redis", pin.host(argv) if pin else argv, directory / "redis.log")
    client = redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                if client.ping():
                    break
            except redis.RedisError:
                if time.monotonic() > deadline or not proc.alive():
                    proc.stop()
                    raise RuntimeError(f"redis-server did not start:\n{proc.tail()}") from None
                time.sleep(0.05)
    finally:
        client.close()
    return proc, f"redis://127.0.0.1:{port}/0"


def start_redis_cluster(
    directory: Path, pin: Pinning | None = None, primaries: int = 3
) -> tuple[list[Proc], str]:
    """A private Redis Cluster of `primaries` redis-servers (no replicas, no persistence),
    created with `redis-cli --cluster create` and waited for until every node says
    cluster_state:ok; (processes, redis-cluster:// url). The cluster bus of each node on a
    free port of its own (the default, port + 10000, may be out of range)."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise SystemExit("redis-cli is not installed (apt-get install redis-tools)")
    procs: list[Proc] = []
    ports: list[int] = []
    try:
        for i in range(primaries):
            node = directory / f"node-{i}"
            bus = ["--cluster-port", str(free_port()), "--cluster-enabled", "yes"]
            config = ["--cluster-config-file", str(node / "nodes.conf")]
            proc, url = start_redis(node, pin, [*bus, *config])
            procs.append(proc)
            ports.append(int(url.rsplit(":", 1)[1].split("/")[0]))
        nodes = [f"127.0.0.1:{port}" for port in ports]
        argv = [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while not all(_cluster_ok(port) for port in ports):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.1)
    except BaseException:
        for proc in reversed(procs):
            proc.stop()
        raise
    return procs, "redis-cluster://" + ",".join(nodes)


def _cluster_ok(port: int) -> bool:
    """Whether the cluster node on `port` has every slot assigned and says ok."""
    import redis

    try:
        with redis.Redis(port=port, socket_timeout=1.0, decode_responses=True) as client:
            info = dict(client.execute_command("CLUSTER INFO"))
    except redis.RedisError:
        return False
    return bool(info.get("cluster_state") == "ok" and str(info.get("cluster_slots_ok")) == "16384")


NGINX_CONF = """\
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type application/json;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=64;
    keepalive_requests 10000000;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        etag on;
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def start_nginx(
    body: bytes, page_path: str, port: int, workers: int, pin: Pinning, log: Path
) -> Proc | None:
    """The physical limit: nginx serving the same JSON as a static file. None if absent.

    Its files live in a fresh world-readable directory under /tmp, because nginx's workers run
    as `nobody` when started by root and cannot enter a private output folder.
    """
    binary = nginx_binary()
    if binary is None:
        return None
    tmp = Path(tempfile.mkdtemp(prefix="uiserver-nginx-"))
    target = tmp / "www" / page_path.lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_bytes(body)
    target.chmod(0o644)
    directory = target.parent
    while True:
        directory.chmod(0o755)
        if directory == tmp:
            break
        directory = directory.parent
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=max(1, workers), tmp=tmp, port=port))
    proc = Proc("nginx", pin.host([binary, "-p", str(tmp), "-c", str(conf)]), log, cleanup=tmp)
    return started(proc, f"http://127.0.0.1:{port}{page_path}")


PROC = Path("/proc")


def process_tree(pid: int, proc: Path = PROC) -> list[int]:
    """`pid` and all its descendants (uvicorn's supervisor and its workers); `proc` is where
    procfs is mounted."""
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def rss_bytes(pid: int) -> int:
    """VmRSS summed over the process tree (the taskset wrapper execs, so pid is the server)."""
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def memory_by_process(pid: int) -> list[dict[str, float]]:
    """Per process of the tree, MB (2**20 bytes): `rss` (VmRSS: pages shared with another
    process, e.g. a forked worker's with its supervisor, counted in each) and `pss` (Linux
    `smaps_rollup` Pss: shared pages divided among their sharers, so the tree's Pss adds up to
    what it takes from the machine). A process that exits meanwhile is left out."""
    out = []
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue
        out.append(
            {
                "pid": member,
                "rss": _kb_field(status, "VmRSS:") / 1024,
                "pss": _kb_field(rollup, "Pss:") / 1024,
            }
        )
    return out


def _kb_field(text: str, name: str) -> int:
    for line in text.splitlines():
        if line.startswith(name):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process tree so far (live processes only)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
    return total / tick


@dataclass(frozen=True)
class ThreadCPU:
    """CPU seconds of a process tree so far, split by kind of thread: `main`, each process's
    main thread (a Python server's event loop: where its Python code runs), and `other`, every
    other thread (granian's Rust threads: its HTTP I/O runtime and the thread that hands each
    request to the loop). user and system time, from /proc/PID/task/TID/stat."""

    main_user: float
    main_system: float
    other_user: float
    other_system: float

    @property
    def main(self) -> float:
        return self.main_user + self.main_system

    @property
    def other(self) -> float:
        return self.other_user + self.other_system

    @property
    def total(self) -> float:
        return self.main + self.other

    def __sub__(self, earlier: ThreadCPU) -> ThreadCPU:
        return ThreadCPU(
            self.main_user - earlier.main_user,
            self.main_system - earlier.main_system,
            self.other_user - earlier.other_user,
            self.other_system - earlier.other_system,
        )


def thread_cpu(pid: int, proc: Path = PROC) -> ThreadCPU:
    """`ThreadCPU` of `pid`'s process tree (live processes and threads only; a thread that
    ended since an earlier reading takes its time with it)."""
    tick = os.sysconf("SC_CLK_TCK")
    ticks = [0, 0, 0, 0]  # main user, main system, other user, other system
    for member in process_tree(pid, proc):
        try:
            tasks = list((proc / str(member) / "task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            at = 0 if task.name == str(member) else 2
            ticks[at] += int(fields[11])  # utime (stat field 14)
            ticks[at + 1] += int(fields[12])  # stime (field 15)
    return ThreadCPU(*(n / tick for n in ticks))
