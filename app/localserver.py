"""The real server as a child process on a free loopback port, for the browser tests, the
benchmarks and the README's screenshots: one way to start it, wait until it answers, and stop it.

No web imports: a test or a bench starts the server the way a user does, as another process.
"""
from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


class ServerDidNotStart(RuntimeError):
    """The child exited, or did not answer in time."""


def free_port(host: str = HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def answers(port: int, path: str = "/favicon.ico", host: str = HOST) -> bool:
    """Whether GET `path` on the port answers 200 (False while nothing listens yet)."""
    try:
        conn = http.client.HTTPConnection(host, port, timeout=1)
        try:
            conn.request("GET", path)
            return conn.getresponse().status == 200
        finally:
            conn.close()
    except OSError:
        return False


@contextmanager
def local_server(args: Sequence[str], env: dict[str, str] | None = None, cwd: Path | str = REPO,
                 ready_path: str = "/favicon.ico", timeout: float = 30.0, program: Sequence[str] = (),
                 **popen: Any) -> Iterator[tuple[subprocess.Popen, int]]:
    """`python ARGS --port PORT` (or `PROGRAM ARGS --port PORT`, say an installed console script)
    on a free loopback port, yielded once GET `ready_path` answers 200; terminated (then killed)
    afterwards. Raises ServerDidNotStart."""
    port = free_port()
    proc = subprocess.Popen([*(program or [sys.executable]), *args, "--port", str(port)], cwd=cwd, env=env, **popen)
    try:
        _wait_until(lambda: answers(port, ready_path), proc, timeout, "the server")
        yield proc, port
    finally:
        _stop(proc)


def memory_kb(pid: int, field: str = "VmRSS") -> int:
    """A process's resident memory now (VmRSS) or at its peak (VmHWM), in kB, from /proc; 0 when
    it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until(ready: Any, proc: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise ServerDidNotStart(f"{what} exited early with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise ServerDidNotStart(f"{what} did not answer within {timeout:g} s")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


REDIS_SERVER = "/usr/bin/redis-server"


def redis_answers(port: int, host: str = HOST) -> bool:
    """Whether a Redis server on the port answers PING (inline command, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def local_redis(timeout: float = 10.0) -> Iterator[str]:
    """Debian's redis-server on a free loopback port, in memory only (no snapshot, no AOF), yielded
    as its URL once it answers; stopped afterwards. Raises ServerDidNotStart (also when missing)."""
    if not Path(REDIS_SERVER).exists():
        raise ServerDidNotStart(f"{REDIS_SERVER} is missing: `make test` installs it (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
                             "--protected-mode", "yes", "--loglevel", "warning", "--maxclients", "10000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until(lambda: redis_answers(port), proc, timeout, "redis-server")
        yield f"redis://{HOST}:{port}/0"
    finally:
        _stop(proc)


@contextmanager
def slow_uploads(port: int, n: int, paths: Sequence[str], host: str = HOST) -> Iterator[list[socket.socket]]:
    """`n` connections that send the head of a POST (to each of `paths` in turn) announcing a
    400,000-byte body, then one byte a second on each, until the block ends (then closed): the
    slow-body attack of issue 19, for its test and its bench."""
    import resource
    import threading

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 512:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(4096, n + 512), hard), hard))
    held = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(f"POST {paths[i % len(paths)]} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: 400000\r\n\r\n{{".encode())
        held.append(s)
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(1.0):
            for s in held:
                try:
                    s.send(b" ")
                except OSError:  # closed by the server (refused, or cut at its deadline)
                    pass

    dripping = threading.Thread(target=drip, name="drip", daemon=True)
    dripping.start()
    try:
        yield held
    finally:
        stop.set()
        dripping.join(5)
        for s in held:
            s.close()
