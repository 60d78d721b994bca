"""A local stand-in for BVNK's sandbox (customers API v1, hosted pages, webhooks).

Standalone: it never imports the portal. Start it with `python -m bvnk_emulator`.
"""

from __future__ import annotations

from bvnk_emulator.app import create_app
from bvnk_emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app"]
