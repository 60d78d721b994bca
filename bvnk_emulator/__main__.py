"""Run the emulator: `python -m bvnk_emulator --host 127.0.0.1 --port 8001`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from werkzeug.serving import run_simple

from bvnk_emulator.app import create_app, current_emulator
from bvnk_emulator.config import ConfigError, EmulatorConfig


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, read the environment and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m bvnk_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on")
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        config = EmulatorConfig.from_env(host=args.host, port=args.port)
    except ConfigError as error:
        print(f"bvnk_emulator: {error}", file=sys.stderr)
        return 2

    # Exit cleanly on SIGTERM too (docker stop; PID 1 ignores it without a handler).
    signal.signal(signal.SIGTERM, _exit)
    app = create_app(config)
    emulator = current_emulator(app)
    emulator.start()
    print(config.describe(), flush=True)
    try:
        run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        emulator.stop()
    return 0


def _exit(*_: Any) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
