"""Browser fixtures: Debian's Chromium driven by Playwright, against the whole stack.

Every page a journey visits is checked for basic accessibility. A failing test leaves a
screenshot and the page's HTML under test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.bvnk_variants import DEFAULTS
from tests.e2e.stack import PASSWORD, Stack, otp_key, recovery_codes

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if not path:
        pytest.fail("Chromium is missing: apt-get install chromium (.ci/run installs it)")
    return path


@pytest.fixture(scope="session")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The whole stack; a journey parametrized indirectly gets one per BVNK variant."""
    variant = getattr(request, "param", DEFAULTS)
    running = Stack(tmp_path_factory.mktemp(f"stack-{variant.name}"), variant=variant)
    try:
        yield running.start()
    finally:
        running.stop()  # also after a failed start: no process may outlive the run


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[FAILED] = report.failed


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Browser, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(
        base_url=stack.portal_url, viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    # A script error, a CSP refusal or a missing file on the portal's pages fails the test
    # (a page the test opened on purpose may answer 403 or 404: that is the page itself).
    portal_errors: list[str] = []
    opened: set[str] = set()

    def on_console(message: Any) -> None:
        url = message.location.get("url", "")
        page_status = url in opened and message.text.startswith("Failed to load resource")
        if message.type == "error" and url.startswith(stack.portal_url) and not page_status:
            portal_errors.append(f"{url}: {message.text}")

    context.on("console", on_console)
    tab.on("framenavigated", lambda frame: opened.add(frame.url))
    yield tab
    if request.node.stash.get(FAILED, False):
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        ARTIFACTS.mkdir(exist_ok=True)
        for index, open_page in enumerate(context.pages):
            open_page.screenshot(path=str(ARTIFACTS / f"{name}-{index}.png"), full_page=True)
            (ARTIFACTS / f"{name}-{index}.html").write_text(open_page.content())
    context.close()
    assert not portal_errors, f"the browser reported errors: {portal_errors}"


_USED_STEPS: dict[str, int] = {}
_USED_RECOVERY: dict[str, int] = {}


def second_factor(username: str) -> str:
    """A TOTP code from the user's known key; a recovery code if this step's code was used."""
    from django_otp.oath import TOTP

    step = int(time.time()) // 30
    if _USED_STEPS.get(username) == step:  # a TOTP code works once
        codes = recovery_codes(username)
        used = _USED_RECOVERY.get(username, 0)
        if used < len(codes):
            _USED_RECOVERY[username] = used + 1
            return codes[used]
        # Every recovery code is spent: the next step's TOTP code is a new one.
        time.sleep((step + 1) * 30 - time.time() + 0.5)
        step = int(time.time()) // 30
    _USED_STEPS[username] = step
    return f"{TOTP(bytes.fromhex(otp_key(username))).token():06d}"


def login(page: Page, username: str) -> None:
    page.goto("/login/")
    check_accessibility(page)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    # The second factor (the stack runs with OTP_REQUIRED on).
    page.wait_for_url(re.compile(r"/account/2fa/verify/"))
    check_accessibility(page)
    page.fill("#id_token", second_factor(username))
    with page.expect_navigation():
        page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(r"/customers/"))
    check_accessibility(page)


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of a key page (the README shows two of them)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


_A11Y_SCRIPT = """
() => {
  const problems = [];
  if (!document.title.trim()) problems.push("the page has no title");
  if (!document.querySelector("main, [role=main]")) problems.push("no main landmark");
  const fields = document.querySelectorAll(
    "input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea");
  for (const field of fields) {
    const labelled = (field.id && document.querySelector(`label[for="${CSS.escape(field.id)}"]`))
      || field.closest("label") || field.getAttribute("aria-label")
      || field.getAttribute("aria-labelledby");
    if (!labelled) problems.push(`unlabelled field ${field.name || field.outerHTML.slice(0, 80)}`);
    if (field.getAttribute("aria-invalid") === "true") {
      const ids = (field.getAttribute("aria-describedby") || "").split(/\\s+/).filter(Boolean);
      const described = ids.map(id => document.getElementById(id)).filter(Boolean);
      if (!described.some(el => el.textContent.trim()))
        problems.push(`invalid field ${field.name} has no error tied to it`);
    }
  }
  return problems;
}
"""


def check_accessibility(page: Page) -> None:
    """Each field labelled, a title, a main landmark, errors tied to their fields."""
    problems = page.evaluate(_A11Y_SCRIPT)
    assert not problems, f"{page.url}: {problems}"
