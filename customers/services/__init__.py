"""Use cases that change customers. Every write to customer state goes through here.

Callers use the package (`from customers import services`, then `services.customer_submit`);
the modules hold one sub-domain each:

- status.py: `customer_write`, the one lock on a customer's row, which stores the
  customer's summary when the write ends, and the one place a status changes
  (`customer_change_status`, `customer_apply_bvnk_status`, and their helpers on a row
  `customer_write` locked);
- recording.py: what BVNK reports and answers (details, sessions, documents, the create);
- drafts.py: onboarding a draft, from its creation to its submission;
- operations.py: use cases on a customer BVNK holds (updates, questionnaire answers,
  retrying an operation);
- queue.py: the work queue (assignee, watchers, discarding a draft, notifications read);
- wallets.py: wallets of verified customers (asking BVNK for one, recording its answers
  and status changes);
- connection.py: the going-live check (read-only calls to BVNK, webhook signature advice).

reconcile.py (not re-exported: it drives these services) reads customers from BVNK and
applies what differs: `reconcile.customer_resync`, the beat task's reconciliation.
"""

from __future__ import annotations

from .connection import CheckResult, bvnk_connection_check, webhook_signature_advice
from .drafts import (
    ANSWERING_STATUSES,
    NotAsking,
    NotEditable,
    OnboardingIncomplete,
    agreement_session_confirm,
    agreement_session_start,
    associate_delete,
    associate_save,
    customer_create_draft,
    customer_submit,
    document_delete,
    document_store,
    documents_answer,
    documents_rescan,
    documents_store,
    onboarding_save_step,
    submission_idempotency_key,
)
from .operations import (
    QUESTIONNAIRE_STATUSES,
    UPDATABLE_STATUSES,
    Answers,
    Keep,
    NotUpdatable,
    OperationNotRetryable,
    customer_details_resolve,
    customer_update_details,
    operation_retry,
    operation_submit_questionnaire,
)
from .queue import (
    NotDiscardable,
    customer_assign,
    customer_discard_draft,
    customer_watch,
    staff_notifications_mark_read,
)
from .recording import (
    agreement_session_apply_bvnk_status,
    customer_record_bvnk_details,
    customer_record_created,
    customer_record_people,
    customer_submission_refused,
    document_apply_bvnk_status,
    document_record_upload,
)
from .status import customer_apply_bvnk_status, customer_change_status
from .wallets import (
    WALLET_STATUSES,
    BulkResult,
    WalletNotAllowed,
    WalletOptions,
    detail_rows,
    wallet_adoption_candidates,
    wallet_blocker,
    wallet_counts_refresh,
    wallet_details_show,
    wallet_found_at_bvnk,
    wallet_options,
    wallet_record_bvnk,
    wallet_refusal_reason,
    wallet_refused,
    wallet_request,
    wallet_request_offered,
    wallets_request_bulk,
)

__all__ = [
    "ANSWERING_STATUSES",
    "QUESTIONNAIRE_STATUSES",
    "UPDATABLE_STATUSES",
    "WALLET_STATUSES",
    "Answers",
    "BulkResult",
    "CheckResult",
    "Keep",
    "NotAsking",
    "NotDiscardable",
    "NotEditable",
    "NotUpdatable",
    "OnboardingIncomplete",
    "OperationNotRetryable",
    "WalletNotAllowed",
    "WalletOptions",
    "agreement_session_apply_bvnk_status",
    "agreement_session_confirm",
    "agreement_session_start",
    "associate_delete",
    "associate_save",
    "bvnk_connection_check",
    "customer_apply_bvnk_status",
    "customer_assign",
    "customer_change_status",
    "customer_create_draft",
    "customer_details_resolve",
    "customer_discard_draft",
    "customer_record_bvnk_details",
    "customer_record_created",
    "customer_record_people",
    "customer_submission_refused",
    "customer_submit",
    "customer_update_details",
    "customer_watch",
    "detail_rows",
    "document_apply_bvnk_status",
    "document_delete",
    "document_record_upload",
    "document_store",
    "documents_answer",
    "documents_rescan",
    "documents_store",
    "onboarding_save_step",
    "operation_retry",
    "operation_submit_questionnaire",
    "staff_notifications_mark_read",
    "submission_idempotency_key",
    "wallet_adoption_candidates",
    "wallet_blocker",
    "wallet_counts_refresh",
    "wallet_details_show",
    "wallet_found_at_bvnk",
    "wallet_options",
    "wallet_record_bvnk",
    "wallet_refusal_reason",
    "wallet_refused",
    "wallet_request",
    "wallet_request_offered",
    "wallets_request_bulk",
    "webhook_signature_advice",
]
