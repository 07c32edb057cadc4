"""The extension points, proved by a test addon (`ext_addon`, a credit limit in its own table):
360° panels, form sections, API fields, the status veto, change reactions, merge references."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from addons.contacts import services
from addons.contacts.models import Account
from addons.contacts.tests.ext_addon import hooks as ext
from addons.contacts.tests.ext_addon.manifest import manifest as ext_manifest
from core import create_app
from core import services as kernel
from core.db import Database, get_db, session
from core.errors import DomainError, ValidationError
from core.tenancy import system_context, tenant_context

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def ext_app(app: Flask, db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app with the test addon installed (depends on `app`, which built the schema)."""
    application = create_app(
        {
            "database_url": db_url,
            "testing": True,
            "csrf": False,
            "secure_cookies": False,
            "instance_path": str(tmp_path_factory.mktemp("ext-instance")),
            "secret_key": "test-secret-of-at-least-32-bytes-long",
            "extra_addons": [ext_manifest],
        }
    )
    yield application
    get_db(application).dispose()


@pytest.fixture()
def world(ext_app: Flask) -> Iterator[Any]:
    """The ext app in a context, a tenant with contacts + the addon, all rolled back after."""
    database: Database = get_db(ext_app)
    conn = database.engine.connect()
    trans = conn.begin()
    database.bind_to(conn)
    ext.CALLS.clear()
    try:
        with ext_app.app_context():
            ext.create_table()
            with system_context():
                tenant = kernel.create_tenant(f"ext-{id(conn)}", "Ext")
            with tenant_context(tenant.id):
                yield type("World", (), {"app": ext_app, "tenant": tenant})
    finally:
        database.bind_to(database.engine)
        trans.rollback()
        conn.close()


def test_api_fields_are_read_and_written_through_the_addons_table(world):
    account = services.create_account({"name": "Acme", "credit_limit": "5000"})
    assert ext.limit_of(account.id) == 5000
    assert services.extra_fields(account) == {"credit_limit": "5000.00", "credit_source": "ext"}
    with pytest.raises(ValidationError) as err:
        services.update_account(account.id, {"credit_limit": "-1"})
    assert "credit_limit" in err.value.details
    with pytest.raises(ValidationError) as err:
        services.update_account(account.id, {"no_one_owns_this": 1})
    assert err.value.details == {"no_one_owns_this": ["unknown field"]}


def test_a_hook_vetoes_a_release_and_nothing_changes(world):
    account = services.create_account({"name": "Risky", "credit_limit": "0"})
    services.place_on_hold(account.id, reason="overdue")
    with pytest.raises(DomainError) as err:
        services.release(account.id)
    assert err.value.code == "CREDIT_HOLD"
    assert account.status == "on_hold"
    services.update_account(account.id, {"credit_limit": "100"})
    services.release(account.id, reason="limit raised")
    assert account.status == "active"
    actions = [c[0] for c in ext.CALLS]
    assert actions[0] == "created" and actions.count("status_changed") == 2
    assert ("status_changing", ("active", "on_hold", "overdue")) in ext.CALLS


def test_merge_moves_the_addons_references(world):
    master = services.create_account({"name": "Master", "email": "a@x.example"})
    dup = services.create_account({"name": "Dup", "email": "a@x.example", "credit_limit": "70"})
    services.merge_accounts(master.id, dup.id)
    assert ext.limit_of(master.id) == 70 and ext.limit_of(dup.id) is None
    assert ("merged", {"merged": [str(dup.id), str(master.id)]}) in [
        (a, {k: v for k, v in c.items() if k == "merged"}) for a, c in ext.CALLS
    ]


def test_panels_form_sections_and_api_fields_on_the_pages(world):
    with system_context():
        kernel.create_user(
            "ext@example.com", tenant_slug=world.tenant.slug, password=PASSWORD, roles=["sales"]
        )
    session.flush()
    client = world.app.test_client()
    assert client.post(
        "/login",
        data={"email": "ext@example.com", "password": PASSWORD, "tenant": world.tenant.slug},
    ).status_code in (302, 303)
    form = client.get("/contacts/new").get_data(as_text=True)
    assert "Credit limit" in form and 'name="credit_limit"' in form
    created = client.post("/contacts/new", data={"name": "Panelled", "credit_limit": "1234"})
    assert created.status_code == 303
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "Credit limit: 1234.00" in page
    bad = client.post("/contacts/new", data={"name": "Bad", "credit_limit": "lots"})
    assert bad.status_code == 422 and "not a valid amount" in bad.get_data(as_text=True)

    token = client.post(
        "/api/v1/auth/login",
        json={"email": "ext@example.com", "password": PASSWORD, "tenant": world.tenant.slug},
    )
    headers = {"Authorization": f"Bearer {token.get_json()['data']['access_token']}"}
    account_id = created.headers["Location"].rstrip("/").split("/")[-1]
    body = client.get(f"/api/v1/contacts/accounts/{account_id}", headers=headers).get_json()
    assert body["data"]["credit_limit"] == "1234.00"
    patched = client.patch(
        f"/api/v1/contacts/accounts/{account_id}", json={"credit_limit": "10"}, headers=headers
    )
    assert patched.get_json()["data"]["credit_limit"] == "10.00"


