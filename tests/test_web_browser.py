"""The web shell in a real browser: the system Chromium, driven by Playwright, over HTTP.

The app runs in a thread (werkzeug's server) against a database of its own, with CSRF on
and real commits, as in production. Screenshots go to test-artifacts/browser/<database>/
(sqlite or postgresql, so the two runs keep theirs), with a FAILED-<test>.png of the page as
it was when a test failed. Without Playwright or Chromium the tests skip, except under
CI=true, where they fail: a CI run must not pass by skipping its browser.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from core import create_app, migrate
from core.config import PROJECT_ROOT
from core.db import get_db
from core.tenancy import ensure_rls, system_context
from tests.fixtures import fresh_database

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS_ROOT = PROJECT_ROOT / "test-artifacts" / "browser"
# Set per module run by the `artifacts` fixture: test-artifacts/browser/<database>/.
ARTIFACTS = ARTIFACTS_ROOT
PASSWORD = "correct horse battery"
_seq = itertools.count(1)


class Live:
    """The running app: its base URL, and helpers that commit test data into its database."""

    def __init__(self, app: Flask, base_url: str) -> None:
        self.app = app
        self.url = base_url

    def tenant(self, name: str, addons: list[str]) -> Any:
        """Create and commit a tenant with `addons` enabled."""
        from core import services
        from core.db import session

        with self.app.app_context():
            with system_context():
                tenant = services.create_tenant(
                    f"b{next(_seq)}-{uuid.uuid4().hex[:6]}", name, addons=addons
                )
            session.commit()
            return tenant

    def admin(self, *tenants: Any) -> str:
        """Create and commit an admin of every tenant given; returns the email."""
        from core import services
        from core.db import session

        email = f"admin{next(_seq)}-{uuid.uuid4().hex[:6]}@example.com"
        with self.app.app_context(), system_context():
            for t in tenants:
                services.create_user(email, tenant_slug=t.slug, password=PASSWORD, roles=["admin"])
            session.commit()
        return email


@pytest.fixture(scope="module")
def live(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The app served over HTTP on a free loopback port, with CSRF on."""
    from werkzeug.serving import make_server

    from tests.kernel_models import test_tables
    from tests.testkit.manifest import manifest as testkit_manifest

    tmp = tmp_path_factory.mktemp("browser")
    databases = fresh_database(db_url, tmp, "browser")
    url = next(databases)
    app = create_app(
        {
            "database_url": url,
            "instance_path": str(tmp / "instance"),
            "secret_key": "browser-test-secret-of-at-least-32-bytes",
            "csrf": True,
            "secure_cookies": False,
            "default_addons": "none",
            "extra_addons": [testkit_manifest],
        }
    )
    assert app.config["WTF_CSRF_ENABLED"] is True
    with app.app_context():
        migrate.upgrade(app)
    with get_db(app).engine.begin() as conn:
        from core.db import Base

        Base.metadata.create_all(conn, tables=test_tables())
        ensure_rls(conn)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        get_db(app).dispose()
        next(databases, None)


def _missing(reason: str) -> None:
    """Skip for lack of a browser; fail instead under CI, which must run these tests."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI=true and the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module", autouse=True)
def artifacts(db_url: str) -> Path:
    """Where this run's screenshots go: one folder per database."""
    global ARTIFACTS
    kind = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    ARTIFACTS = ARTIFACTS_ROOT / kind
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """The system Chromium, headless."""
    try:
        from playwright import sync_api
    except ImportError:
        _missing("Playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is not installed (scripts/install-browser.sh)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(
    browser: Any, live: Live, request: pytest.FixtureRequest, **options: Any
) -> Iterator[Any]:
    """A fresh context (no cookies) and page; a screenshot of it if the test failed."""
    options = {"viewport": {"width": 1280, "height": 860}} | options
    context = browser.new_context(base_url=live.url, accept_downloads=True, **options)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    # The call's report is counted before fixtures are torn down, so a rise in the
    # session's failures here means this test failed.
    failed_before = request.session.testsfailed
    yield tab
    if request.session.testsfailed > failed_before:
        from playwright.sync_api import Error as PlaywrightError

        try:
            shot(tab, f"FAILED-{request.node.name}")
        except PlaywrightError as exc:  # a closed or crashed page: the failure matters more
            print(f"no screenshot of the failed test: {exc}")
    context.close()


