"""Loaded by a test worker (`celery worker --include ...`): a poison pill for the pipeline.

Creating a customer whose externalReference is listed in POISON_EXTERNAL_REFERENCES goes
through at BVNK, then the process that sent it dies with SIGKILL before it can record the
answer, as an out-of-memory kill would: every claim of that operation kills its worker.
Nothing in the portal imports this module.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from customers.bvnk.client import BvnkClient

POISONED = frozenset(filter(None, os.environ.get("POISON_EXTERNAL_REFERENCES", "").split(",")))
_create_customer = BvnkClient.create_customer


def _create_then_die(self: BvnkClient, request: Any, *, idempotency_key: str) -> Any:
    created = _create_customer(self, request, idempotency_key=idempotency_key)
    if request.to_wire().get("externalReference") in POISONED:
        os.kill(os.getpid(), signal.SIGKILL)
    return created


BvnkClient.create_customer = _create_then_die  # type: ignore[method-assign]
