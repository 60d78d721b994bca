"""One WSGI application, two middleware stacks: `/bench/default/...` goes through Django's
default middleware (as `startproject` writes it), everything else through the portal's.
Both run in the same gunicorn processes, so the difference is the portal's middleware."""

from __future__ import annotations

import os
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.test.utils import override_settings

from bench._settings import DJANGO_DEFAULT_MIDDLEWARE

os.environ["DJANGO_SETTINGS_MODULE"] = "bench._settings"
portal = get_wsgi_application()
with override_settings(MIDDLEWARE=DJANGO_DEFAULT_MIDDLEWARE):
    default = WSGIHandler()  # builds its middleware chain now, from these settings


def application(environ: dict[str, Any], start_response: Any) -> Any:
    if environ.get("PATH_INFO", "").startswith("/bench/default/"):
        return default(environ, start_response)
    return portal(environ, start_response)
