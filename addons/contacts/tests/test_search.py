"""Account search on both databases: PostgreSQL full-text, SQLite FTS5 (contacts_account_fts).

Every test here runs on both databases and expects the same accounts back, except where a
test says the databases differ (accent folding and ranking: SQLite only).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, event, insert, inspect, text, update

from addons.contacts import services
from addons.contacts.models import Account
from core import migrate
from core.db import get_db, session
from core.errors import ValidationError
from tests.fixtures import app_on, count_rows, fresh_database

FTS_TABLES = {
    "contacts_account_fts",
    *(f"contacts_account_fts_{s}" for s in ("data", "idx", "content", "docsize", "config")),
}
FTS_TRIGGERS = {f"contacts_account_fts_{t}" for t in ("insert", "update", "delete")}


def on_sqlite() -> bool:
    return session.get_bind().dialect.name == "sqlite"


def names(q: str, **kw) -> list[str]:
    return [a.name for a in services.search_accounts(q, **kw)]


@pytest.fixture()
def book(acme, make_account):
    """A few accounts with names, emails and phones to search for."""
    make_account("Acme Rockets", email="boom@acme.example", phone="+49 30 1234 5678")
    make_account("Globex Corporation", email="info@globex.example", phone="+1 (555) 010-9999")
    make_account("Umbrella", email="contact@umbrella.example")
    make_account("Müller Werkzeuge", email="info@mueller.example")
    return acme


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("globex", ["Globex Corporation"]),  # a word of the name
        ("Corporation", ["Globex Corporation"]),  # another word, any case
        ("glo", ["Globex Corporation"]),  # a prefix
        ("umbr", ["Umbrella"]),
        ("contact@umbrella.example", ["Umbrella"]),  # the whole email
        ("contact", ["Umbrella"]),  # its local part
        ("boom@acme", ["Acme Rockets"]),  # the start of an email, as it is typed
        ("boom@", ["Acme Rockets"]),
        ("info@m", ["Müller Werkzeuge"]),
        ("Info@Globex", ["Globex Corporation"]),
        ("müller", ["Müller Werkzeuge"]),
        ("MÜLLER", ["Müller Werkzeuge"]),
        ("werk", ["Müller Werkzeuge"]),
        ("zeppelin", []),
        ("nothing-like-this", []),
    ],
)
def test_search_by_a_word_a_prefix_or_an_email(book, q, found):
    assert names(q) == found


@pytest.mark.parametrize(
    "q",
    [
        "5550109999",
        "555 010 9999",
        "(555) 010-9999",
        "+1 555-010-9999",
        "+1.555.010.9999",
        "15550109999",
        "010-9999",  # a run of digits inside the number
        "9999",
    ],
)
def test_a_phone_is_found_however_it_is_typed(book, q):
    assert names(q) == ["Globex Corporation"]


def test_phone_digits_must_appear_in_that_order(book):
    # Acme's phone is +49 30 1234 5678: a German 030 number, but typed with the trunk 0.
    assert names("030 12345678") == []
    assert names("30 1234 5678") == ["Acme Rockets"]


def test_an_email_prefix_may_match_several(book):
    assert sorted(names("info@")) == ["Globex Corporation", "Müller Werkzeuge"]


def test_every_word_must_match_in_any_order(book):
    assert names("acme rockets") == ["Acme Rockets"]
    assert names("rockets acme") == ["Acme Rockets"]
    assert names("roc acm") == ["Acme Rockets"]
    assert names("acme zeppelin") == []
    # Words may come from different fields: the name and the email.
    assert names("globex info@globex") == ["Globex Corporation"]


def test_an_email_domain_is_found_on_sqlite(book):
    if not on_sqlite():
        pytest.skip("PostgreSQL keeps an email as one word: its domain alone is not found")
    assert names("umbrella.example") == ["Umbrella"]
    assert names("globex.example") == ["Globex Corporation"]


def test_accents_are_folded_on_sqlite(book, make_account):
    if not on_sqlite():
        pytest.skip("PostgreSQL's 'simple' configuration keeps accents: muller misses Müller")
    make_account("Crème Brûlée Bakery")
    assert names("muller") == ["Müller Werkzeuge"]
    assert names("creme brulee") == ["Crème Brûlée Bakery"]
    assert names("crème") == ["Crème Brûlée Bakery"]


def test_a_name_hit_ranks_above_an_email_hit_on_sqlite(acme, make_account):
    make_account("Alpha Trading", email="zenith@alpha.example")
    make_account("Zenith Steel")
    # Both databases find both; PostgreSQL lists them by name, SQLite by bm25 rank.
    assert set(names("zenith")) == {"Alpha Trading", "Zenith Steel"}
    if on_sqlite():
        assert names("zenith") == ["Zenith Steel", "Alpha Trading"]


def test_the_limit_is_kept(acme, make_account):
    for n in range(5):
        make_account(f"Acme {n}")
    assert len(services.search_accounts("acme", limit=3)) == 3
    assert len(services.search_accounts("acme")) == 5


@pytest.mark.parametrize("q", ["", "   ", "!!!", "-", "@@ --", "***", '"', "()", "12"])
def test_nothing_to_search_for_is_a_validation_error_naming_q(acme, make_account, q):
    make_account("Acme 12")
    if q == "12":  # two digits are a word, not nothing
        assert names(q) == ["Acme 12"]
        return
    with pytest.raises(ValidationError) as err:
        services.search_accounts(q)
    assert "q" in err.value.details


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ('"acme', ["Acme Rockets"]),  # an unbalanced quote
        ('acme"', ["Acme Rockets"]),
        ('"acme rockets"', ["Acme Rockets"]),
        ("acme*", ["Acme Rockets"]),
        ("*acme", ["Acme Rockets"]),
        ("acme AND rockets", []),  # AND is a word to find, not an operator
        ("acme OR globex", []),
        ("NEAR(acme globex)", []),
        ("acme NOT rockets", []),
        ("-rockets", ["Acme Rockets"]),
        ("acme -rockets", ["Acme Rockets"]),
        ("name:acme", []),  # no column filter: "name:acme" is the words name and acme
        ("{name}: acme", []),
        ("^acme", ["Acme Rockets"]),
        ("acme^", ["Acme Rockets"]),
        ("o'brien", []),
        ("100%", []),
        ("a_b", []),
        ("\\acme", ["Acme Rockets"]),
        ("acme\x00", ["Acme Rockets"]),
        ("'; DROP TABLE contacts_account; --", []),
        ("acme)", ["Acme Rockets"]),
        ("(acme", ["Acme Rockets"]),
        ("acme + rockets", ["Acme Rockets"]),
    ],
)
def test_special_characters_are_text_not_syntax(book, q, found):
    assert names(q) == found


@pytest.mark.parametrize("q", ['"', '"acme', "acme OR", "NEAR(", "*", "a:b:c", "{x}", "%", "\\"])
def test_special_characters_through_the_api_are_results_or_a_422_naming_q(
    client, api_headers, make_tenant, q
):
    headers = api_headers(make_tenant(), roles=["sales"])
    resp = client.get("/api/v1/contacts/search", query_string={"q": q}, headers=headers)
    assert resp.status_code in (200, 422), resp.get_json()
    if resp.status_code == 422:
        assert "q" in resp.get_json()["error"]["details"]


def test_a_renamed_account_is_found_by_its_new_name_only(book):
    globex = services.search_accounts("globex")[0]
    services.update_account(globex.id, {"name": "Initech"})
    assert names("initech") == ["Initech"]
    assert names("corporation") == []
    assert names("info@globex") == ["Initech"]  # its email did not change
    services.update_account(globex.id, {"email": "hq@initech.example", "phone": "0800 123"})
    assert names("info@globex") == [] and names("globex") == []
    assert names("5550109999") == []
    assert names("hq@initech") == ["Initech"]
    assert names("0800123") == ["Initech"]


def test_writes_outside_the_services_keep_the_search_right(book):
    # A bulk ORM update and raw SQL: the SQLite index follows through its triggers.
    session.execute(update(Account).where(Account.name == "Umbrella").values(name="Parasol"))
    assert names("parasol") == ["Parasol"]
    assert names("contact@umbrella") == ["Parasol"]
    session.execute(
        text("UPDATE contacts_account SET email = 'rain@cover.example' WHERE name = 'Parasol'")
    )
    assert names("contact@umbrella") == []
    assert names("rain@cover") == ["Parasol"]
    if on_sqlite():  # an upsert that replaces the row must not leave it in the index twice
        session.execute(
            text(
                "INSERT OR REPLACE INTO contacts_account SELECT * FROM contacts_account "
                "WHERE name = 'Parasol'"
            )
        )
        assert names("parasol") == ["Parasol"]
    session.execute(delete(Account).where(Account.name == "Parasol"))
    assert names("parasol") == []
    if on_sqlite():
        assert count_rows("contacts_account_fts") == count_rows("contacts_account")


def test_an_archived_account_is_not_found(book):
    umbrella = services.search_accounts("umbrella")[0]
    services.delete_account(umbrella.id)
    assert names("umbrella") == []
    assert services.list_accounts(q="umbrella").total == 0


def test_an_account_on_hold_or_inactive_is_still_found(book):
    globex = services.search_accounts("globex")[0]
    services.place_on_hold(globex.id)
    assert names("globex") == ["Globex Corporation"]
    services.set_status(globex.id, "inactive")
    assert names("globex") == ["Globex Corporation"]


def test_a_merged_duplicate_is_not_found_and_the_master_is_found_by_what_it_took(
    acme, make_account
):
    master = make_account("Initech")
    duplicate = make_account("Initech Inc", email="hq@initech.example", phone="+1 555 0100 222")
    services.merge_accounts(master.id, duplicate.id)
    assert names("initech") == ["Initech"]
    assert names("hq@initech") == ["Initech"]  # the master took the duplicate's email
    assert names("5550100222") == ["Initech"]


def test_another_tenants_account_of_the_same_name_is_never_found(make_tenant, as_tenant):
    one, two = make_tenant(), make_tenant()
    with as_tenant(one):
        ours = services.create_account({"name": "Acme Rockets", "phone": "+1 555 010 7777"})
    with as_tenant(two):
        theirs = services.create_account({"name": "Acme Rockets", "phone": "+1 555 010 7777"})
        assert [a.id for a in services.search_accounts("acme")] == [theirs.id]
        assert [a.id for a in services.search_accounts("5550107777")] == [theirs.id]
        assert [a.id for a in services.list_accounts(q="acme rockets").items] == [theirs.id]
        assert services.list_accounts(q="acme").total == 1
    with as_tenant(one):
        assert [a.id for a in services.search_accounts("acme")] == [ours.id]
        services.delete_account(ours.id)
        assert services.search_accounts("acme") == []
    with as_tenant(two):
        assert [a.id for a in services.search_accounts("acme")] == [theirs.id]


def test_the_api_search_answers_the_same(client, api_headers, make_tenant, as_tenant):
    tenant = make_tenant()
    with as_tenant(tenant):
        services.create_account({"name": "Globex", "phone": "+1 (555) 010-9999"})
    headers = api_headers(tenant, roles=["sales"])
    found = client.get("/api/v1/contacts/search?q=555%20010%209999", headers=headers)
    assert [a["name"] for a in found.get_json()["data"]] == ["Globex"]
    empty = client.get("/api/v1/contacts/search?q=%22%22", headers=headers)
    assert empty.status_code == 422 and "q" in empty.get_json()["error"]["details"]


def test_the_list_search_box_uses_the_same_search(client, make_member, make_tenant, as_tenant):
    tenant = make_tenant()
    with as_tenant(tenant):
        services.create_account({"name": "Globex", "phone": "+1 (555) 010-9999"})
        services.create_account({"name": "Gloria Foods", "email": "hello@gloria.example"})
    user = make_member(tenant, roles=["sales"])
    resp = client.post(
        "/login",
        data={"email": user.email, "password": "correct horse battery", "tenant": tenant.slug},
    )
    assert resp.status_code in (302, 303)
    links = r'<a href="/contacts/[0-9a-f-]{36}">([^<]+)</a>'
    listing = client.get("/contacts/", query_string={"q": "glo"}).get_data(as_text=True)
    assert re.findall(links, listing) == ["Globex", "Gloria Foods"]
    by_phone = client.get("/contacts/", query_string={"q": "(555) 010-9999"})
    assert re.findall(links, by_phone.get_data(as_text=True)) == ["Globex"]
    quoted = client.get("/contacts/", query_string={"q": '"gloria'})
    assert re.findall(links, quoted.get_data(as_text=True)) == ["Gloria Foods"]


def test_people_search_takes_wildcards_as_text(acme, make_account):
    account = make_account("Acme")
    services.add_person({"account_id": str(account.id), "first_name": "Ann", "last_name": "Lee"})
    services.add_person({"account_id": str(account.id), "last_name": "100% Sure"})
    assert [p.last_name for p in services.list_people(q="lee").items] == ["Lee"]
    assert [p.last_name for p in services.list_people(q="%").items] == ["100% Sure"]
    assert services.list_people(q="l_e").items == []


# --- the SQLite index itself --------------------------------------------------------------


def test_the_index_and_its_triggers_exist_at_head_on_sqlite_only(app):
    with get_db(app).engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        if conn.dialect.name != "sqlite":
            assert not FTS_TABLES & tables
            return
        triggers = set(
            conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars()
        )
        unmapped = migrate.unmapped_tables(conn)
        # SQLite before 3.37 has no table_list pragma: its fallback finds the same tables.
        assert migrate.unmapped_tables_from_master(conn) == unmapped
    assert tables >= FTS_TABLES
    # A later batch_alter_table on contacts_account would drop these with the old table.
    assert triggers >= FTS_TRIGGERS
    assert unmapped >= FTS_TABLES  # the kernel's drift check leaves them out
    assert not {"contacts_account", "core_tenant"} & unmapped


@pytest.fixture()
def sqlite_app(db_url: str, tmp_path: Path):
    """An app on a new, empty SQLite database."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the FTS5 index is SQLite's; PostgreSQL uses the GIN index")
    for url in fresh_database(db_url, tmp_path, "fts"):
        with app_on(url, tmp_path) as application:
            yield application


