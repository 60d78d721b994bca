from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "BVNK customers"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from portal import security  # noqa: F401 - ends a deactivated user's sessions

        # Importing them registers the system checks (deploy and security).
        from . import checks, security_checks  # noqa: F401
        from .roles import sync_role_groups_after_migrate

        # Runs after create_permissions (auth's own post_migrate handler comes first).
        post_migrate.connect(sync_role_groups_after_migrate, sender=self)
