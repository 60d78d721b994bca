"""Staff roles: the groups every staff account belongs to, and what each may do."""

from __future__ import annotations

from typing import Any

VIEWER = "Viewer"
ONBOARDING_AGENT = "Onboarding agent"
COMPLIANCE_LEAD = "Compliance lead"

_READ = [
    "customers.view_customer",
    "customers.view_associate",
    "customers.view_compliancedocument",
    "customers.view_agreementsession",
    "customers.view_statuschange",
    "customers.view_bvnkcall",
    # The wallet itself (status, currency, history); its account details need the
    # permission below.
    "customers.view_wallet",
]
_ONBOARD = [
    "customers.add_customer",
    "customers.change_customer",
    "customers.submit_customer",
    "customers.add_associate",
    "customers.change_associate",
    "customers.delete_associate",
    "customers.add_compliancedocument",
    "customers.change_compliancedocument",
    "customers.delete_compliancedocument",
    "customers.download_document",
    "customers.add_agreementsession",
    "customers.change_agreementsession",
    # A draft never sent to BVNK, with its files (customers/services/queue.py).
    "customers.discard_draft",
    # Wallets of verified customers, and the account details a customer pays in to (each
    # showing audited).
    "customers.create_wallet",
    "customers.view_wallet_details",
]
_OPERATE = [
    "customers.delete_customer",
    "customers.operate_customer",
    "customers.export_customers",
    # The audit log (customer page and admin) and the emails the portal sent.
    "customers.view_auditevent",
    "customers.view_notification",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: _READ,
    ONBOARDING_AGENT: _READ + _ONBOARD,
    COMPLIANCE_LEAD: _READ + _ONBOARD + _OPERATE,
}


def sync_role_groups(apps: Any) -> None:
    """Create the role groups and give each exactly its permissions.

    Takes an app registry so data migrations can call it with their historical models.
    A permission whose model a historical state does not have yet is left out; the
    post_migrate hook below adds it once every migration has run.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:
                wanted.append(permission)
        group.permissions.set(wanted)


def sync_role_groups_after_migrate(sender: Any, apps: Any = None, **kwargs: Any) -> None:
    """Keep the groups equal to ROLE_PERMISSIONS after every migrate (and test flush)."""
    from django.apps import apps as installed_apps

    # `flush` sends post_migrate without a migration state; the installed models serve.
    sync_role_groups(apps or installed_apps)
