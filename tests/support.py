"""Real processes for tests: Celery workers, and private PostgreSQL and Redis servers.

A worker subprocess cannot open pytest-django's SQLite test database, so a test that starts
one needs PostgreSQL (DATABASE_URL=postgres://...): `require_postgresql()` skips with the
reason otherwise (CI runs on PostgreSQL and fails on skips).

Nothing here stops, restarts, flushes or reconfigures the machine's own PostgreSQL or
Redis: a test that does that to a service does it to a private one started here.

Fixtures (loaded by the root conftest.py)
-----------------------------------------
``private_redis`` (session)
    A `PrivateRedis`: ``redis-server`` on a free port, no persistence, a temporary
    folder. Tests may flush, shut down and start it again.
``private_postgresql`` (session)
    A `PrivatePostgreSQL`: a cluster from ``initdb`` in a temporary folder, run by
    ``pg_ctl`` on a free port, with one database for tests. Tests may restart it.
``private_database`` (function, transactional)
    The private cluster's database as this test's ``default`` database, migrated:
    the test, and every worker or server it starts with `database_url()`, use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections

from tests.emulator_server import free_port
from tests.emulator_server import wait_until as _wait_until

ROOT = Path(__file__).resolve().parents[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll like the emulator fixtures do, with the longer default worker tests need."""
    return _wait_until(predicate, timeout, interval)


def child_env(**overrides: str) -> dict[str, str]:
    """Return an environment for a portal subprocess: this one's, minus .env surprises."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BVNK_", "DJANGO_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="portal.settings",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    env.update(overrides)
    return env


def database_url() -> str:
    """Return a URL for the database this test runs on (PostgreSQL only)."""
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def point_broker_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Make this process publish to `url` (Celery reads CELERY_BROKER_URL first)."""
    from portal.celery import app

    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(app.conf, "broker_url", url)
    # Also the write URL itself, in case an earlier test left one set.
    monkeypatch.setitem(app.conf, "broker_write_url", url)
    assert app.conf.broker_write_url == url


def require_postgresql(why: str) -> None:
    """Skip unless this run's database is PostgreSQL; `why` says what needs it."""
    __tracebackhide__ = True  # the skip is reported at the caller's line
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL: {why} (run with DATABASE_URL=postgres://...)")


# The column types a personal value could rest in as text.
TEXT_TYPES = {"text", "character varying", "json", "jsonb", "character"}


def plain_text_hits(cursor: Any, values: dict[str, list[str]]) -> list[str]:
    """Every column of a PostgreSQL database (through a DB-API `cursor`) holding one of
    `values` in plain text, case aside, as "table.column: what 'value' in n row(s)"."""
    cursor.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, column_name"
    )
    columns = [(t, c) for t, c, kind in cursor.fetchall() if kind in TEXT_TYPES]
    assert ("customers_bvnkoperation", "payload") in columns, "the portal's database"
    hits = []
    for table, column in columns:
        for what, needles in values.items():
            for needle in needles:
                cursor.execute(
                    f'SELECT count(*) FROM "{table}" '  # noqa: S608 - names from the catalogue
                    f'WHERE strpos(lower("{column}"::text), lower(%s)) > 0',
                    [needle],
                )
                count = cursor.fetchone()[0]
                if count:
                    hits.append(f"{table}.{column}: {what} {needle!r} in {count} row(s)")
    return hits


WORKER_NEEDS = "a worker process cannot open the SQLite test database"


