"""Fixtures for the security tests: a real clamd with a test signature, a login helper.

clamd runs once per session on a temp socket (and a TCP port) with a database of one
signature of our own, built from the EICAR test string: nothing is downloaded.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.emulator_server import free_port

# The EICAR anti-virus test string, in two halves so that no scanner flags this file.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()
SIGNATURE = "Portal.Test.EICAR"
PASSWORD = "a long and unusual test password"


@dataclass
class Clamd:
    unix_url: str
    tcp_url: str
    process: subprocess.Popen[bytes]


def _clamd_binary() -> str:
    found = shutil.which("clamd") or ("/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else "")
    if not found:
        pytest.fail("clamd is missing: apt-get install clamav-daemon (`make test` installs it)")
    return found


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    folder = tmp_path_factory.mktemp("clamd")
    database = folder / "db"
    database.mkdir()
    # An .ndb body signature: target 0 (any file), any offset, the EICAR bytes in hex.
    (database / "portal-test.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
    socket_path = folder / "clamd.sock"
    port = free_port()
    config = folder / "clamd.conf"
    config.write_text(
        f"LocalSocket {socket_path}\nTCPSocket {port}\nTCPAddr 127.0.0.1\n"
        f"DatabaseDirectory {database}\nForeground yes\nLogFile {folder / 'clamd.log'}\n"
        "StreamMaxLength 20M\n"
    )
    log = (folder / "stdout.log").open("wb")
    process = subprocess.Popen(
        [_clamd_binary(), "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    running = Clamd(f"unix://{socket_path}", f"tcp://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + 60
        while not _answers(running):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"clamd did not start: {(folder / 'stdout.log').read_text()}")
            time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _answers(running: Clamd) -> bool:
    from django.test import override_settings

    from customers import scanning

    with override_settings(CLAMAV_URL=running.unix_url, CLAMAV_TIMEOUT=1):
        ok_unix = scanning.ping()
    with override_settings(CLAMAV_URL=running.tcp_url, CLAMAV_TIMEOUT=1):
        return ok_unix and scanning.ping()


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """Cheap hashes, except where a test measures the real one."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def password_login(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post("/login/", {"username": username, "password": password})


@pytest.fixture
def member(django_user_model: Any) -> Any:
    """A staff member with a known password and the Onboarding agent role."""
    from django.contrib.auth.models import Group

    from customers import roles

    user = django_user_model.objects.create_user(username="ann", password=PASSWORD)
    user.groups.add(Group.objects.get(name=roles.ONBOARDING_AGENT))
    return user
