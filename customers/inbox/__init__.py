"""The BVNK webhook inbox: store verified deliveries, then apply them in order, losing none.

BVNK retries a delivery up to 100 times, may deliver an event twice, sends one customer
status change under two or three event names and promises no order (its webhook docs).
So:

- `webhook_receive` stores each verified delivery once (insert-on-conflict on the event
  id, counting repeats) and hands it to a worker after commit, best effort;
- `webhook_event_process` applies one event under a row lock on the event, then on the
  customer (always in that order, so two workers never deadlock), with one handler per
  event type in `HANDLERS`. An event older than the BVNK state the portal holds changes
  nothing (`Customer.bvnk_status_at`); when in doubt (no timestamp, an unknown value, a
  move the transition table refuses) the truth is read from BVNK and applied instead;
- an event about a customer, session or document the portal does not know yet (its
  create response is not stored) is held, and applied once the reference is known;
- `webhook_events_sweep` (Celery beat, every few seconds) processes what is due: new
  events whatever happened to the broker, held events whose reference is now known,
  and retries after transient failures; it fails held events that waited too long;
- `webhook_events_reprocess` (admin action, management command) runs events again;
  `webhook_events_purge` drops processed and ignored events after the retention period.

The modules, each depending only on the ones before it:

- receiving.py: `webhook_receive` (the envelope, the one-statement store, the hand-over
  to a worker) and the buffered counts of refusals and repeats;
- handlers.py: one handler per event type (`HANDLERS`) and what they raise or return;
- processing.py: `webhook_event_process`, and driving many events: sweep, reprocess,
  purge, and the staff overview.
"""

from __future__ import annotations

from .handlers import HANDLERS
from .processing import (
    summarise,
    webhook_event_process,
    webhook_events_purge,
    webhook_events_reprocess,
    webhook_events_sweep,
    webhook_overview,
)
from .receiving import rejections, webhook_receive, webhook_rejection_record

__all__ = [
    "HANDLERS",
    "rejections",
    "summarise",
    "webhook_event_process",
    "webhook_events_purge",
    "webhook_events_reprocess",
    "webhook_events_sweep",
    "webhook_overview",
    "webhook_receive",
    "webhook_rejection_record",
]
