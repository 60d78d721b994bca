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
