"""Root conftest: loads the fixtures that start the BVNK emulator (tests/emulator_server.py)."""

pytest_plugins = ["tests.emulator_server"]
