"""The portal's URLs plus what the benchmarks compare it with, on the same server:

- `bench/trivial/`: a view that only answers, under the portal's middleware; served under
  Django's default middleware at `bench/default/trivial/` by bench/_wsgi.py;
- `bench/reference-webhook/`: the minimal reference of webhook ingest: check the
  HMAC, parse the JSON, one `INSERT ... ON CONFLICT DO NOTHING`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

# The reference's table, created by bench/webhooks.py before the server starts.
REFERENCE_TABLE = "bench_reference_event"


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("OK", content_type="text/plain")


@csrf_exempt
def reference_webhook(request: HttpRequest) -> HttpResponse:
    body = request.body
    digest = hmac.new(settings.BVNK_WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()
    given = request.headers.get("X-Signature", "").encode()
    if not hmac.compare_digest(base64.b64encode(digest), given):
        return HttpResponse("Invalid signature", status=401, content_type="text/plain")
    event = json.loads(body)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {REFERENCE_TABLE} (event_id, body) VALUES (%s, %s) "  # noqa: S608
            "ON CONFLICT DO NOTHING",
            [event["eventId"], body.decode()],
        )
    return HttpResponse("OK", content_type="text/plain")


urlpatterns = [
    path("bench/trivial/", trivial),
    path("bench/default/trivial/", trivial),
    path("bench/reference-webhook/", reference_webhook),
    path("", include("portal.urls")),
]
