"""What the benchmarks share: a database of their own and a free port (not a benchmark:
`make bench` skips files starting with an underscore)."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def add_database_argument(parser: argparse.ArgumentParser, flag: str = "--database-url") -> None:
    parser.add_argument(
        flag,
        default=ADMIN_URL,
        help="an existing database to connect to; the benchmark creates its own beside it",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def fresh_database(admin_url: str, name: str) -> Iterator[str]:
    """Create database `name` beside `admin_url` (dropping a leftover), yield its URL, drop it."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if "django.db" in sys.modules:  # a benchmark that ran Django in this process
            from django.db import connections

            connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


MIDDLEWARE_GOAL = 1.5  # the portal's middleware at most 1.5 times Django's default


def middleware_cost(rounds: int = 400) -> dict[str, float]:
    """Time one trivial view in process under the portal's middleware and under Django's
    default middleware (interleaved rounds, medians in ms); Django must be set up.

    Each benchmark prints it, so the cost of the portal's own middleware stays visible.
    """
    import statistics
    import time

    from django.test import Client
    from django.test.utils import override_settings

    from bench._settings import DJANGO_DEFAULT_MIDDLEWARE

    with override_settings(
        ROOT_URLCONF="bench._urls", SECURE_SSL_REDIRECT=False, ALLOWED_HOSTS=["testserver"]
    ):
        portal = Client()
        portal.get("/bench/trivial/")  # builds its middleware chain now
        with override_settings(MIDDLEWARE=DJANGO_DEFAULT_MIDDLEWARE):
            default = Client()
            default.get("/bench/default/trivial/")
        times: dict[str, list[float]] = {"portal": [], "default": []}
        for _ in range(rounds):
            for name, client, path in (
                ("portal", portal, "/bench/trivial/"),
                ("default", default, "/bench/default/trivial/"),
            ):
                started = time.perf_counter()
                answer = client.get(path)
                times[name].append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path} answered {answer.status_code}")
    portal_ms = statistics.median(times["portal"]) * 1000
    default_ms = statistics.median(times["default"]) * 1000
    return {"portal_ms": portal_ms, "default_ms": default_ms, "ratio": portal_ms / default_ms}


def print_goals(rows: list[tuple[str, float, str, float]]) -> bool:
    """Print each figure beside its goal; return whether one was missed."""
    missed = False
    for label, value, op, goal in rows:
        ok = {">=": value >= goal, "<=": value <= goal, "<": value < goal, "==": value == goal}[op]
        missed |= not ok
        print(f"  {label:<46} {value:>9.2f}   goal {op} {goal:<6} {'ok' if ok else 'MISSED'}")
    return missed


@contextmanager
def private_redis() -> Iterator[str]:
    """A redis-server of the benchmark's own (free port, no persistence); yield its URL.

    A benchmark never flushes or loads the machine's Redis.
    """
    import shutil
    import subprocess
    import tempfile
    import time

    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is needed: apt-get install redis-server")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as folder:
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", folder]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    redis.Redis.from_url(url).ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)


# -- where the time goes: CPU per process group, and Python profiles ------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None  # the process ended meanwhile
    # The command name is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def cpu_of(pids: Iterator[int] | list[int]) -> dict[int, float]:
    """CPU seconds (user + system, every thread) each live process has used so far."""
    used = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:  # fields[11], [12]: utime, stime (stat(5), from field 3 on)
            used[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return used


def process_group(pgid: int) -> list[int]:
    """Every process in the group (a worker started in its own session and its children)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(entry)
            if fields is not None and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def processes_named(name: str) -> list[int]:
    """Every process whose command name is `name` (all of a server's processes: its
    backends and its background writers)."""
    named = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == name:
                        named.append(int(entry))
            except OSError:
                continue
    return named


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as stat:
        # user nice system idle iowait irq softirq steal (guest time is within user).
        values = [int(v) for v in stat.readline().split()[1:9]]
    busy = values[0] + values[1] + values[2] + values[5] + values[6]
    return busy / CLOCK_TICKS, sum(values) / CLOCK_TICKS


class CpuMeter:
    """CPU used by named groups of processes between `start()` and `stop()`, and the
    share of the whole machine's CPU that was busy meanwhile (`busy_share`).

    `groups` maps a name to a callable listing the group's pids; a process that appears
    meanwhile counts from zero, one that ends meanwhile loses what it used since start.
    """

    def __init__(self, groups: dict[str, Any]) -> None:
        self.groups = groups

    def start(self) -> None:
        self.before = {name: cpu_of(list_pids()) for name, list_pids in self.groups.items()}
        self.machine_before = machine_busy()

    def stop(self) -> dict[str, float]:
        used = {}
        for name, list_pids in self.groups.items():
            now = cpu_of(list_pids())
            used[name] = sum(t - self.before[name].get(pid, 0.0) for pid, t in now.items())
        busy, total = machine_busy()
        busy_before, total_before = self.machine_before
        self.busy_share = (busy - busy_before) / max(total - total_before, 1e-9)
        # What the whole machine used beyond the groups: the benchmark itself, the kernel
        # (the network between the processes), everything else running.
        used["rest of the machine"] = max(busy - busy_before - sum(used.values()), 0.0)
        return used


# Functions whose own time is waiting for another process (BVNK, PostgreSQL), not CPU:
# socket reads, and psycopg's wait for the server's answer.
WAITING = ("recv_into", "'connect' of", "poll' of", "select' of", "sendall", "psycopg/waiting.py")


def _waits(name: str) -> bool:
    return any(mark in name for mark in WAITING) or (
        name.startswith("psycopg/connection.py") and name.endswith("(wait)")
    )


def print_profile(
    profiler: Any, *, per: int, label: str, lines: int = 14, ours: str = "customers/"
) -> dict[str, Any]:
    """Print a cProfile's functions by own time per unit of work (waiting apart), then the
    project's own functions (paths under `ours`) by cumulative time; return the rows."""
    import pstats

    stats = pstats.Stats(profiler)
    rows, waiting = [], 0.0
    for (path, line, function), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = path.split("site-packages/")[-1].split(str(ROOT) + "/")[-1]
        name = f"{where}:{line}({function})"
        if _waits(name):
            waiting += own
        else:
            rows.append((own, cumulative, calls, name))
    rows.sort(reverse=True)
    working = sum(row[0] for row in rows)
    calls = sum(row[2] for row in rows)
    print(
        f"\n  {label}: {waiting / per * 1000:.1f} ms waiting on BVNK or PostgreSQL, "
        f"{working / per * 1000:.1f} ms in {calls / per:,.0f} Python calls (profiler overhead "
        "included); by own time:"
    )
    for own, cumulative, count, name in rows[:lines]:
        print(
            f"    {own / per * 1000:7.2f} ms own {cumulative / per * 1000:8.2f} ms cum "
            f"{count / per:8.1f} calls  {name}"
        )
    own_code = sorted(
        ((cum, own, count, name) for own, cum, count, name in rows if name.startswith(ours)),
        reverse=True,
    )
    print(f"  {ours} functions by cumulative time (waiting included):")
    for cumulative, own, count, name in own_code[:lines]:
        print(
            f"    {cumulative / per * 1000:8.2f} ms cum {own / per * 1000:7.2f} ms own "
            f"{count / per:8.1f} calls  {name}"
        )
    return {
        "waiting_ms": waiting / per * 1000,
        "working_ms": working / per * 1000,
        "calls": calls / per,
        "top": [
            {"own_ms": own / per * 1000, "cum_ms": cum / per * 1000, "function": name}
            for own, cum, _, name in rows[:lines]
        ],
    }
