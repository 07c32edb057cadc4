"""The contacts pages: list and search, 360° page, forms with field errors, merge, import."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from addons.contacts import services
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
    assert "Nothing here yet matching your search" in client.get("/contacts/?q=zeppelin").get_data(
        as_text=True
    )
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
    bad = client.post(f"{url}/addresses", data={"kind": "billing", "country": "QQ"})
    assert bad.status_code == 422 and "unknown country code" in bad.get_data(as_text=True)
    assert count_rows("contacts_address") == 0  # nothing written
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
    master_id, dup_id = master.id, dup.id
    with as_tenant(tenant):
        session.expire_all()
        assert services.get_account(master_id).merged_into_id is None  # nothing written
        assert services.get_account(master_id).deleted_at is None
    merged = client.post(
        "/contacts/merge", data={"master_id": str(master_id), "duplicate_id": str(dup_id)}
    )
    assert merged.status_code == 303
    assert client.get(f"/contacts/{dup_id}").status_code == 404


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


def names_on(html: str) -> list[str]:
    """The account names the list shows, in order (the links to their 360° pages)."""
    return re.findall(r'<a href="/contacts/[0-9a-f-]{36}">([^<]+)</a>', html)


@pytest.fixture()
def book(tenant, session, as_tenant):
    """Five accounts: kinds, statuses and tags to filter on, names to sort and search."""
    with as_tenant(tenant):
        services.create_account(
            {"name": "Bravo Metals", "kinds": ["vendor"], "email": "sales@bravo.example"}
        )
        services.create_account(
            {"name": "Alpha Foods", "kinds": ["customer"], "tags": ["vip"], "phone": "030 5550"}
        )
        services.create_account({"name": "Delta Tools", "kinds": ["customer", "vendor"]})
        held = services.create_account({"name": "Charlie Paper", "kinds": ["customer"]})
        services.place_on_hold(held.id, "unpaid invoices")
        services.create_account({"name": "Echo Labs", "kinds": ["partner"], "tags": ["vip"]})
        session.flush()
    return tenant


def test_the_accounts_list_sorts_filters_and_pages(client, make_member, book):
    login(client, make_member, book)
    page = client.get("/contacts/").get_data(as_text=True)
    assert names_on(page) == [
        "Alpha Foods",
        "Bravo Metals",
        "Charlie Paper",
        "Delta Tools",
        "Echo Labs",
    ]
    assert "5 records" in page and "on hold</span>" in page
    assert names_on(client.get("/contacts/?sort=-name").get_data(as_text=True))[0] == "Echo Labs"
    # The old links (?kind=, ?status=) still filter.
    customers = names_on(client.get("/contacts/?kind=customer").get_data(as_text=True))
    assert customers == ["Alpha Foods", "Charlie Paper", "Delta Tools"]
    on_hold = names_on(client.get("/contacts/?status=on_hold").get_data(as_text=True))
    assert on_hold == ["Charlie Paper"]
    vip_customers = client.get("/contacts/?tag=vip&kind=customer").get_data(as_text=True)
    assert names_on(vip_customers) == ["Alpha Foods"]
    first = client.get("/contacts/?per_page=2&sort=name").get_data(as_text=True)
    third = client.get("/contacts/?per_page=2&sort=name&page=3").get_data(as_text=True)
    assert names_on(first) == ["Alpha Foods", "Bravo Metals"]
    assert names_on(third) == ["Echo Labs"]
    assert 'aria-current="page">3<' in third


def test_the_accounts_search_box_uses_the_contacts_search(client, make_member, book):
    login(client, make_member, book)
    assert names_on(client.get("/contacts/?q=bravo").get_data(as_text=True)) == ["Bravo Metals"]
    assert names_on(client.get("/contacts/?q=sales@bravo").get_data(as_text=True)) == [
        "Bravo Metals"
    ]
    assert names_on(client.get("/contacts/?q=030-5550").get_data(as_text=True)) == ["Alpha Foods"]
    nothing = client.get("/contacts/?q=%21%21%21")  # only punctuation: nothing to search for
    assert nothing.status_code == 422
    assert "give a name, email or phone" in nothing.get_data(as_text=True)


def test_the_accounts_export_is_the_filtered_list_in_the_import_format(client, make_member, book):
    login(client, make_member, book)
    resp = client.get("/contacts/export.csv?kind=customer&sort=-name")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'filename="accounts.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["name"] for r in rows] == ["Delta Tools", "Charlie Paper", "Alpha Foods"]
    assert rows[2]["kinds"] == "customer" and rows[2]["tags"] == "vip"
    searched = client.get("/contacts/export.csv?q=echo").get_data(as_text=True)
    assert [r["name"] for r in csv.DictReader(io.StringIO(searched))] == ["Echo Labs"]
    page = client.get("/contacts/?q=echo&kind=partner").get_data(as_text=True)
    export_link = re.search(r'href="(/contacts/export.csv[^"]*)"', page).group(1)
    assert "q=echo" in export_link and "kind=partner" in export_link  # the button keeps them


def test_the_accounts_list_and_export_need_the_read_permission(client, make_member, book):
    login(client, make_member, book, roles=["employee"])
    assert client.get("/contacts/").status_code == 403
    assert client.get("/contacts/export.csv").status_code == 403


def test_the_accounts_list_loads_the_primary_contacts_of_a_page_in_one_query(
    count_selects, client, make_member, tenant, session, as_tenant
):
    with as_tenant(tenant):
        for n in range(25):
            account = services.create_account({"name": f"Account {n:02d}"})
            services.add_person(
                {"account_id": str(account.id), "first_name": "Pat", "last_name": f"Person {n:02d}"}
            )
        session.flush()
    login(client, make_member, tenant)

    def statements_for(per_page: int) -> tuple[list[str], str]:
        with count_selects() as seen:
            resp = client.get(f"/contacts/?per_page={per_page}&sort=name")
        assert resp.status_code == 200
        return seen, resp.get_data(as_text=True)

    few, _ = statements_for(5)
    many, html = statements_for(25)
    assert "Pat Person 00" in html and "Pat Person 24" in html  # every row shows its contact
    assert len([s for s in many if "contacts_person.is_primary" in s]) == 1  # one load for the page
    assert len(many) == len(few)  # 25 rows cost no more statements than 5


# --- owner, editing people and addresses, comments, archiving, permissions --------------


@pytest.fixture()
def acme(tenant, session, as_tenant):
    """An account with one person and one address, in `tenant`."""
    with as_tenant(tenant):
        account = services.create_account({"name": "Acme Rockets", "kinds": ["customer"]})
        person = services.add_person(
            {"account_id": str(account.id), "first_name": "Ann", "last_name": "Lee"}
        )
        address = services.add_address(
            account.id, {"kind": "billing", "city": "Berlin", "country": "DE"}
        )
        session.flush()
    # Ids, not the records: a test expires the session, and an expired record cannot be
    # refreshed outside its tenant (PostgreSQL's row security hides it).
    return type(
        "Acme", (), {"account_id": account.id, "person_id": person.id, "address_id": address.id}
    )


def test_the_account_form_chooses_the_owner_among_the_tenants_users(
    client, make_member, make_user, make_tenant, tenant, session, as_tenant, acme
):
    me = login(client, make_member, tenant)
    colleague = make_member(tenant, roles=["sales"], email="colleague@example.com")
    stranger = make_user(make_tenant(), email="stranger@example.com")
    form = client.get(f"/contacts/{acme.account_id}/edit").get_data(as_text=True)
    select_ = re.search(r'<select[^>]*name="owner_id".*?</select>', form, re.S).group(0)
    assert '<label class="form-label" for="owner_id">Owner</label>' in form
    assert "colleague@example.com" in select_ and me.email in select_
    assert "stranger@example.com" not in select_  # another tenant's user is no choice
    base = {"name": "Acme Rockets", "kinds": ["customer"], "status": "active"}
    saved = client.post(
        f"/contacts/{acme.account_id}/edit",
        data={**base, "owner_id": str(colleague.id), "version": "1"},
    )
    assert saved.status_code == 303
    page = client.get(f"/contacts/{acme.account_id}").get_data(as_text=True)
    assert re.search(r'data-testid="owner">[^<]*colleague@example.com', page)
    refused = client.post(
        f"/contacts/{acme.account_id}/edit",
        data={**base, "owner_id": str(stranger.id), "version": "2"},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="owner_id-errors"' in html
    with as_tenant(tenant):
        session.expire_all()
        assert services.get_account(acme.account_id).owner_id == colleague.id  # unchanged


def test_a_person_is_edited_in_a_labelled_form_that_keeps_input_on_error(
    client, make_member, tenant, session, as_tenant, acme
):
    login(client, make_member, tenant)
    page = client.get(f"/contacts/{acme.account_id}").get_data(as_text=True)
    url = f"/contacts/people/{acme.person_id}/edit"
    assert f'href="{url}"' in page
    form = client.get(url).get_data(as_text=True)
    for name, label in (
        ("first_name", "First name"),
        ("last_name", "Last name"),
        ("email", "Email"),
        ("is_primary", "Primary contact"),
    ):
        assert f'<label class="form-label" for="{name}">{label}' in form or (
            f'<label class="form-check-label" for="{name}">{label}</label>' in form
        ), name
    assert 'value="Ann"' in form
    bad = client.post(
        url, data={"first_name": "Annie", "last_name": "Lee", "email": "annie@", "job_title": "CFO"}
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    error = re.search(r'id="email-errors"[^>]*>([^<]*)<', html).group(1)
    assert "not a valid email address" in error  # next to the field it is about
    assert 'value="Annie"' in html and 'value="annie@"' in html and 'value="CFO"' in html
    with as_tenant(tenant):
        session.expire_all()
        person = services.get_person(acme.person_id)
        assert (person.first_name, person.email, person.job_title) == ("Ann", None, None)
    ok = client.post(
        url,
        data={
            "first_name": "Annie",
            "last_name": "Lee",
            "email": "annie@acme.example",
            "is_primary": "1",
        },
    )
    assert ok.status_code == 303
    assert ok.headers["Location"].endswith(f"/contacts/{acme.account_id}")
    with as_tenant(tenant):
        session.expire_all()
        person = services.get_person(acme.person_id)
        assert (person.first_name, person.email, person.is_primary) == (
            "Annie",
            "annie@acme.example",
            True,
        )


def test_an_address_is_edited_in_a_labelled_form_that_keeps_input_on_error(
    client, make_member, tenant, session, as_tenant, acme
):
    login(client, make_member, tenant)
    url = f"/contacts/addresses/{acme.address_id}/edit"
    assert f'href="{url}"' in client.get(f"/contacts/{acme.account_id}").get_data(as_text=True)
    form = client.get(url).get_data(as_text=True)
    assert '<label class="form-label" for="city">City' in form and 'value="Berlin"' in form
    assert '<label class="form-label" for="country">Country' in form
    bad = client.post(url, data={"kind": "billing", "city": "Lyon", "country": "QQ"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "unknown country code" in re.search(r'id="country-errors"[^>]*>([^<]*)<', html).group(1)
    assert 'value="Lyon"' in html and 'value="QQ"' in html
    with as_tenant(tenant):
        session.expire_all()
        assert services.get_address(acme.address_id).city == "Berlin"  # nothing written
    ok = client.post(url, data={"kind": "shipping", "city": "Lyon", "country": "fr"})
    assert ok.status_code == 303
    with as_tenant(tenant):
        session.expire_all()
        address = services.get_address(acme.address_id)
        assert (address.kind, address.city, address.country) == ("shipping", "Lyon", "FR")


def test_adding_a_person_with_an_error_shows_the_form_with_the_input(
    client, make_member, tenant, acme
):
    login(client, make_member, tenant)
    before = count_rows("contacts_person")
    resp = client.post(
        f"/contacts/{acme.account_id}/people",
        data={"first_name": "Bob", "last_name": "", "email": "bob@acme.example"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "last_name is required" in re.search(r'id="last_name-errors"[^>]*>([^<]*)<', html).group(
        1
    )
    assert 'value="Bob"' in html and 'value="bob@acme.example"' in html
    assert count_rows("contacts_person") == before


def test_comments_join_the_account_activity_feed(
    client, make_member, tenant, session, as_tenant, acme
):
    login(client, make_member, tenant, roles=["read_only"])  # commenting needs only read
    url = f"/contacts/{acme.account_id}"
    page = client.get(url).get_data(as_text=True)
    assert f'action="{url}/comments"' in page and 'for="comment-body">Add a comment' in page
    posted = client.post(f"{url}/comments", data={"body": "Called <b>Ann</b> about renewal"})
    assert posted.status_code == 303
    html = client.get(url).get_data(as_text=True)
    assert "Called &lt;b&gt;Ann&lt;/b&gt; about renewal" in html and "commented" in html
    swapped = client.post(f"{url}/comments", data={"body": "via htmx"}, headers={"HX-Request": "1"})
    fragment = swapped.get_data(as_text=True)
    assert swapped.status_code == 200 and fragment.lstrip().startswith('<section id="activity"')
    assert "via htmx" in fragment and "<html" not in fragment
    before = count_rows("core_comment")
    empty = client.post(f"{url}/comments", data={"body": "   "})
    assert empty.status_code == 422
    assert "write something first" in empty.get_data(as_text=True)
    assert count_rows("core_comment") == before


def test_archiving_an_account_from_its_page(client, make_member, tenant, session, as_tenant, acme):
    reader = client.application.test_client()
    login(reader, make_member, tenant, roles=["read_only"])
    assert reader.post(f"/contacts/{acme.account_id}/delete").status_code == 403
    login(client, make_member, tenant)
    page = client.get(f"/contacts/{acme.account_id}").get_data(as_text=True)
    assert f'action="/contacts/{acme.account_id}/delete"' in page
    resp = client.post(f"/contacts/{acme.account_id}/delete")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/contacts/")
    listing = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Account archived" in listing and "Acme Rockets" not in names_on(listing)
    assert client.get(f"/contacts/{acme.account_id}").status_code == 404
    with as_tenant(tenant):
        archived = session.scalar(
            select(Account)
            .where(Account.id == acme.account_id)
            .execution_options(include_deleted=True)
        )
        assert archived is not None and archived.deleted_at is not None  # kept, not deleted


@pytest.mark.parametrize(
    ("role", "refused"),
    [
        ("read_only", ("create", "update", "delete")),
        ("purchasing", ("update", "delete")),  # may add people, not change or remove them
    ],
)
def test_people_writes_need_their_permission_on_the_web(
    client, make_member, tenant, session, as_tenant, acme, role, refused
):
    login(client, make_member, tenant, roles=[role])
    routes = {
        "create": (f"/contacts/{acme.account_id}/people", {"last_name": "Intruder"}),
        "update": (f"/contacts/people/{acme.person_id}/edit", {"last_name": "Changed"}),
        "delete": (f"/contacts/people/{acme.person_id}/delete", {}),
    }
    before = count_rows("contacts_person")
    for action in refused:
        path, data = routes[action]
        assert client.post(path, data=data).status_code == 403, action
    if "update" in refused:
        assert client.get(routes["update"][0]).status_code == 403
    page = client.get(f"/contacts/{acme.account_id}").get_data(as_text=True)
    assert f"/contacts/people/{acme.person_id}/edit" not in page  # no link to what is refused
    assert count_rows("contacts_person") == before
    with as_tenant(tenant):
        session.expire_all()
        person = services.get_person(acme.person_id)
        assert person.last_name == "Lee" and person.deleted_at is None


@pytest.mark.parametrize(
    ("role", "refused"),
    [("read_only", ("create", "update", "delete")), ("purchasing", ("update", "delete"))],
)
def test_people_writes_need_their_permission_in_the_api(
    client, api_headers, tenant, session, as_tenant, acme, role, refused
):
    headers = api_headers(tenant, roles=[role])
    base = "/api/v1/contacts/people"
    calls = {
        "create": [
            ("post", base, {"account_id": str(acme.account_id), "last_name": "X"}),
            (
                "post",
                f"{base}/bulk",
                {"items": [{"account_id": str(acme.account_id), "last_name": "X"}]},
            ),
        ],
        "update": [
            ("patch", f"{base}/{acme.person_id}", {"last_name": "Changed"}),
            (
                "put",
                f"{base}/{acme.person_id}",
                {"account_id": str(acme.account_id), "last_name": "Changed"},
            ),
        ],
        "delete": [("delete", f"{base}/{acme.person_id}", None)],
    }
    before = count_rows("contacts_person")
    for action in refused:
        for method, path, body in calls[action]:
            resp = getattr(client, method)(path, json=body, headers=headers)
            assert resp.status_code == 403, (action, method, path)
            assert resp.get_json()["error"]["code"] == "AUTHORIZATION_ERROR"
    assert count_rows("contacts_person") == before
    with as_tenant(tenant):
        session.expire_all()
        assert services.get_person(acme.person_id).last_name == "Lee"
