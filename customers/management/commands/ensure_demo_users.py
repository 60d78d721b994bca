"""Create (or reset) one demo login per staff role and print them. Development only."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from customers import roles

DEMO_USERS = {
    "demo": roles.COMPLIANCE_LEAD,
    "agent": roles.ONBOARDING_AGENT,
    "viewer": roles.VIEWER,
}


class Command(BaseCommand):
    help = "Create or reset the demo staff logins (one per role) and print their password."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", help="Use this password instead of a random one.")

    def handle(self, *args: Any, password: str | None = None, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Demo logins are only created with DEBUG on.")
        password = password or secrets.token_urlsafe(9)
        User = get_user_model()
        for username, role in DEMO_USERS.items():
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff = role == roles.COMPLIANCE_LEAD
            # An address, so the status emails of `make run` (files under var/mail) show.
            user.email = user.email or f"{username}@partner.example"
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=role)])
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Demo logins (password for each: {password}):\n"
                + "".join(f"    {name:<8} {role}\n" for name, role in DEMO_USERS.items())
            )
        )
