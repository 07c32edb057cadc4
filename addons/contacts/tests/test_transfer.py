"""CSV import (all or nothing, or skipping bad rows, errors by line), export, CLI, demo data."""

from __future__ import annotations

import csv
import io

import pytest

from addons.contacts import services, transfer
from addons.contacts.demo import load_demo
from core.errors import ValidationError
from tests.fixtures import count_rows

GOOD_AND_BAD = (
    "name,kinds,status,email,tags,billing_street,billing_city,billing_country,"
    "contact_first_name,contact_last_name,contact_email\n"
    "Initech,customer,active,info@initech.example,vip;eu,1 Main St,Austin,US,Peter,Gibbons,"
    "peter@initech.example\n"
    ",,,,,,,,Milton,Waddams,\n"
    "Bad Email Ltd,customer,active,not-an-email,,,,,,,\n"
    "Nowhere Co,vendor,active,,,,Atlantis,XX,,,\n"
    ",,,,,,,,Orphan,Person,\n"
    "Hooli,prospect,active,hi@hooli.example,,,,,,,\n"
)


def test_all_or_nothing_reports_every_bad_line_and_writes_nothing(acme, session):
    with pytest.raises(transfer.ImportFailed) as err:
        transfer.import_accounts(GOOD_AND_BAD)
    lines = [(e.line, e.field) for e in err.value.result.errors]
    assert lines == [(4, "email"), (5, "billing_country"), (6, "name")]
    assert err.value.code == "VALIDATION_ERROR" and "line 4" in err.value.details
    assert services.list_accounts().total == 0


def test_skip_bad_rows_keeps_the_good_ones(acme):
    result = transfer.import_accounts(GOOD_AND_BAD, skip_bad_rows=True)
    assert (result.accounts, result.people, result.addresses) == (2, 2, 1)
    assert result.skipped_lines == [4, 5, 6]
    initech = services.search_accounts("initech")[0]
    assert initech.tags == ["eu", "vip"] and initech.primary_contact.last_name == "Gibbons"
    assert sorted(p.first_name for p in initech.people) == ["Milton", "Peter"]


def test_a_dry_run_writes_nothing(acme):
    result = transfer.import_accounts(GOOD_AND_BAD, skip_bad_rows=True, dry_run=True)
    assert result.accounts == 2 and not result.committed
    assert services.list_accounts().total == 0


def test_unknown_columns_and_missing_header_are_refused(acme):
    with pytest.raises(transfer.ValidationError, match="unknown column"):
        transfer.import_accounts("name,colour\nAcme,red\n")
    with pytest.raises(transfer.ValidationError, match="header"):
        transfer.import_accounts("Acme,customer\n")


def test_export_reads_back_in(acme, make_account):
    account = make_account(
        "Round Trip",
        kinds=["vendor", "partner"],
        phone="+44 20 7946 0000",
        annual_revenue="12.50",
        notes="=SUM(A1)",
    )
    services.add_address(account.id, {"kind": "shipping", "city": "Leeds", "country": "GB"})
    services.add_person({"account_id": str(account.id), "first_name": "Ann", "last_name": "Lee"})
    text = transfer.export_csv([account])
    assert "+44 20 7946 0000" in text and "'=SUM(A1)" in text  # phones kept, formulas defused
    services.delete_account(account.id)
    result = transfer.import_accounts(text)
    again = services.search_accounts("round trip")[0]
    assert result.accounts == 1 and again.kinds == ["vendor", "partner"]
    assert again.default_address("shipping").city == "Leeds"
    assert again.primary_contact.full_name == "Ann Lee"


def test_cli_import_both_modes_and_export(runner, make_tenant, session, tmp_path):
    tenant = make_tenant()
    path = tmp_path / "accounts.csv"
    path.write_text(GOOD_AND_BAD)
    strict = runner.invoke(["contacts", "import", str(path), "--tenant", tenant.slug])
    assert strict.exit_code == 1
    assert "line 4: email" in strict.output and "nothing imported" in strict.output
    assert count_rows("contacts_account") == 0
    lenient = runner.invoke(
        ["contacts", "import", str(path), "--tenant", tenant.slug, "--skip-bad-rows"]
    )
    assert lenient.exit_code == 0, lenient.output
    assert "imported 2 account(s), 2 person(s), 1 address(es); skipped 3 line(s)" in lenient.output
    exported = runner.invoke(["contacts", "export", "--tenant", tenant.slug])
    assert exported.exit_code == 0 and "Initech" in exported.output
    unknown = runner.invoke(["contacts", "import", str(path), "--tenant", "no-such-tenant"])
    assert unknown.exit_code == 1 and "unknown tenant" in unknown.output


