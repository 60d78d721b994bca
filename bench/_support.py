"""What the benchmarks share: a database of their own and a free port (not a benchmark:
`make bench` skips files starting with an underscore)."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

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