def test_the_migration_backfills_existing_accounts_and_its_downgrade_drops_the_index(
    sqlite_app,
):
    with sqlite_app.app_context():
        migrate.upgrade(sqlite_app, "contacts@a96b7035bebb")
    # A plain connection: no foreign keys enforced, so the row needs no tenant row.
    engine = create_engine(get_db(sqlite_app).engine.url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO contacts_account (id, tenant_id, name, kinds, status, tags, phone, "
            "created_at, updated_at, version) VALUES (lower(hex(randomblob(16))), "
            "lower(hex(randomblob(16))), 'Pre-existing Ltd', '[]', 'active', '[]', "
            "'+44 20 7946 0000', '2026-01-01', '2026-01-01', 1)"
        )
    with sqlite_app.app_context():
        migrate.upgrade(sqlite_app)
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT name FROM contacts_account_fts WHERE contacts_account_fts MATCH ?",
            ('("pre"* AND "exist"*) OR ({phone_digits} : "2079460000"*)',),
        ).scalars()
        assert list(found) == ["Pre-existing Ltd"]
    with sqlite_app.app_context():
        migrate.downgrade(sqlite_app, "contacts@a96b7035bebb")
    with engine.connect() as conn:
        assert not FTS_TABLES & set(inspect(conn).get_table_names())
        triggers = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        assert not FTS_TRIGGERS & set(triggers.scalars())
        assert "contacts_account" in inspect(conn).get_table_names()
    engine.dispose()


