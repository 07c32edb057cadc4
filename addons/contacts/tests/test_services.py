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


def test_address_needs_a_known_country_and_one_default_per_kind(acme, make_account, session):
    account = make_account()
    session.commit()
    with pytest.raises(ValidationError) as err:
        services.add_address(account.id, {"street": "1 Main St", "country": "XX"})
    assert "country" in err.value.details
    session.rollback()
    assert count_rows("contacts_address") == 0
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


def test_people_have_one_primary_contact(acme, make_account, session):
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
    session.commit()
    with pytest.raises(ValidationError) as err:
        services.add_person({"account_id": str(account.id), "last_name": "X", "email": "nope"})
    assert "email" in err.value.details
    session.rollback()
    assert count_rows("contacts_person") == 2
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


def test_merging_an_account_with_itself_is_refused(acme, make_account, session):
    account = make_account(email="hq@acme.example")
    services.add_person({"account_id": str(account.id), "last_name": "Boss"})
    session.commit()
    audit_before = count_rows("core_audit_log")
    with pytest.raises(ValidationError) as err:
        services.merge_accounts(account.id, account.id)
    assert "duplicate_id" in err.value.details
    session.rollback()
    assert account.merged_into_id is None and not account.is_deleted
    assert count_rows("core_audit_log") == audit_before
    assert "contacts.account.merged" not in [e.type for e in events()]


def test_account_names_come_in_one_query_archived_included_other_tenants_left_out(
    count_selects, make_tenant, as_tenant, session
):

    theirs = make_tenant()
    with as_tenant(theirs):
        other = services.create_account({"name": "Not Yours"})
    ours = make_tenant()
    with as_tenant(ours):
        accounts = [services.create_account({"name": f"Supplier {n:02d}"}) for n in range(20)]
        services.delete_account(accounts[0].id)  # archived: history still shows its name
        session.flush()
        session.expunge_all()  # nothing answered from the identity map
        with count_selects() as selects:
            few = services.account_names([a.id for a in accounts[:3]])
            after_few = len(selects)
            many = services.account_names([*(a.id for a in accounts), other.id])
    assert few == {a.id: a.name for a in accounts[:3]}
    assert many == {a.id: a.name for a in accounts}  # the other tenant's account is not named
    assert many[accounts[0].id] == "Supplier 00"
    assert after_few == 1 and len(selects) == 2  # one query each, whatever the number of ids
    assert services.account_names([]) == {}


# --- one default address per kind ---------------------------------------------------------


def defaults(account) -> dict[str, str]:
    """The city of each kind's default address: what the account page shows first."""
    found: dict[str, str] = {}
    for address in services.list_addresses(account.id):
        if address.is_default:
            assert address.kind not in found, f"two default {address.kind} addresses"
            found[address.kind] = address.city
    return found


def test_the_first_address_of_a_kind_is_its_default_even_when_the_form_says_no(acme, make_account):
    account = make_account()
    # The web form sends is_default=False for an unchecked box.
    berlin = services.add_address(
        account.id, {"kind": "billing", "city": "Berlin", "country": "DE", "is_default": False}
    )
    paris = services.add_address(
        account.id, {"kind": "billing", "city": "Paris", "country": "FR", "is_default": False}
    )
    assert berlin.is_default and not paris.is_default
    services.add_address(
        account.id, {"kind": "other", "city": "Rome", "country": "IT", "is_default": False}
    )
    assert defaults(account) == {"billing": "Berlin", "other": "Rome"}


def test_setting_a_default_clears_the_other_one(acme, make_account):
    account = make_account()
    berlin = services.add_address(
        account.id, {"kind": "billing", "city": "Berlin", "country": "DE"}
    )
    paris = services.add_address(account.id, {"kind": "billing", "city": "Paris", "country": "FR"})
    services.update_address(paris.id, {"is_default": True})
    assert defaults(account) == {"billing": "Paris"} and not berlin.is_default
    services.update_address(berlin.id, {"is_default": True, "city": "Bonn"})
    assert defaults(account) == {"billing": "Bonn"}


def test_unsetting_the_default_hands_it_to_the_oldest_other_address_of_the_kind(acme, make_account):
    account = make_account()
    only = services.add_address(account.id, {"kind": "shipping", "city": "Lyon", "country": "FR"})
    services.update_address(only.id, {"is_default": False})
    assert only.is_default  # the only one of its kind stays the default
    services.add_address(account.id, {"kind": "shipping", "city": "Nice", "country": "FR"})
    services.add_address(account.id, {"kind": "shipping", "city": "Metz", "country": "FR"})
    services.update_address(only.id, {"is_default": False})
    assert defaults(account) == {"shipping": "Nice"} and not only.is_default


def test_changing_kind_hands_the_default_on_and_takes_the_new_kinds_if_it_had_none(
    acme, make_account
):
    account = make_account()
    berlin = services.add_address(
        account.id, {"kind": "billing", "city": "Berlin", "country": "DE"}
    )
    services.add_address(account.id, {"kind": "billing", "city": "Paris", "country": "FR"})
    leeds = services.add_address(account.id, {"kind": "shipping", "city": "Leeds", "country": "GB"})
    # The billing default becomes a shipping address: shipping keeps Leeds as its default.
    services.update_address(berlin.id, {"kind": "shipping"})
    assert defaults(account) == {"billing": "Paris", "shipping": "Leeds"}
    assert not berlin.is_default
    # To a kind without addresses: it becomes that kind's default.
    services.update_address(berlin.id, {"kind": "other"})
    assert defaults(account) == {"billing": "Paris", "shipping": "Leeds", "other": "Berlin"}
    # Asked to be the default of its new kind, it takes it from the old one.
    services.update_address(berlin.id, {"kind": "shipping", "is_default": True})
    assert defaults(account) == {"billing": "Paris", "shipping": "Berlin"}
    assert not leeds.is_default


