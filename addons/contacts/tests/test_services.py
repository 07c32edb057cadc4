"""Accounts, people and addresses through the services: the rules every entry point shares."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from addons.contacts import services
from addons.contacts.models import Account, Address, Person
from core.errors import DomainError, NotFound, ValidationError
from core.event_models import OutboxEvent
from tests.fixtures import count_rows


def events(type_: str | None = None) -> list[OutboxEvent]:
    from core.db import session

    rows = session.scalars(select(OutboxEvent).order_by(OutboxEvent.created_at)).all()
    return [e for e in rows if type_ is None or e.type == type_]


def test_create_account_keeps_kinds_as_a_set_and_revenue_exact(acme, make_account):
    account = make_account(
        "Globex",
        kinds=["vendor", "customer", "vendor"],
        annual_revenue="1234567.891",
        email=" Sales@Globex.EXAMPLE ",
        tags=["vip", " vip", "eu"],
    )
    assert account.kinds == ["customer", "vendor"]
    assert account.annual_revenue == Decimal("1234567.8910")
    assert account.email == "sales@globex.example"
    assert account.tags == ["eu", "vip"]
    assert account.status == "active"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({}, "name"),
        ({"name": "X", "email": "not-an-email"}, "email"),
        ({"name": "X", "kinds": ["customer", "friend"]}, "kinds"),
        ({"name": "X", "status": "gone"}, "status"),
        ({"name": "X", "annual_revenue": "-5"}, "annual_revenue"),
        ({"name": "X", "colour": "blue"}, "colour"),
    ],
)
def test_bad_account_input_names_the_field_and_writes_nothing(acme, session, data, field):
    before = count_rows("contacts_account")
    with pytest.raises(ValidationError) as err:
        services.create_account(data)
    assert field in err.value.details
    session.rollback()
    assert count_rows("contacts_account") == before


def test_address_needs_a_known_country_and_one_default_per_kind(acme, make_account):
    account = make_account()
    with pytest.raises(ValidationError) as err:
        services.add_address(account.id, {"street": "1 Main St", "country": "XX"})
    assert "country" in err.value.details
    first = services.add_address(account.id, {"kind": "billing", "city": "Berlin", "country": "de"})
    assert first.country == "DE" and first.is_default
    second = services.add_address(
        account.id, {"kind": "billing", "city": "Paris", "country": "FR", "is_default": True}
    )
    shipping = services.add_address(account.id, {"kind": "shipping", "country": "FR"})
    assert second.is_default and not first.is_default and shipping.is_default
    assert account.default_address("billing") is second


def test_address_for_another_tenants_account_is_not_found(make_tenant, as_tenant, session):
    other = make_tenant()
    with as_tenant(other):
        theirs = services.create_account({"name": "Theirs"})
    mine = make_tenant()
    with as_tenant(mine):
        with pytest.raises(NotFound) as err:
            services.add_address(theirs.id, {"country": "DE"})
        assert "account_id" in err.value.details
        with pytest.raises(NotFound):
            services.add_person({"account_id": str(theirs.id), "last_name": "Spy"})
        assert session.scalars(select(Address)).all() == []
        assert session.scalars(select(Person)).all() == []


def test_people_have_one_primary_contact(acme, make_account):
    account = make_account()
    ann = services.add_person(
        {
            "account_id": str(account.id),
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ANN@acme.example",
        }
    )
    assert ann.is_primary and ann.email == "ann@acme.example"
    bob = services.add_person(
        {"account_id": str(account.id), "first_name": "Bob", "last_name": "Ray", "is_primary": True}
    )
    assert bob.is_primary and not ann.is_primary
    assert account.primary_contact is bob
    with pytest.raises(ValidationError) as err:
        services.add_person({"account_id": str(account.id), "last_name": "X", "email": "nope"})
    assert "email" in err.value.details
    services.delete_person(bob.id)
    assert [p.last_name for p in services.list_people(account_id=account.id).items] == ["Lee"]


def test_update_reports_changed_fields_and_put_clears_the_rest(acme, make_account, session):
    account = make_account("Initech", industry="Software", phone="+1 555 0100")
    session.commit()
    services.update_account(account.id, {"industry": "Consulting", "phone": "+1 555 0100"})
    session.commit()
    updated = events("contacts.account.updated")
    assert updated[-1].payload["changes"] == {"industry": ["Software", "Consulting"]}
    services.update_account(account.id, {"name": "Initech Ltd"}, partial=False)
    assert account.industry is None and account.phone is None and account.name == "Initech Ltd"


def test_stale_version_is_a_conflict(acme, make_account):
    account = make_account()
    with pytest.raises(DomainError) as err:
        services.update_account(account.id, {"name": "New"}, version=account.version + 1)
    assert err.value.code == "CONFLICT"


def test_events_are_written_with_the_change_and_vanish_on_rollback(acme, make_account, session):
    session.commit()  # keep the tenant; roll back only what follows
    make_account("Rolled Back")
    session.rollback()
    assert events() == []
    account = make_account("Kept")
    services.place_on_hold(account.id, reason="credit limit exceeded")
    session.commit()
    types = [e.type for e in events()]
    assert types == ["contacts.account.created", "contacts.account.status_changed"]
    changed = events("contacts.account.status_changed")[0].payload
    assert changed["old"] == "active" and changed["new"] == "on_hold"
    assert changed["reason"] == "credit limit exceeded"


def test_hold_and_release(acme, make_account):
    account = make_account()
    with pytest.raises(DomainError) as err:
        services.release(account.id)
    assert err.value.code == "NOT_ON_HOLD"
    services.place_on_hold(account.id)
    assert account.status == "on_hold"
    services.release(account.id, reason="paid")
    assert account.status == "active"


def test_soft_delete_hides_the_account(acme, make_account, session):
    account = make_account("Gone Inc")
    services.delete_account(account.id)
    with pytest.raises(NotFound):
        services.get_account(account.id)
    assert services.list_accounts().total == 0
    # The row stays: archived, not destroyed.
    assert session.scalars(select(Account).execution_options(include_deleted=True)).all()


def test_search_by_name_email_or_phone(acme, make_account):
    make_account("Acme Rockets", email="boom@acme.example", phone="+49 30 1234 5678")
    make_account("Globex Corporation", email="info@globex.example", phone="+1 (555) 010-9999")
    make_account("Umbrella", email="contact@umbrella.example")
    assert [a.name for a in services.search_accounts("rock")] == ["Acme Rockets"]
    assert [a.name for a in services.search_accounts("globex")] == ["Globex Corporation"]
    assert [a.name for a in services.search_accounts("contact@umbrella.example")] == ["Umbrella"]
    assert [a.name for a in services.search_accounts("030 12345678")] == []
    assert [a.name for a in services.search_accounts("5550109999")] == ["Globex Corporation"]
    assert [a.name for a in services.search_accounts("acme rockets")] == ["Acme Rockets"]
    assert services.search_accounts("nothing-like-this") == []
    with pytest.raises(ValidationError):
        services.search_accounts("  ")


def test_list_filters_by_kind_status_and_tag(acme, make_account):
    make_account("A", kinds=["customer"], tags=["vip"])
    make_account("B", kinds=["vendor", "customer"])
    c = make_account("C", kinds=["prospect"])
    services.place_on_hold(c.id)
    assert [a.name for a in services.list_accounts(kind="customer").items] == ["A", "B"]
    assert [a.name for a in services.list_accounts(status="on_hold").items] == ["C"]
    assert [a.name for a in services.list_accounts(tag="vip").items] == ["A"]
    # What is typed is text: % and _ are not wildcards matching every tag or kind.
    assert services.list_accounts(tag="%").items == []
    assert services.list_accounts(tag="v_p").items == []
    assert services.list_accounts(kind="%").items == []
    page = services.list_accounts(limit=2, sort="-name")
    assert [a.name for a in page.items] == ["C", "B"] and page.total == 3


def test_tenants_see_only_their_accounts(make_tenant, as_tenant):
    one, two = make_tenant(), make_tenant()
    with as_tenant(one):
        services.create_account({"name": "One's customer"})
    with as_tenant(two):
        assert services.list_accounts().total == 0
        assert services.search_accounts("customer") == []


def test_duplicates_by_email_or_tax_id_and_merge(acme, make_account, session):
    master = make_account("Acme", email="hq@acme.example", kinds=["customer"])
    dup = make_account(
        "ACME Inc.", email="HQ@acme.example", kinds=["vendor"], phone="+1 555 0199", tax_id="DE123"
    )
    make_account("Other", tax_id="DE999")
    services.add_person({"account_id": str(master.id), "last_name": "Boss"})
    moved = services.add_person({"account_id": str(dup.id), "last_name": "Clerk"})
    services.add_address(dup.id, {"kind": "billing", "country": "DE"})
    groups = services.find_duplicates()
    assert [(g.reason, [a.name for a in g.accounts]) for g in groups] == [
        ("email", ["Acme", "ACME Inc."])
    ]
    assert services.duplicates_of(master) == [dup]

    services.merge_accounts(master.id, dup.id)
    assert moved.account_id == master.id and not moved.is_primary
    assert master.kinds == ["customer", "vendor"] and master.phone == "+1 555 0199"
    assert master.tax_id == "DE123" and len(services.list_addresses(master.id)) == 1
    assert dup.merged_into_id == master.id and dup.is_deleted
    session.commit()
    assert "contacts.account.merged" in [e.type for e in events()]


def test_merging_an_account_with_itself_is_refused(acme, make_account):
    account = make_account()
    with pytest.raises(ValidationError) as err:
        services.merge_accounts(account.id, account.id)
    assert "duplicate_id" in err.value.details


def test_account_names_come_in_one_query_archived_included_other_tenants_left_out(
    app, make_tenant, as_tenant, session
):
    from sqlalchemy import event

    from core.db import get_db

    theirs = make_tenant()
    with as_tenant(theirs):
        other = services.create_account({"name": "Not Yours"})
    ours = make_tenant()
    with as_tenant(ours):
        accounts = [services.create_account({"name": f"Supplier {n:02d}"}) for n in range(20)]
        services.delete_account(accounts[0].id)  # archived: history still shows its name
        session.flush()
        session.expunge_all()  # nothing answered from the identity map
        selects: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            if statement.lstrip().upper().startswith("SELECT") and "set_config" not in statement:
                selects.append(statement)

        engine = get_db(app).engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            few = services.account_names([a.id for a in accounts[:3]])
            after_few = len(selects)
            many = services.account_names([*(a.id for a in accounts), other.id])
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert few == {a.id: a.name for a in accounts[:3]}
    assert many == {a.id: a.name for a in accounts}  # the other tenant's account is not named
    assert many[accounts[0].id] == "Supplier 00"
    assert after_few == 1 and len(selects) == 2  # one query each, whatever the number of ids
    assert services.account_names([]) == {}