def test_the_accounts_list_api_searches_the_same_way(client, api_headers, make_tenant, as_tenant):
    tenant = make_tenant()
    with as_tenant(tenant):
        services.create_account({"name": "Globex", "phone": "+1 (555) 010-9999"})
        services.create_account({"name": "Gloria Foods", "email": "hello@gloria.example"})
        services.create_account({"name": "Initech"})
    headers = api_headers(tenant, roles=["sales"])

    def found(q: str) -> list[str]:
        resp = client.get("/api/v1/contacts/accounts", query_string={"q": q}, headers=headers)
        assert resp.status_code == 200, resp.get_json()
        return [a["name"] for a in resp.get_json()["data"]]

    assert found("glo") == ["Globex", "Gloria Foods"]
    assert found("foo glo") == ["Gloria Foods"]  # every word, in any order: not a substring
    assert found("555 010 9999") == ["Globex"]  # a phone typed without its punctuation
    empty = client.get("/api/v1/contacts/accounts?q=%22%22", headers=headers)
    assert empty.status_code == 422 and "q" in empty.get_json()["error"]["details"]


# --- the PostgreSQL index itself ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("q", ["5550109999", "(555) 010-9999", "globex", "glo 9999", "info@glo"])
def test_a_search_by_phone_or_word_uses_the_gin_index_on_postgresql(book, app, q):
    if on_sqlite():
        pytest.skip("SQLite searches its FTS5 table")
    # A tenant of a realistic size, and statistics that say so: else reading its few rows
    # through the tenant's own index is rightly cheaper than any search index.
    session.execute(
        insert(Account),
        [
            {
                "tenant_id": book.id,
                "name": f"Filler {n:03d}",
                "kinds": [],
                "tags": [],
                "status": "active",
                "phone": f"+44 20 7946 {n:04d}",
            }
            for n in range(1000)
        ],
    )
    session.execute(text("ANALYZE contacts_account"))
    captured: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, *_args):
        if "contacts_account" in statement and "@@" in statement:
            captured.append((statement, parameters))

    engine = get_db(app).engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        found = names(q)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert found == ["Globex Corporation"]
    (statement, parameters), *_ = captured
    # Off, a sequential scan is chosen only when no index can answer the query; plain index
    # scans off too, so walking the name index in ORDER BY order (cheap under LIMIT, and the
    # planner's pick for some queries) does not hide whether the search index can answer.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    session.execute(text("SET LOCAL enable_indexscan = off"))
    # Under row-level security PostgreSQL makes no index condition of a function that is not
    # LEAKPROOF, and @@ is not: with the policy forced on the owner (as the kernel does), it
    # filters rows instead (docs/addons/contacts.md, Search). Lifted for this transaction
    # only, as for a role with BYPASSRLS, the plan shows what the query itself allows.
    session.execute(text("ALTER TABLE contacts_account NO FORCE ROW LEVEL SECURITY"))
    plan = session.connection().exec_driver_sql(f"EXPLAIN {statement}", parameters)
    plan_text = "\n".join(row[0] for row in plan)
    assert "ix_contacts_account_search" in plan_text, plan_text
