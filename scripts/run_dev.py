"""Run the whole portal locally on embedded defaults: `make run`.

Migrates, creates the demo logins, then runs the BVNK emulator, a Celery worker (with
beat) and the Django development server until Ctrl-C, which stops all of them. The
worker may be stopped on its own (work waits for it) and started again with `make worker`.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTAL_URL = "http://127.0.0.1:8000/"


def main() -> int:
    os.chdir(ROOT)
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "true"), "PYTHONUNBUFFERED": "1"}
    # The demo logs in with a password alone unless OTP_REQUIRED=true is set.
    env.setdefault("OTP_REQUIRED", "false")
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput"], env=env, check=True)
    password = secrets.token_urlsafe(9)
    subprocess.run(
        [python, "manage.py", "ensure_demo_users", "--password", password], env=env, check=True
    )
    (ROOT / "var").mkdir(exist_ok=True)
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
    running = {name: subprocess.Popen(cmd, env=env) for name, cmd in processes.items()}
    stopped: set[str] = set()
    time.sleep(2)
    print(
        f"\n  Portal:   {PORTAL_URL}\n  Emulator: http://127.0.0.1:8001/_emulator/deliveries\n"
        f"  Log in as demo (Compliance lead), agent (Onboarding agent) or viewer (Viewer)\n"
        f"  with the password {password}\n"
        + (
            "  Second factor ON: each login enrols an authenticator app (QR code).\n"
            if env["OTP_REQUIRED"].lower() in ("1", "true", "yes", "on")
            else "  Second factor OFF for this demo (production requires it); "
            "OTP_REQUIRED=true turns it on.\n"
        )
        + "  Ctrl-C stops everything.\n",
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