def test_the_addons_hooks_are_silent_for_a_tenant_that_disabled_it(world):
    from core.registry import current_registry

    current_registry().disable(world.tenant.id, ["contacts_credit"])
    with pytest.raises(ValidationError):
        services.create_account({"name": "No credit here", "credit_limit": "5"})
    assert ext.CALLS == []


def _api_headers(world: Any, client: Any, email: str) -> dict[str, str]:
    with system_context():
        kernel.create_user(email, tenant_slug=world.tenant.slug, password=PASSWORD, roles=["sales"])
    session.flush()
    token = client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": PASSWORD, "tenant": world.tenant.slug},
    )
    return {"Authorization": f"Bearer {token.get_json()['data']['access_token']}"}


def test_the_openapi_document_shows_the_addons_fields_only_where_it_is_enabled(world):
    client = world.app.test_client()
    headers = _api_headers(world, client, "doc@example.com")
    document = client.get("/api/v1/openapi.json", headers=headers).get_json()
    schemas = document["components"]["schemas"]
    # fields= picks among contacts' own fields only (the addon's come with the full record).
    listing = document["paths"]["/api/v1/contacts/accounts"]["get"]["parameters"]
    sparse = next(p for p in listing if p["name"] == "fields")
    assert "credit_limit" not in sparse["description"] and "name" in sparse["description"]
    picked = client.get("/api/v1/contacts/accounts?fields=credit_limit", headers=headers)
    assert picked.status_code == 422
    limit = schemas["ContactsAccounts"]["properties"]["credit_limit"]
    assert limit["type"] == "string" and limit.get("nullable") is True  # an exact decimal
    assert "credit_limit" in schemas["ContactsAccountsCreate"]["properties"]
    assert "credit_limit" in schemas["ContactsAccountsPatch"]["properties"]

    with system_context():
        other = kernel.create_tenant(f"plain-{id(world)}", "Plain")  # every addon but this one
    from core.registry import current_registry

    assert "contacts_credit" in current_registry().enabled_addons(other.id)
    current_registry().disable(other.id, ["contacts_credit"])
    plain = type("World", (), {"app": world.app, "tenant": other})
    others = _api_headers(plain, client, "plain@example.com")
    plain_schemas = client.get("/api/v1/openapi.json", headers=others).get_json()["components"][
        "schemas"
    ]
    assert "credit_limit" not in plain_schemas["ContactsAccounts"]["properties"]
    assert "credit_limit" not in plain_schemas["ContactsAccountsCreate"]["properties"]


def test_the_declared_field_validates_what_the_api_receives(world):
    client = world.app.test_client()
    headers = _api_headers(world, client, "val@example.com")
    before = session.execute(select(func.count()).select_from(ext.credit)).scalar_one()
    bad = client.post(
        "/api/v1/contacts/accounts",
        json={"name": "Bad limit", "credit_limit": "lots", "email": "nope@"},
        headers=headers,
    )
    assert bad.status_code == 422
    details = bad.get_json()["error"]["details"]
    assert details["credit_limit"] == ["not a valid amount"] and "email" in details  # both named
    negative = client.post(
        "/api/v1/contacts/accounts", json={"name": "Neg", "credit_limit": -5}, headers=headers
    )
    assert negative.status_code == 422
    assert negative.get_json()["error"]["details"] == {"credit_limit": ["must be zero or more"]}
    assert session.execute(select(func.count()).select_from(ext.credit)).scalar_one() == before
    assert session.scalar(select(func.count()).select_from(Account)) == 0  # nothing written
    good = client.post(
        "/api/v1/contacts/accounts", json={"name": "Good", "credit_limit": 12.5}, headers=headers
    )
    assert good.status_code == 201 and good.get_json()["data"]["credit_limit"] == "12.50"


def test_a_page_of_accounts_asks_the_addon_once(world):
    client = world.app.test_client()
    headers = _api_headers(world, client, "page@example.com")
    for n in range(7):
        services.create_account({"name": f"Acct {n}", "credit_limit": str(n)})
    session.flush()
    ext.CALLS.clear()
    rows = client.get("/api/v1/contacts/accounts?per_page=5", headers=headers).get_json()["data"]
    assert [r["credit_limit"] for r in rows] == ["0.00", "1.00", "2.00", "3.00", "4.00"]
    assert [c for c in ext.CALLS if c[0] == "extra_fields"] == [("extra_fields", 5)]


def test_the_csv_export_writes_declared_addon_fields_only_and_reads_back(world):
    from addons.contacts import transfer

    account = services.create_account({"name": "Exported", "credit_limit": "250"})

    text = transfer.export_csv([account])

    header = text.splitlines()[0].split(",")
    assert "credit_limit" in header and "credit_source" not in header
    services.delete_account(account.id)
    result = transfer.import_accounts(text)
    assert result.errors == [] and result.accounts == 1
    [again] = services.list_accounts(q="Exported").items
    assert ext.limit_of(again.id) == 250
