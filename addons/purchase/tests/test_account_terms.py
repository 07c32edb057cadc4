"""Purchase terms as `purchase_*` fields of contacts' accounts: who sees them, who may send
them back, clearing a term, and a customer's form with the empty Purchasing boxes."""

from __future__ import annotations

import csv
import io
from typing import Any

from addons.contacts import services as contacts
from addons.purchase import services

ACCOUNTS = "/api/v1/contacts/accounts"
TERMS = ("purchase_payment_terms", "purchase_lead_time_days", "purchase_currency")


def _terms(world: Any) -> None:
    services.set_supplier_terms(
        {
            "account_id": str(world.vendor.id),
            "payment_terms": "30 days net",
            "lead_time_days": 14,
            "currency": "USD",
        }
    )


def _body(answer: Any) -> dict[str, Any]:
    data = answer.get_json()["data"]
    readonly = ("id", "version", "created_at", "updated_at", "primary_contact_id")
    return {k: v for k, v in data.items() if k not in readonly}


def test_a_member_without_purchase_rights_neither_sees_nor_sends_terms(client, world, api_headers):
    _terms(world)
    sales = api_headers(world.tenant, roles=["sales"])
    url = f"{ACCOUNTS}/{world.vendor.id}"

    got = client.get(url, headers=sales)

    assert got.status_code == 200 and not set(TERMS) & set(got.get_json()["data"])
    listed = client.get(ACCOUNTS, headers=sales).get_json()["data"]
    assert not any(set(TERMS) & set(row) for row in listed)
    document = client.get("/api/v1/openapi.json", headers=sales).get_json()
    assert "purchase_payment_terms" not in str(document["components"])
    # What they were shown goes back unchanged.
    assert client.put(url, json=_body(got), headers=sales).status_code == 200
    changed = client.patch(url, json={"purchase_payment_terms": "now"}, headers=sales)
    assert changed.status_code == 403, changed.get_json()
    assert "purchase_payment_terms" in changed.get_json()["error"]["details"]
    assert services.get_supplier(world.vendor.id).payment_terms == "30 days net"


def test_a_member_who_may_read_terms_sends_them_back_but_may_not_change_them(
    client, world, api_headers
):
    _terms(world)
    storekeeper = api_headers(world.tenant, roles=["storekeeper", "sales"])
    url = f"{ACCOUNTS}/{world.vendor.id}"
    got = client.get(url, headers=storekeeper)
    assert got.get_json()["data"]["purchase_lead_time_days"] == 14
    document = client.get("/api/v1/openapi.json", headers=storekeeper).get_json()
    assert "purchase_payment_terms" in str(document["components"])

    again = client.put(url, json=_body(got), headers=storekeeper)

    assert again.status_code == 200, again.get_json()
    refused = client.patch(
        url, json={"purchase_lead_time_days": 3, "purchase_currency": "USD"}, headers=storekeeper
    )
    assert refused.status_code == 403
    assert list(refused.get_json()["error"]["details"]) == ["purchase_lead_time_days"]
    assert services.get_supplier(world.vendor.id).lead_time_days == 14


def test_the_contacts_export_shows_terms_only_to_those_who_may_see_them(
    client, world, make_member, web_login
):
    _terms(world)
    for roles, shown in ((["sales"], False), (["sales", "purchasing"], True)):
        web_login(client, world.tenant, make_member(world.tenant, roles=roles))
        text = client.get("/contacts/export.csv").get_data(as_text=True)
        header = next(csv.reader(io.StringIO(text)))
        assert ("purchase_payment_terms" in header) is shown, roles
        client.post("/logout")


def test_null_clears_a_term(client, world, api_headers):
    _terms(world)
    buyer = api_headers(world.tenant, roles=["purchasing", "sales"])
    url = f"{ACCOUNTS}/{world.vendor.id}"

    resp = client.patch(
        url, json={"purchase_payment_terms": None, "purchase_lead_time_days": None}, headers=buyer
    )

    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()["data"]
    assert (data["purchase_payment_terms"], data["purchase_lead_time_days"]) == ("", 0)
    kept = services.get_supplier(world.vendor.id)
    assert (kept.payment_terms, kept.lead_time_days, kept.currency) == ("", 0, "USD")


def test_a_buyer_creates_a_customer_with_the_empty_purchasing_boxes(
    client, world, make_member, web_login
):
    user = make_member(world.tenant, roles=["purchasing", "sales"])
    web_login(client, world.tenant, user)
    form = {"name": "Dana's Deli", "kinds": ["customer"], **dict.fromkeys(TERMS, "")}

    resp = client.post("/contacts/new", data=form)

    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    [created] = contacts.list_accounts(q="Dana").items
    assert created.kinds == ["customer"]
    assert services.get_supplier(created.id) is None  # no terms were made for it
