"""Root conftest: loads the fixtures that start the BVNK emulator (tests/emulator_server.py)
and the private PostgreSQL and Redis servers (tests/support.py)."""

pytest_plugins = ["tests.emulator_server", "tests.support"]
