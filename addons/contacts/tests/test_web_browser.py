# ruff: noqa: F811 - the kernel's browser fixtures are imported, then taken as arguments
"""contacts' account page in a real browser (the kernel's browser-test server: CSRF on, real
commits): a comment through htmx, a person edited with the error by its field, the owner
chosen. Screenshots under test-artifacts/browser/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_web_browser import (  # noqa: F401 - the kernel's browser fixtures
    Live,
    artifacts,
    browser,
    live,
    log_in,
    page,
    shot,
)

pytestmark = pytest.mark.browser


def test_an_account_page_takes_comments_person_edits_and_an_owner(page: Any, live: Live) -> None:
    from addons.contacts import services as contacts
    from core.db import session
    from core.tenancy import tenant_context

    tenant = live.tenant("Contacts People Co", ["contacts"])
    with live.app.app_context(), tenant_context(tenant.id):
        account = contacts.create_account({"name": "Kilo Labs", "kinds": ["customer"]})
        contacts.add_person(
            {"account_id": str(account.id), "first_name": "Ann", "last_name": "Lee"}
        )
        session.commit()
        account_id = account.id
    email = live.admin(tenant)
    log_in(page, email)
    url = f"/contacts/{account_id}"
    page.goto(url)

    page.get_by_role("button", name="Comment").click()  # empty: refused by the box
    assert "write something first" in page.locator("#comment-error").inner_text()
    page.get_by_label("Add a comment").fill("Renewal due in May")
    page.get_by_role("button", name="Comment").click()
    page.wait_for_function(
        "t => document.querySelector('#activity').innerText.includes(t)", arg="Renewal due in May"
    )
    assert page.url.endswith(url)  # swapped in place, no reload
    assert page.locator("#comment-error").count() == 0

    page.get_by_role("link", name="Edit Ann Lee").click()
    page.wait_for_url("**/contacts/people/*/edit")
    page.get_by_label("Email").fill("ann@")
    page.get_by_label("Job title").fill("CFO")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert page.get_by_label("Email").get_attribute("aria-invalid") == "true"
    assert "not a valid email address" in page.locator("#email-errors").inner_text()
    assert page.get_by_label("Job title").input_value() == "CFO"  # what was typed is kept
    shot(page, "contacts-01-person-error")
    page.get_by_label("Email").fill("ann@kilo.example")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**{url}")
    assert "Person saved" in page.locator(".alert").first.inner_text()
    assert "ann@kilo.example" in page.get_by_role("region", name="People").inner_text()

    page.get_by_role("link", name="Edit", exact=True).click()  # the account's own form
    page.wait_for_url(f"**{url}/edit")
    me = page.locator("#owner_id option", has_text=email).get_attribute("value")
    page.get_by_label("Owner").select_option(me)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**{url}")
    assert email in page.get_by_test_id("owner").inner_text()
    shot(page, "contacts-02-account-page")