@pytest.fixture()
def page(browser: Any, live: Live, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page, desktop-sized."""
    yield from _open(browser, live, request)


@pytest.fixture()
def phone(browser: Any, live: Live, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page the size of a phone's screen (the navbar collapses)."""
    yield from _open(
        browser,
        live,
        request,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )


@pytest.fixture()
def no_js(browser: Any, live: Live, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page with JavaScript turned off."""
    yield from _open(browser, live, request, java_script_enabled=False)


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot as a test artifact."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def test_log_in_and_see_the_dashboard(page: Any, live: Live) -> None:
    tenant = live.tenant("Acme Browser Ltd", ["testkit"])
    email = live.admin(tenant)
    page.goto("/")
    shot(page, "01-landing")
    page.get_by_role("link", name="Log in").first.click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    assert "invalid email or password" in page.locator("[role=alert]").inner_text()
    log_in(page, email)
    assert page.get_by_test_id("tenant-name").inner_text() == "Acme Browser Ltd"
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert page.get_by_role("link", name="Projects").is_visible()
    page.wait_for_function("() => window.Chart !== undefined")
    assert page.locator("canvas[data-chart]").count() == 1
    shot(page, "02-dashboard")


def test_switch_tenant(page: Any, live: Live) -> None:
    first = live.tenant("First Browser Co", ["testkit"])
    second = live.tenant("Second Browser Co", [])
    log_in(page, live.admin(first, second))
    assert page.get_by_test_id("tenant-name").inner_text() in (
        "First Browser Co",
        "Second Browser Co",
    )
    target = (
        "Second Browser Co"
        if "First" in page.get_by_test_id("tenant-name").inner_text()
        else "First Browser Co"
    )
    page.get_by_role("button", name="Switch company").click()
    shot(page, "03-switcher")
    projects = page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects")
    # Only the first company has testkit enabled: its menu has Projects, the second's not.
    assert projects.count() == (1 if target == "Second Browser Co" else 0)
    page.get_by_role("button", name=target).click()
    page.wait_for_load_state()
    assert page.get_by_test_id("tenant-name").inner_text() == target
    assert f"Switched to {target}" in page.locator(".alert").first.inner_text()
    assert projects.count() == (0 if target == "Second Browser Co" else 1)
    # And back: the menu follows the company again.
    back = "First Browser Co" if target == "Second Browser Co" else "Second Browser Co"
    page.get_by_role("button", name="Switch company").click()
    page.get_by_role("button", name=back).click()
    page.wait_for_load_state()
    assert page.get_by_test_id("tenant-name").inner_text() == back
    assert projects.count() == (1 if back == "First Browser Co" else 0)


def test_enable_an_addon_and_see_its_menu(page: Any, live: Live) -> None:
    tenant = live.tenant("Bare Browser Co", [])
    log_in(page, live.admin(tenant))
    assert page.get_by_role("link", name="Projects").count() == 0
    page.get_by_role("button", name=page.locator("#user-menu").inner_text()).click()
    page.get_by_role("link", name="Addons").click()
    shot(page, "04-addons")
    page.get_by_role("link", name="Enable testkit").click()
    assert "Nothing else needs to be enabled" in page.get_by_test_id("consequences").inner_text()
    page.get_by_role("button", name="Enable testkit").click()
    page.wait_for_url("**/settings/addons")
    assert "Enabled: testkit" in page.locator(".alert").first.inner_text()
    assert page.get_by_role("link", name="Projects").is_visible()
    shot(page, "05-addon-enabled")


def test_form_error_then_fix_then_find_in_list_and_export(page: Any, live: Live) -> None:
    tenant = live.tenant("Forms Browser Co", ["testkit"])
    log_in(page, live.admin(tenant))
    page.get_by_role("link", name="Projects").click()
    page.get_by_role("link", name="New project").click()
    # Two rules of the API's own schema: the name is required, the budget is not negative.
    page.get_by_label("Name").fill("")
    page.get_by_label("Budget").fill("-5")
    page.get_by_role("button", name="Save").click()
    assert "Missing data" in page.locator("#name-errors").inner_text()
    assert "greater than or equal to 0" in page.locator("#budget-errors").inner_text()
    assert page.get_by_label("Budget").input_value() == "-5"  # what was typed is kept
    shot(page, "06-form-errors")
    page.get_by_label("Name").fill("Voyager Browser")
    page.get_by_label("Budget").fill("12.5")
    page.get_by_role("button", name="Save").click()
    assert "Project created" in page.locator(".alert").first.inner_text()
    # An empty comment: htmx swaps in the 422 fragment, so the error shows in place.
    page.get_by_role("button", name="Comment").click()
    error = page.locator("#activity #comment-error")
    error.wait_for()
    assert "write something first" in error.inner_text()
    assert page.get_by_label("Add a comment").get_attribute("aria-invalid") == "true"
    shot(page, "07a-comment-error")
    page.get_by_label("Add a comment").fill("Launch approved")
    page.get_by_role("button", name="Comment").click()  # htmx swaps the feed in place
    page.get_by_text("Launch approved").wait_for()
    shot(page, "07-detail")
    page.get_by_role("link", name="Projects").first.click()
    page.get_by_role("searchbox", name="Search").fill("voyager")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_role("link", name="Voyager Browser").is_visible()
    assert "1 record" in page.get_by_text("1 record").inner_text()
    shot(page, "08-list")
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert download.suggested_filename == "projects.csv"
    target = ARTIFACTS / "projects.csv"
    shutil.copy(download.path(), target)
    text = target.read_text()
    assert text.splitlines()[0] == "Name,Budget,Created"
    assert "Voyager Browser,12.50," in text


def test_a_form_without_its_csrf_token_is_refused(page: Any, live: Live) -> None:
    tenant = live.tenant("Csrf Browser Co", ["testkit"])
    log_in(page, live.admin(tenant))
    page.goto("/testkit/projects/new")
    page.evaluate(
        "document.querySelectorAll('main input[name=csrf_token]').forEach(e => e.remove())"
    )
    page.get_by_label("Name").fill("Forged")
    page.get_by_label("Budget").fill("1")
    page.get_by_role("button", name="Save").click()
    assert "the form expired or was forged" in page.content()
    page.goto("/testkit/projects")
    assert page.get_by_role("link", name="Forged").count() == 0


def test_log_in_with_the_keyboard_only(page: Any, live: Live) -> None:
    tenant = live.tenant("Keys Browser Co", ["testkit"])
    email = live.admin(tenant)
    page.goto("/login")
    page.keyboard.type(email)  # the email box has the focus when the page opens
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/")
    assert page.get_by_test_id("tenant-name").inner_text() == "Keys Browser Co"
    page.locator("#user-menu").focus()
    page.keyboard.press("Enter")
    assert page.get_by_role("link", name="Change password").is_visible()


def test_contacts_accounts_list_searches_filters_sorts_and_exports(page: Any, live: Live) -> None:
    from addons.contacts import services as contacts
    from core.db import session
    from core.tenancy import tenant_context

    tenant = live.tenant("Contacts Browser Co", ["contacts"])
    email = live.admin(tenant)
    with live.app.app_context(), tenant_context(tenant.id):
        contacts.create_account({"name": "Zulu Freight", "kinds": ["vendor"]})
        contacts.create_account({"name": "Yankee Mills", "kinds": ["customer"], "tags": ["vip"]})
        contacts.create_account({"name": "Xray Optics", "kinds": ["customer"]})
        session.commit()
    log_in(page, email)
    page.get_by_role("link", name="Contacts").first.click()
    names = page.locator("tbody tr td:first-child")
    assert names.all_inner_texts() == ["Xray Optics", "Yankee Mills", "Zulu Freight"]
    page.get_by_role("link", name="Name").click()  # the sorted column's header flips the order
    assert names.all_inner_texts() == ["Zulu Freight", "Yankee Mills", "Xray Optics"]
    page.get_by_label("Kind").select_option("customer")
    page.get_by_role("button", name="Search").click()
    assert names.all_inner_texts() == ["Yankee Mills", "Xray Optics"]
    page.get_by_role("searchbox", name="Search").fill("mill")
    page.get_by_role("button", name="Search").click()
    assert names.all_inner_texts() == ["Yankee Mills"]
    assert "1 record" in page.get_by_text("1 record").inner_text()
    shot(page, "09-contacts-list")
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert download.suggested_filename == "accounts.csv"
    text = Path(download.path()).read_text()
    assert text.splitlines()[0].startswith("name,kinds,")
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == ["Yankee Mills"]
    page.get_by_role("link", name="Yankee Mills").click()  # contacts' own 360° page
    page.wait_for_url("**/contacts/*")
    assert page.get_by_role("heading", name="Yankee Mills").first.is_visible()


def test_on_a_phone_the_menu_opens_from_the_toggler_with_the_keyboard(
    phone: Any, live: Live
) -> None:
    tenant = live.tenant("Phone Browser Co", ["testkit"])
    log_in(phone, live.admin(tenant))
    toggler = phone.get_by_role("button", name="Toggle navigation")
    projects = phone.get_by_role("navigation", name="Main").get_by_role("link", name="Projects")
    assert toggler.is_visible()
    assert not projects.is_visible()  # collapsed behind the toggler
    shot(phone, "10-phone-collapsed")
    toggler.focus()
    phone.keyboard.press("Enter")
    projects.wait_for(state="visible")
    assert toggler.get_attribute("aria-expanded") == "true"
    shot(phone, "11-phone-menu")
    phone.keyboard.press("Tab")  # focus moves from the toggler into the opened menu
    assert phone.evaluate("document.activeElement.textContent.trim()") == "Dashboard"
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.textContent.trim()") == "Things"
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.textContent.trim()") == "Projects"
    phone.keyboard.press("Enter")
    phone.wait_for_url("**/testkit/projects")
    assert phone.get_by_role("heading", name="Projects").first.is_visible()


def test_without_javascript_the_switcher_and_log_out_still_work(no_js: Any, live: Live) -> None:
    first = live.tenant("Plain First Co", ["testkit"])
    second = live.tenant("Plain Second Co", [])
    log_in(no_js, live.admin(first, second))
    current = no_js.get_by_test_id("tenant-name").inner_text()
    target = "Plain Second Co" if current == "Plain First Co" else "Plain First Co"
    switch = no_js.get_by_role("button", name=target)
    assert switch.is_visible()  # the dropdown's forms are shown inline without JavaScript
    shot(no_js, "12-no-js")
    switch.click()
    no_js.wait_for_load_state()
    assert no_js.get_by_test_id("tenant-name").inner_text() == target
    no_js.get_by_role("button", name="Log out").click()
    no_js.wait_for_load_state()
    assert no_js.get_by_role("link", name="Log in").first.is_visible()
    no_js.goto("/testkit/projects")
    assert "/login" in no_js.url