class Worker:
    """`celery -A portal worker` in a subprocess, on the test database.

    Defaults as the webhook tests use it: the threads pool, four threads, beat embedded,
    every queue. `include` names modules the worker imports at start (test-only patches).
    """

    def __init__(
        self,
        directory: Path,
        broker: str,
        *,
        pool: str = "threads",
        concurrency: int = 4,
        queues: str = "",
        beat: bool = True,
        include: Sequence[str] = (),
        **env: str,
    ) -> None:
        self.log = directory / f"worker-{uuid.uuid4().hex[:6]}.log"
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker"]
        command += ["--pool", pool, "--concurrency", str(concurrency), "--loglevel", "INFO"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        if queues:
            command += ["-Q", queues]
        if beat:
            command += ["--beat", "--schedule", str(directory / f"beat-{uuid.uuid4().hex[:6]}")]
        if include:
            command += ["--include", ",".join(include)]
        settings = {
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker,
            "REDIS_URL": broker,
            "CONN_MAX_AGE": "0",
            "BVNK_WEBHOOK_SWEEP_SECONDS": "0.5",
            **env,
        }
        with self.log.open("ab") as out:
            # A session of its own: `kill()` takes the whole worker down, pool and beat too,
            # as a lost container would.
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=child_env(**settings),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(self._ready, timeout=30, interval=0.1)
        except BaseException:
            self.stop()  # never leave a half-started worker behind
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited:\n{self.output()}")
        return " ready." in self.output()

    def kill(self) -> None:
        """SIGKILL the worker and everything it started; no goodbye to the broker."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # leftovers: pool children, beat
        self.process.wait(timeout=5)


def redis_up(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class PrivateRedis:
    """A redis-server of this test session's own: a free port, no persistence, a temp folder.

    `shutdown()` and `start()` keep the port, so URLs handed out stay valid.
    """

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        command += ["--logfile", str(self.directory / "redis.log")]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_until(self._up, timeout=20, interval=0.05)
        except BaseException:
            self.stop()
            raise

    def _up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = self.directory / "redis.log"
            raise RuntimeError(f"redis-server exited:\n{log.read_text() if log.exists() else ''}")
        return redis_up(self.url())

    def flush(self) -> None:
        """Empty every database of this server (it is this session's alone)."""
        import redis

        client = redis.Redis.from_url(self.url(), socket_connect_timeout=2)
        try:
            client.flushall()
        finally:
            client.close()

    def shutdown(self) -> None:
        """`SHUTDOWN NOSAVE`: the server stops and forgets every message it held."""
        import redis

        client = redis.Redis.from_url(self.url(), socket_connect_timeout=2)
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(nosave=True)
        client.close()
        assert self.process is not None
        self.process.wait(timeout=10)
        assert not redis_up(self.url())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def postgresql_bindir() -> Path | None:
    """Return the folder holding initdb and pg_ctl (the newest Debian install), or None."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    installs = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: [int(part) for part in path.parts[-3].split(".") if part.isdigit()],
    )
    return installs[-1].parent if installs else None


class PrivatePostgreSQL:
    """A PostgreSQL cluster of this test session's own, from initdb in a temporary folder.

    It listens on 127.0.0.1 at a free port, trusts local connections, and holds one
    database, `DATABASE`, for tests. PostgreSQL refuses to run as root, so as root
    (CI's containers) initdb and pg_ctl run as the `postgres` OS user, which then owns
    the folder. Durability is switched off: nothing here survives the session anyway.
    """

    DATABASE = "portal_private"
    OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="portal-test-postgresql-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgresql.log"
        self.as_user: list[str] = []
        self.migrated = False
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        try:
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
                "--encoding=UTF8", "--locale=C",
            )  # fmt: skip
            self.start()
            self.execute(f'CREATE DATABASE "{self.DATABASE}"')
        except BaseException:
            self.stop()
            raise

    def _run(self, program: str, *args: str) -> None:
        command = [*self.as_user, str(self.bindir / program), *args]
        done = subprocess.run(command, capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}):\n{output}\n{log}")

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 {self.OPTIONS}"
        self._pg_ctl("-o", options, "start")

    def restart(self) -> None:
        """Restart the cluster (fast: every connection to it is cut) and wait for it."""
        self._pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on a fresh connection to the cluster; return its rows."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def started_at(self) -> Any:
        """When the cluster's postmaster started (a restart changes it)."""
        return self.execute("SELECT pg_postmaster_start_time()")[0][0]


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """A redis-server for this session alone, on a free port (see PrivateRedis)."""
    try:
        server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    except FileNotFoundError:
        pytest.skip("needs Redis: redis-server is not installed (apt-get install redis-server)")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def private_postgresql() -> Iterator[PrivatePostgreSQL]:
    """A PostgreSQL cluster for this session alone, on a free port (see PrivatePostgreSQL)."""
    bindir = postgresql_bindir()
    if bindir is None:
        pytest.skip(
            "needs PostgreSQL: initdb and pg_ctl are not installed (apt-get install postgresql)"
        )
    cluster = PrivatePostgreSQL(bindir)
    yield cluster
    cluster.stop()


@pytest.fixture
def private_database(
    transactional_db: None, request: pytest.FixtureRequest
) -> Iterator[PrivatePostgreSQL]:
    """Make the private cluster's database this test's `default` database, migrated.

    The test's own queries, `database_url()` and so every worker or server the test
    starts go there, so the test may restart the cluster under them. Afterwards the
    database is flushed and `default` points at the run's test database again (before
    pytest-django flushes that one).
    """
    require_postgresql("the test moves its PostgreSQL connection to a private cluster")
    cluster: PrivatePostgreSQL = request.getfixturevalue("private_postgresql")
    original = dict(connection.settings_dict)
    connections.close_all()
    connection.settings_dict.update(
        NAME=cluster.DATABASE,
        USER="postgres",
        PASSWORD="",
        HOST="127.0.0.1",
        PORT=str(cluster.port),
    )
    try:
        if not cluster.migrated:
            call_command("migrate", interactive=False, verbosity=0)
            cluster.migrated = True
        yield cluster
        connections.close_all()
        call_command("flush", interactive=False, verbosity=0)
    finally:
        connections.close_all()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
