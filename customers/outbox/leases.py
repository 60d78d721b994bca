"""Keep the claims this process is sending alive, so a dead worker's claims run out fast.

A claim holds its operation for BVNK_OPERATION_LEASE_SECONDS. While a claim is being
sent, one thread per process renews the leases of all of them every third of that, in one
UPDATE. A worker that dies (killed, out of memory, its machine gone) stops renewing, so
its claims run out within a lease and the sweeper sends them again with the same key; a
live send, however slow BVNK is, keeps its claim. A renewal that finds its claim taken
over (another token) changes nothing: that claim's outcome counts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from ..models import BvnkOperation

logger = logging.getLogger(__name__)

_held: dict[int, str] = {}  # operation id -> claim token, for this process
_lock = threading.Lock()
_renewer: tuple[int, threading.Thread] | None = None  # (pid, thread)


def renew_interval() -> float:
    return max(settings.BVNK_OPERATION_LEASE_SECONDS / 3, 0.5)


@contextlib.contextmanager
def held(operation_id: int, token: str) -> Iterator[None]:
    """Keep the claim (`operation_id`, `token`) alive while the block runs."""
    with _lock:
        _held[operation_id] = token
        _start_renewer()
    try:
        yield
    finally:
        with _lock:
            if _held.get(operation_id) == token:
                del _held[operation_id]


def renew() -> int:
    """Push the lease of every claim held here one lease ahead; return how many moved."""
    with _lock:
        claims = list(_held.items())
    if not claims:
        return 0
    mine = Q()
    for pk, token in claims:
        mine |= Q(pk=pk, claim_token=token)
    until = timezone.now() + timedelta(seconds=settings.BVNK_OPERATION_LEASE_SECONDS)
    return BvnkOperation.objects.filter(mine, state=BvnkOperation.State.IN_FLIGHT).update(
        lease_until=until
    )


def _start_renewer() -> None:
    """Start this process's renewing thread (again after a fork); call with _lock held."""
    global _renewer
    pid = os.getpid()
    if _renewer is not None and _renewer[0] == pid and _renewer[1].is_alive():
        return
    if _renewer is not None and _renewer[0] != pid:
        _held.clear()  # a forked child holds none of its parent's claims
    thread = threading.Thread(target=_renew_forever, name="bvnk-lease-renewer", daemon=True)
    _renewer = (pid, thread)
    thread.start()


def _renew_forever() -> None:
    while True:
        time.sleep(renew_interval())
        try:
            renew()
        except DatabaseError:
            # The claims run out if this lasts a lease; sending again is safe (same key).
            logger.warning("Could not renew BVNK operation leases", exc_info=True)
        finally:
            # No connection held between renewals (one every few seconds): an idle one
            # would keep the database from being dropped or restarted cleanly.
            connection.close()
