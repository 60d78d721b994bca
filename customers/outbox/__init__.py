"""The BVNK outbox: every write that must reach BVNK, sent exactly once in effect.

A compliance change is never sent from a request. The service that makes it writes a
`BvnkOperation` row in the same transaction (customers/services/: `customer_submit`,
`customer_update_details`, `operation_submit_questionnaire`; the documents are queued
by senders.py once the create succeeded), and after commit `enqueue` hands its id to the
`send_bvnk_operation` task on the "bvnk" queue. From there:

- `operation_send` claims the row with one conditional UPDATE (PENDING and due, or IN_FLIGHT
  whose claim was lost) and a fresh claim token. The partial unique constraint "one
  operation in flight per customer" makes the claim fail while another operation of the
  same customer is in flight, so one customer's operations never run concurrently;
- the claim sends the stored body with the row's idempotency key, which never changes,
  so a retry after a lost answer gets BVNK's first answer back (BVNK keys a customer
  create by its idempotency key and the same body), and records
  the outcome only if its claim token still holds;
- transient failures (5xx, 408, 429 with Retry-After, timeouts, connection errors) go
  back to PENDING with `next_attempt_at` moved by a full-jitter exponential backoff, up
  to BVNK_OPERATION_MAX_ATTEMPTS, then NEEDS_ATTENTION; refusals (400 with field errors)
  are FAILED and shown to staff; a 401 is NEEDS_ATTENTION with a "credentials or clock"
  alert; a claim whose worker died is taken over, and after BVNK_OPERATION_MAX_LOST_CLAIMS
  of those the operation needs attention instead of killing workers forever;
- `operations_sweep` (Celery beat) publishes again what is due but whose task was lost
  (broker restarted, publish failed) and claims whose lease ran out.

Order: a customer's create goes first (the other kinds wait for its BVNK reference);
documents and questionnaire answers go only while BVNK collects information; an update
or a questionnaire answer superseded by a newer one is cancelled rather than sent late.

The modules, each depending only on the ones before it (the package re-exports nothing,
so the services can import publishing.py without loading the sending engine above them):

- publishing.py: adding operations (`operation_add`), publishing their tasks after commit
  (`enqueue_after_commit`, `enqueue`), waking a customer's next one, and the sweeper;
- senders.py: one policy per kind (`POLICIES`): what it sends, waits for and supersedes,
  and what a success or refusal records;
- sending.py: `operation_send` (claim, attempt, outcome, retry with backoff), and
  `operations_run_due` for shells and tests.
"""
