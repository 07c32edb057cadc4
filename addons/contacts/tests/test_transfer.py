"""CSV import (all or nothing, or skipping bad rows, errors by line), export, CLI, demo data."""

from __future__ import annotations

import pytest

from addons.contacts import services, transfer
from addons.contacts.demo import load_demo
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
