"""The customer page's list of operations sent (or being sent) to BVNK."""

from __future__ import annotations

from django import template

from customers.models import BvnkOperation, Customer

register = template.Library()

State = BvnkOperation.State


@register.simple_tag
def customer_operations(customer: Customer, limit: int = 25) -> list[BvnkOperation]:
    """The customer's latest operations, each with `can_retry` set (one query)."""
    operations = list(
        customer.operations.select_related("document__associate", "created_by", "retried_by")[
            :limit
        ]
    )
    for operation in operations:
        # What BVNK refused (FAILED) would be refused again: it is corrected (the details
        # form, a new document, the onboarding steps), never retried as it was. What could
        # not be sent (NEEDS_ATTENTION) may be retried once its cause is fixed.
        operation.can_retry = operation.state == State.NEEDS_ATTENTION and (  # type: ignore[attr-defined]
            operation.kind != BvnkOperation.Kind.CREATE_CUSTOMER
            or customer.status == Customer.Status.SUBMITTING
        )
    return operations
