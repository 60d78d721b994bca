"""static/js/live.js in Chromium, on a page served here: what it replaces and what it keeps."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

LIVE_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "live.js"
PAGE = """<!doctype html><html><body>
<ul><li data-describes-state="customer-state">Submitted.</li><li class="other">Saved.</li>
<li data-describes-state="wallets">USDC wallet requested.</li></ul>
<section id="customer-state" data-live="1" data-state="{state}"><p>{state}</p>
<p class="clock">{clock}</p></section>
<form id="offer" data-describes-state="customer-state" data-stale="The status changed: reload.">
<button type="button">Create a wallet</button></form>
<section id="status" data-live="1"><p class="state">{state}</p>
<a id="open" href="#details">Open details</a><a href="#other">Other</a></section>
<section id="form" data-live="1"><p class="state">{state}</p>
<input name="note" aria-label="Note"></section>
<script src="/live.js"></script></body></html>"""


@pytest.fixture
def server() -> Iterator[dict[str, Any]]:
    state = {"value": "Pending review", "clock": "for 1 min"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/live.js"):
                body, kind = LIVE_JS.read_bytes(), "text/javascript"
            else:
                page = PAGE.format(state=state["value"], clock=state["clock"])
                body, kind = page.encode(), "text/html"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{httpd.server_address[1]}/", "state": state}
    httpd.shutdown()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_a_focused_link_does_not_keep_an_old_state_on_the_page(tab: Page, server) -> None:
    tab.goto(server["url"])
    tab.locator("#open").focus()
    server["state"]["value"] = "Verified"
    expect(tab.locator("#status .state")).to_have_text("Verified", timeout=5000)
    # The keyboard user is where they were: on the same link, in the new content.
    assert tab.evaluate("document.activeElement.id") == "open"


def test_a_field_someone_typed_in_is_never_replaced(tab: Page, server) -> None:
    tab.goto(server["url"])
    tab.get_by_label("Note").fill("half a sentence")
    server["state"]["value"] = "Verified"
    expect(tab.locator("#status .state")).to_have_text("Verified", timeout=5000)
    expect(tab.locator("#form .state")).to_have_text("Pending review")
    expect(tab.get_by_label("Note")).to_have_value("half a sentence")


def test_a_message_describing_the_state_goes_when_the_state_moves(tab: Page, server) -> None:
    tab.goto(server["url"])
    expect(tab.get_by_text("Submitted.")).to_be_visible()
    # The region's clock moves, its state does not: what describes the state stays.
    server["state"]["clock"] = "for 2 min"
    expect(tab.locator("#customer-state .clock")).to_have_text("for 2 min", timeout=5000)
    expect(tab.get_by_text("Submitted.")).to_be_visible()
    expect(tab.get_by_role("button", name="Create a wallet")).to_be_visible()
    server["state"]["value"] = "Verified"
    expect(tab.locator("#customer-state")).to_contain_text("Verified", timeout=5000)
    expect(tab.get_by_text("Submitted.")).to_have_count(0)
    # A form offered in the old state gives way to its note.
    expect(tab.locator("#offer")).to_have_text("The status changed: reload.")
    expect(tab.get_by_role("button", name="Create a wallet")).to_have_count(0)
    expect(tab.get_by_text("Saved.")).to_be_visible()  # other messages stay
    # A message about a region that did not move (no wallets region here) stays too.
    expect(tab.get_by_text("USDC wallet requested.")).to_be_visible()
