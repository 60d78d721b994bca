from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from customers import roles


def group_permissions() -> dict[str, set[str]]:
    return {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.prefetch_related("permissions__content_type")
    }


@pytest.mark.django_db
def test_migrations_create_the_three_role_groups_exactly() -> None:
    assert group_permissions() == {
        role: set(names) for role, names in roles.ROLE_PERMISSIONS.items()
    }


def test_roles_are_nested() -> None:
    viewer, agent, lead = (
        set(roles.ROLE_PERMISSIONS[r])
        for r in (roles.VIEWER, roles.ONBOARDING_AGENT, roles.COMPLIANCE_LEAD)
    )
    assert viewer < agent < lead
    assert not any(p.split(".")[1].startswith(("add_", "change_", "delete_")) for p in viewer)
    assert "customers.operate_customer" in lead - agent


@pytest.mark.django_db(transaction=True)
def test_groups_survive_a_database_flush() -> None:
    """Transactional tests flush the database; post_migrate puts the groups back."""
    assert group_permissions() == {
        role: set(names) for role, names in roles.ROLE_PERMISSIONS.items()
    }
