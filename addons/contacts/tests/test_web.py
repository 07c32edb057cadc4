"""The contacts pages: list and search, 360° page, forms with field errors, merge, import."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from addons.contacts.models import Account
from tests.fixtures import count_rows


@pytest.fixture()
def tenant(make_tenant):
    return make_tenant()


def login(client, make_member, tenant, roles=("sales",)):
    user = make_member(tenant, roles=list(roles))
    resp = client.post(
        "/login",
        data={"email": user.email, "password": "correct horse battery", "tenant": tenant.slug},
    )
    assert resp.status_code in (302, 303)
    return user


def new_account(client, **form):
    data = {
        "name": "Acme Rockets",
        "kinds": ["customer"],
        "email": "boom@acme.example",
        "phone": "+49 30 123456",
        **form,
    }
    return client.post("/contacts/new", data=data)


def account_named(session, as_tenant, tenant, name):
    with as_tenant(tenant):
        return session.scalar(select(Account).where(Account.name == name))


def test_create_show_edit_and_search_an_account(client, make_member, tenant, session, as_tenant):
    login(client, make_member, tenant)
    resp = new_account(client, annual_revenue="2500000", tags="vip, eu")
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Acme Rockets" in html and "2,500,000.00" in html and "vip" in html
    assert "created" in html  # the activity feed shows the audit entry

    account = account_named(session, as_tenant, tenant, "Acme Rockets")
    edit = client.post(
        f"/contacts/{account.id}/edit",
        data={
            "name": "Acme Rockets GmbH",
            "kinds": ["customer", "vendor"],
            "status": "active",
            "email": "boom@acme.example",
            "version": str(account.version),
        },
    )
    assert edit.status_code == 303
    listing = client.get("/contacts/?q=rockets").get_data(as_text=True)
    assert "Acme Rockets GmbH" in listing and "customer, vendor" in listing
    assert "No accounts" in client.get("/contacts/?q=zeppelin").get_data(as_text=True)
    stale = client.post(f"/contacts/{account.id}/edit", data={"name": "Late edit", "version": "1"})
    assert stale.status_code == 409 and "changed by someone else" in stale.get_data(as_text=True)


def test_form_errors_name_the_field_and_save_nothing(client, make_member, tenant):
    login(client, make_member, tenant)
    before = count_rows("contacts_account")
    resp = new_account(client, name="", email="not-an-email")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "name is required" in html and "not a valid email address" in html
    assert count_rows("contacts_account") == before


def test_people_addresses_and_hold_from_the_account_page(
    client, make_member, tenant, session, as_tenant
):
    login(client, make_member, tenant)
    new_account(client)
    account = account_named(session, as_tenant, tenant, "Acme Rockets")
    url = f"/contacts/{account.id}"
    client.post(f"{url}/people", data={"first_name": "Ann", "last_name": "Lee"})
    bad = client.post(
        f"{url}/addresses", data={"kind": "billing", "country": "QQ"}, follow_redirects=True
    )
    assert "unknown country code" in bad.get_data(as_text=True)
    client.post(f"{url}/addresses", data={"kind": "billing", "city": "Berlin", "country": "DE"})
    client.post(f"{url}/hold", data={"reason": "credit"})
    html = client.get(url).get_data(as_text=True)
    assert "Ann Lee" in html and "primary" in html and "Berlin" in html and "on hold" in html


def test_duplicates_page_and_merge(client, make_member, tenant, session, as_tenant):
    login(client, make_member, tenant)
    new_account(client, name="Acme", email="hq@acme.example")
    new_account(client, name="ACME Inc", email="HQ@acme.example")
    page = client.get("/contacts/duplicates").get_data(as_text=True)
    assert "hq@acme.example" in page and "ACME Inc" in page
    master = account_named(session, as_tenant, tenant, "Acme")
    dup = account_named(session, as_tenant, tenant, "ACME Inc")
    itself = client.post(
        "/contacts/merge",
        data={"master_id": str(master.id), "duplicate_id": str(master.id)},
        follow_redirects=True,
    )
    assert "cannot merge an account with itself" in itself.get_data(as_text=True)
    merged = client.post(
        "/contacts/merge", data={"master_id": str(master.id), "duplicate_id": str(dup.id)}
    )
    assert merged.status_code == 303
    assert client.get(f"/contacts/{dup.id}").status_code == 404


def test_import_preview_then_confirm_and_export(client, make_member, tenant):
    login(client, make_member, tenant)
    csv_text = (
        "name,kinds,email,billing_city,billing_country,contact_first_name,"
        "contact_last_name\n"
        "Umbrella,customer;partner,info@umbrella.example,Lyon,FR,Ada,King\n"
        ",,,,,Bob,Stone\n"
        "Broken,customer,not-an-email,,,,\n"
    )
    preview = client.post(
        "/contacts/import",
        data={"file": (io.BytesIO(csv_text.encode()), "accounts.csv"), "skip_bad_rows": "1"},
        content_type="multipart/form-data",
    )
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "line 4" in html and "email" in html and "1 account(s), 2 person(s)" in html
    assert count_rows("contacts_account") == 0  # a preview writes nothing
    done = client.post(
        "/contacts/import", data={"csv_text": csv_text, "confirm": "1", "skip_bad_rows": "1"}
    )
    assert done.status_code == 303
    exported = client.get("/contacts/export.csv").get_data(as_text=True)
    assert "Umbrella,customer;partner" in exported and "Broken" not in exported


def test_pages_need_permissions_and_hide_other_tenants(
    client, make_member, tenant, make_tenant, session, as_tenant
):
    other = make_tenant()
    login(client, make_member, other)
    new_account(client, name="Theirs")
    theirs = account_named(session, as_tenant, other, "Theirs")
    client.post("/logout")
    client.cookie_jar.clear() if hasattr(client, "cookie_jar") else None
    fresh = client.application.test_client()
    login(fresh, make_member, tenant, roles=["employee"])
    assert fresh.get("/contacts/").status_code == 403
    reader = client.application.test_client()
    login(reader, make_member, tenant, roles=["read_only"])
    assert reader.get("/contacts/").status_code == 200
    assert reader.get("/contacts/new").status_code == 403
    assert reader.get(f"/contacts/{theirs.id}").status_code == 404
