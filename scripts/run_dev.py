"""Run the whole portal locally on embedded defaults: `make run`.

Migrates, creates the demo logins, then runs the BVNK emulator, a Celery worker (with
beat) and the Django development server until Ctrl-C, which stops all of them. Their
routine output (beat's sweeps every second, each request) goes to files under var/log/,
so the console keeps what a person needs, the logins last; `make logins` prints them
again. The worker may be stopped on its own (work waits for it) and started again with
`make worker`.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PORTAL_URL = "http://127.0.0.1:8000/"
LOGS = ROOT / "var" / "log"
# The last demo logins, for `make logins` (a development file, readable by its owner only).
LOGINS = ROOT / "var" / "demo-logins.txt"


def logins_text(password: str, *, otp: bool) -> str:
    """The demo logins as the console shows them."""
    factor = (
        "  Second factor ON: each login enrols an authenticator app (QR code).\n"
        if otp
        else "  Second factor OFF for this demo (production requires it); "
        "OTP_REQUIRED=true turns it on.\n"
    )
    return (
        "\n  Log in as demo (Compliance lead), agent (Onboarding agent) or viewer (Viewer)\n"
        f"  with the password {password}\n" + factor
    )


def _log(name: str) -> Any:
    return (LOGS / f"{name}.log").open("ab")


def _wait_for_portal(timeout: float = 30.0) -> None:
    """Print the logins once the portal answers, so they are the console's last lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{PORTAL_URL}healthz", timeout=1):  # noqa: S310
                return
        except OSError:
            time.sleep(0.3)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    os.chdir(ROOT)
    # `kill` (SIGTERM) stops everything as Ctrl-C does, never leaving the children running.
    signal.signal(signal.SIGTERM, _interrupt)
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "true"), "PYTHONUNBUFFERED": "1"}
    # The demo logs in with a password alone unless OTP_REQUIRED=true is set.
    env.setdefault("OTP_REQUIRED", "false")
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, check=True)
    password = secrets.token_urlsafe(9)
    subprocess.run(
        [python, "manage.py", "ensure_demo_users", "--password", password],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    LOGS.mkdir(parents=True, exist_ok=True)
    processes = {
        "emulator": [python, "-m", "bvnk_emulator", "--port", "8001"],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--beat",
            # The default queue and the submission pipeline's sends to BVNK.
            "-Q",
            "celery,bvnk",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--schedule",
            str(ROOT / "var" / "celerybeat-schedule"),
        ],
        "web": [python, "manage.py", "runserver", "127.0.0.1:8000"],
    }
    running = {
        name: subprocess.Popen(
            cmd, env=env, stdout=_log(name), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        for name, cmd in processes.items()
    }
    stopped: set[str] = set()
    _wait_for_portal()
    logins = logins_text(password, otp=env["OTP_REQUIRED"].lower() in ("1", "true", "yes", "on"))
    LOGINS.write_text(logins)
    LOGINS.chmod(0o600)
    print(
        f"\n  Portal:   {PORTAL_URL}\n  Emulator: http://127.0.0.1:8001/_emulator/deliveries\n"
        f"  Logs:     {LOGS.relative_to(ROOT)}/ (web.log, worker.log, emulator.log); "
        f"emails: var/mail/\n  Ctrl-C stops everything; `make logins` prints these again.\n"
        + logins,
        flush=True,
    )
    try:
        while running["web"].poll() is None and running["emulator"].poll() is None:
            if running["worker"].poll() is not None and "worker" not in stopped:
                # Work waits in the outbox and the broker; nothing is lost meanwhile.
                stopped.add("worker")
                print(
                    "\n  The worker stopped. Submissions wait until one runs again: "
                    "`make worker` in another terminal.\n",
                    file=sys.stderr,
                    flush=True,
                )
            time.sleep(0.5)
        failed = [name for name in ("web", "emulator") if running[name].poll() is not None]
        print(f"Stopped because {', '.join(failed)} exited.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in running.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