def test_demo_data_is_fifty_accounts_once(acme, app):
    from core.registry import current_registry

    current_registry().hook.load_demo_data(tenant_id=acme.id)
    # Other addons' demo data may add accounts of their own; ours carry the demo tag.
    assert services.list_accounts(tag="demo").total == 50
    assert load_demo() == 0
    assert services.list_accounts(tag="demo").total == 50
    sample = services.list_accounts(tag="demo", limit=1).items[0]
    assert sample.people and sample.addresses


# --- the round trip: what export writes, import reads ---------------------------------------


def snapshot() -> dict[str, dict]:
    """Everything a user sees of the tenant's accounts, by name, ids left out."""
    from addons.purchase import services as purchase

    out = {}
    for account in services.list_accounts(limit=200).items:
        terms = purchase.get_supplier(account.id)
        out[account.name] = {
            **{
                name: getattr(account, name)
                for name in (*transfer.ACCOUNT_COLUMNS, "annual_revenue")
            },
            "people": sorted(
                (p.first_name, p.last_name, p.email, p.phone, p.job_title, p.is_primary)
                for p in services.list_people(account_id=account.id, limit=200).items
            ),
            "addresses": sorted(
                (a.kind, a.street, a.city, a.postal_code, a.region, a.country, a.is_default)
                for a in services.list_addresses(account.id)
            ),
            "terms": terms and (terms.payment_terms, terms.lead_time_days, terms.currency),
        }
    return out


def fill_first_tenant() -> None:
    """Accounts with several people and addresses of each kind, formula-like notes, a
    vendor with purchase terms, and one with nothing but a name."""
    vendor = services.create_account(
        {
            "name": "Round Trip GmbH",
            "kinds": ["vendor", "partner"],
            "status": "on_hold",
            "industry": "Machinery",
            "annual_revenue": "1000",
            "website": "https://roundtrip.example",
            "email": "info@roundtrip.example",
            "phone": "+49 30 1234 5678",
            "tax_id": "DE 123 456",
            "notes": "=SUM(A1)\nsecond line, with a comma",
            "tags": ["eu", "key account"],
            "purchase_payment_terms": "30 days net",
            "purchase_lead_time_days": "14",
            "purchase_currency": "USD",
        }
    )
    for first, last, title in (("Ann", "Lee", "CEO"), ("Bob", "Ray", "Buyer"), ("Cy", "Zed", "")):
        services.add_person(
            {
                "account_id": str(vendor.id),
                "first_name": first,
                "last_name": last,
                "email": f"{first.lower()}@roundtrip.example",
                "phone": "-12" if first == "Cy" else "+49 30 1234 0",
                "job_title": title or None,
            }
        )
    services.update_person(services.list_people(q="ray").items[0].id, {"is_primary": True})
    for kind, city, country in (
        ("billing", "Berlin", "DE"),
        ("billing", "Paris", "FR"),
        ("shipping", "Leeds", "GB"),
        ("shipping", "York", "GB"),
        ("shipping", "Derby", "GB"),
        ("other", "Rome", "IT"),
        ("other", "Milan", "IT"),
    ):
        services.add_address(
            vendor.id,
            {"kind": kind, "street": f"1 {city} Road", "city": city, "country": country},
        )
    york = next(a for a in services.list_addresses(vendor.id) if a.city == "York")
    services.update_address(york.id, {"is_default": True, "postal_code": "YO1", "region": "N"})
    services.create_account(
        {
            "name": "'t Hooft & Zn",
            "kinds": ["customer"],
            "status": "inactive",
            "notes": "'=not a formula",
            "phone": "+31 (0)20-555.0101",
        }
    )
    solo = services.create_account({"name": "Solo", "kinds": ["prospect"], "notes": "@home"})
    services.add_person({"account_id": str(solo.id), "last_name": "Only"})
    services.add_address(solo.id, {"kind": "other", "city": "Oslo", "country": "NO"})


def test_an_export_imports_into_another_tenant_unchanged(make_tenant, as_tenant):
    with as_tenant(make_tenant()):
        fill_first_tenant()
        before = snapshot()
        text = transfer.export_csv(services.list_accounts(limit=200).items)
    assert before["Round Trip GmbH"]["terms"] == ("30 days net", 14, "USD")
    assert "'=SUM(A1)" in text and "''=not a formula" in text and "'@home" in text
    assert "+49 30 1234 5678" in text and "1000," in text
    with as_tenant(make_tenant()):
        result = transfer.import_accounts(text)
        assert (result.accounts, result.people, result.addresses) == (3, 4, 8)
        assert snapshot() == before


