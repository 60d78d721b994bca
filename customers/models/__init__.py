"""Customers as the portal knows them, mirroring what BVNK holds about each one.

One module per sub-domain; every model and public name is importable from here, as the
migrations' `customers.models.private_storage` and `customers.models.document_upload_to`
require.
"""

# isort: off
# In dependency order (each module imports only those above it), which is also the
# order Django registers the models in, as when they were one module.
from .base import DOCUMENT_KINDS, PersonIdentity, PostalAddress
from .customers import (
    ALLOWED_TRANSITIONS,
    NAME_FIELDS,
    Customer,
    InvalidTransition,
    StatusChange,
    customers_for,
)
from .associates import Associate, same_person
from .documents import (
    AgreementSession,
    ComplianceDocument,
    PrivateStorage,
    document_upload_to,
    private_storage,
)
from .wallets import WALLET_TRANSITIONS, Wallet, WalletStatusChange
from .operations import BvnkCall, BvnkOperation
from .webhook_events import WebhookEvent, WebhookRejection
from .activity import (
    AppendOnly,
    AuditEvent,
    AuditEventQuerySet,
    Notification,
    SavedView,
    StaffNotification,
)
# isort: on

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DOCUMENT_KINDS",
    "NAME_FIELDS",
    "WALLET_TRANSITIONS",
    "AgreementSession",
    "AppendOnly",
    "Associate",
    "AuditEvent",
    "AuditEventQuerySet",
    "BvnkCall",
    "BvnkOperation",
    "ComplianceDocument",
    "Customer",
    "InvalidTransition",
    "Notification",
    "PersonIdentity",
    "PostalAddress",
    "PrivateStorage",
    "SavedView",
    "StaffNotification",
    "StatusChange",
    "Wallet",
    "WalletStatusChange",
    "WebhookEvent",
    "WebhookRejection",
    "customers_for",
    "document_upload_to",
    "private_storage",
    "same_person",
]
