"""The minimal reference sender of bench/pipeline.py: the same four BVNK calls per customer
(create, read back, two document uploads) with the portal's own client, on the same
workers and emulator, and one UPDATE per operation; no claim, no outbox, no recording.
Loaded into the reference workers with `celery ... --include bench._reference_tasks`."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from customers.bvnk.client import (
    BvnkClient,
    config_from_settings,
    idempotency_key,
    thread_session,
)
from customers.bvnk.types import DocumentUpload, StoredBody
from customers.models import BvnkOperation, ComplianceDocument

QUEUE = "bench_reference"


@shared_task(name="bench.reference_send", acks_late=True, ignore_result=True)
def reference_send(operation_id: int) -> None:
    started = timezone.now()
    operation = BvnkOperation.objects.only("payload", "idempotency_key", "customer_id").get(
        pk=operation_id
    )
    client = BvnkClient(config_from_settings(), session=thread_session())
    created = client.create_customer(
        StoredBody(operation.payload["body"]), idempotency_key=operation.idempotency_key
    )
    client.get_customer(created.reference)
    BvnkOperation.objects.filter(pk=operation_id).update(
        state=BvnkOperation.State.DONE, claimed_at=started, completed_at=timezone.now()
    )
    documents = ComplianceDocument.objects.filter(customer_id=operation.customer_id)
    for document in documents.order_by("pk"):
        with document.file.open("rb") as stored:
            content = stored.read()
        upload = DocumentUpload(
            type=document.document_type,
            sub_type=document.document_sub_type,
            name=document.original_name,
            content=content,
        )
        accepted = client.upload_documents(
            created.reference,
            [upload],
            idempotency_key=idempotency_key("bench.document", str(document.pk)),
        )
        ComplianceDocument.objects.filter(pk=document.pk).update(
            bvnk_reference=accepted[0].reference if accepted else f"ref-{document.pk}",
            updated_at=timezone.now(),
        )