def test_export_writes_continuation_lines_for_further_people_and_addresses(acme):
    fill_first_tenant()
    text = transfer.export_csv(services.list_accounts(limit=200).items)
    rows = list(csv.DictReader(io.StringIO(text)))
    start = next(i for i, r in enumerate(rows) if r["name"] == "Round Trip GmbH")
    first, *more = rows[start : start + 3]
    assert rows[start + 3]["name"] != ""  # three lines: three shipping addresses and people
    assert first["contact_last_name"] == "Ray"  # the primary contact leads
    assert (first["billing_city"], first["shipping_city"]) == ("Berlin", "York")  # defaults
    assert first["purchase_payment_terms"] == "30 days net"
    assert [r["name"] for r in more] == ["", ""]
    assert [r["shipping_city"] for r in more] == ["Leeds", "Derby"]
    assert [r["billing_city"] for r in more] == ["Paris", ""]
    assert [r["contact_last_name"] for r in more] == ["Lee", "Zed"]
    assert all(r["purchase_currency"] == "" and r["kinds"] == "" for r in more)


def test_a_continuation_line_adds_addresses_and_refuses_account_fields(acme):
    text = (
        "name,kinds,billing_city,billing_country,other_city,other_country,contact_last_name\n"
        "Acme,customer,Berlin,DE,,,Lee\n"
        ",,Paris,FR,Rome,IT,Ray\n"
        ",vendor,,,,,Zed\n"
    )
    with pytest.raises(transfer.ImportFailed) as err:
        transfer.import_accounts(text)
    assert [(e.line, e.field) for e in err.value.result.errors] == [(4, "kinds")]
    result = transfer.import_accounts(text, skip_bad_rows=True)
    assert (result.accounts, result.people, result.addresses) == (1, 2, 3)
    acme_co = services.search_accounts("acme")[0]
    assert acme_co.kinds == ["customer"]
    assert acme_co.default_address("billing").city == "Berlin"
    assert acme_co.default_address("other").city == "Rome"
    assert sorted(a.city for a in acme_co.addresses) == ["Berlin", "Paris", "Rome"]


def test_addon_columns_go_to_their_addon_and_unknown_ones_are_still_refused(acme):
    from addons.purchase import services as purchase

    text = (
        "name,kinds,purchase_payment_terms,purchase_lead_time_days\n"
        "Vendor Co,vendor,60 days,5\n"
        "Bad Lead,vendor,,-1\n"
    )
    result = transfer.import_accounts(text, skip_bad_rows=True)
    assert [(e.line, e.field) for e in result.errors] == [(3, "purchase_lead_time_days")]
    vendor = services.search_accounts("vendor co")[0]
    terms = purchase.get_supplier(vendor.id)
    assert (terms.payment_terms, terms.lead_time_days) == ("60 days", 5)
    with pytest.raises(transfer.ValidationError, match=r"unknown column.*purchase_colour"):
        transfer.import_accounts("name,purchase_colour\nAcme,red\n")


@pytest.mark.parametrize(
    "value", ["=SUM(A1)", "'=SUM(A1)", "''x", "'t Hooft", "+49 30 1234", "-", "@home", "'", ""]
)
def test_the_formula_guard_is_undone_on_import(value):
    assert transfer._unguard(transfer._safe(value)) == value


def test_cli_import_shows_a_progress_bar(runner, make_tenant, tmp_path):
    tenant = make_tenant()
    path = tmp_path / "accounts.csv"
    path.write_text("name\nOne\nTwo\nThree\n")
    result = runner.invoke(["contacts", "import", str(path), "--tenant", tenant.slug])
    assert result.exit_code == 0, result.output
    assert "import:" in result.stderr and "0/3" in result.stderr  # the bar, on stderr
    assert result.stdout.strip() == "imported 3 account(s), 0 person(s), 0 address(es)"
    path.write_text("name\nAlone\n")
    single = runner.invoke(["contacts", "import", str(path), "--tenant", tenant.slug])
    assert single.exit_code == 0 and single.stderr == ""  # one row: no bar


def test_a_tag_with_the_csv_list_separator_is_refused(acme):
    """`;` separates tags in the CSV: "north;south" would come back as two tags."""
    with pytest.raises(ValidationError) as exc:
        services.create_account({"name": "Split", "tags": ["north;south"]})
    assert "tags" in exc.value.details and "';'" in str(exc.value.details["tags"])
    assert services.list_accounts(q="Split").items == []