def test_deleting_the_default_promotes_the_oldest_other_address_or_none(acme, make_account):
    account = make_account()
    first = services.add_address(account.id, {"kind": "billing", "city": "Berlin", "country": "DE"})
    services.add_address(account.id, {"kind": "billing", "city": "Paris", "country": "FR"})
    services.add_address(account.id, {"kind": "billing", "city": "Rome", "country": "IT"})
    services.delete_address(first.id)
    assert defaults(account) == {"billing": "Paris"}
    for address in services.list_addresses(account.id):
        services.delete_address(address.id)
    assert defaults(account) == {} and services.list_addresses(account.id) == []
    assert not first.is_default  # an archived address never holds a default


def test_the_database_refuses_a_second_default_of_a_kind(acme, make_account, session):
    from sqlalchemy.exc import IntegrityError

    account = make_account()
    services.add_address(account.id, {"kind": "billing", "city": "Berlin", "country": "DE"})
    paris = services.add_address(account.id, {"kind": "billing", "city": "Paris", "country": "FR"})
    services.add_address(account.id, {"kind": "shipping", "city": "Leeds", "country": "GB"})
    session.commit()
    # Around the services (a script, a bulk update): the partial unique index says no.
    paris.is_default = True
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert defaults(account) == {"billing": "Berlin", "shipping": "Leeds"}


def test_merge_keeps_the_masters_defaults_and_the_duplicates_where_it_had_none(acme, make_account):
    master = make_account("Acme")
    dup = make_account("ACME Inc.")
    services.add_address(master.id, {"kind": "billing", "city": "Berlin", "country": "DE"})
    services.add_address(dup.id, {"kind": "billing", "city": "Paris", "country": "FR"})
    services.add_address(dup.id, {"kind": "shipping", "city": "Leeds", "country": "GB"})
    services.merge_accounts(master.id, dup.id)
    assert defaults(master) == {"billing": "Berlin", "shipping": "Leeds"}
    assert len(services.list_addresses(master.id)) == 3


def test_update_address_changes_fields_and_refuses_bad_ones_writing_nothing(
    acme, make_account, session
):
    account = make_account()
    address = services.add_address(
        account.id, {"kind": "billing", "street": "1 Main St", "city": "Berlin", "country": "DE"}
    )
    services.update_address(address.id, {"street": "2 Side St", "postal_code": "10115"})
    assert (address.street, address.postal_code, address.city) == ("2 Side St", "10115", "Berlin")
    session.commit()
    for bad, field in (({"country": "XX"}, "country"), ({"kind": "home"}, "kind")):
        with pytest.raises(ValidationError) as err:
            services.update_address(address.id, bad)
        assert field in err.value.details
        session.rollback()
        assert (address.country, address.kind, address.street) == ("DE", "billing", "2 Side St")
    with pytest.raises(NotFound):
        services.update_address(account.id, {"city": "Nowhere"})  # not an address id


def test_update_person_changes_fields_primary_and_account(acme, make_account, session):
    acme_co = make_account("Acme")
    globex = make_account("Globex")
    ann = services.add_person(
        {"account_id": str(acme_co.id), "first_name": "Ann", "last_name": "Lee"}
    )
    bob = services.add_person(
        {"account_id": str(acme_co.id), "first_name": "Bob", "last_name": "Ray"}
    )
    services.update_person(bob.id, {"job_title": "Buyer", "email": " BOB@acme.example "})
    assert (bob.job_title, bob.email) == ("Buyer", "bob@acme.example")
    services.update_person(bob.id, {"is_primary": True})
    assert acme_co.primary_contact is bob and not ann.is_primary
    # Moving to another account: the person arrives without the flag.
    services.update_person(bob.id, {"account_id": str(globex.id)})
    assert bob.account_id == globex.id and not bob.is_primary
    assert [p.full_name for p in services.list_people(account_id=globex.id).items] == ["Bob Ray"]
    session.commit()
    with pytest.raises(ValidationError) as err:
        services.update_person(ann.id, {"email": "not-an-email", "job_title": "CEO"})
    assert "email" in err.value.details
    session.rollback()
    assert ann.email is None and ann.job_title is None


def test_update_person_cannot_move_them_to_another_tenants_account(make_tenant, as_tenant, session):
    with as_tenant(make_tenant()):
        theirs = services.create_account({"name": "Theirs"})
    with as_tenant(make_tenant()):
        mine = services.create_account({"name": "Mine"})
        ann = services.add_person({"account_id": str(mine.id), "last_name": "Lee"})
        session.commit()
        with pytest.raises(NotFound) as err:
            services.update_person(ann.id, {"account_id": str(theirs.id)})
        assert "account_id" in err.value.details
        session.rollback()
        assert ann.account_id == mine.id and ann.is_primary
