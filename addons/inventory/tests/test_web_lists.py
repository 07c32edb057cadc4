"""The products and warehouses lists on the kernel's generic list: sort, filter, search,
pages, CSV of the filtered set, the warehouse form and detail, and permissions."""

from __future__ import annotations

import csv
import io
import re

import pytest

from addons.inventory import services


def login(client, make_member, tenant, roles):
    user = make_member(tenant, roles=roles)
    r = client.post(
        "/login",
        data={"email": user.email, "password": "correct horse battery", "tenant": tenant.slug},
    )
    assert r.status_code in (302, 303), r.data[:300]


def skus_on(html: str) -> list[str]:
    """The SKUs the products list shows, in order (links to the product pages)."""
    return re.findall(r'<a href="/inventory/products/[0-9a-f-]{36}">([^<]+)</a>', html)


@pytest.fixture()
def stocked(tenant, session, as_tenant):
    """Two warehouses and four products, one of them with stock."""
    with as_tenant(tenant):
        services.create_warehouse({"code": "MAIN", "name": "Main store", "address": "Dock 1"})
        services.create_warehouse({"code": "EAST", "name": "East annex", "active": False})
        for sku, name, kind, status in (
            ("BOLT-8", "Bolt M8", "finished_good", "active"),
            ("NUT-8", "Nut M8", "finished_good", "draft"),
            ("WASH-8", "Washer M8", "raw_material", "active"),
            ("GLUE-1", "Glue tube", "consumable", "discontinued"),
        ):
            services.create_product({"sku": sku, "name": name, "type": kind, "status": status})
        services.receive("BOLT-8", "MAIN", "12")
        session.flush()
    return tenant


def test_the_products_list_sorts_filters_searches_and_pages(client, make_member, stocked):
    login(client, make_member, stocked, ["manager"])
    page = client.get("/inventory/products").get_data(as_text=True)
    assert skus_on(page) == ["BOLT-8", "GLUE-1", "NUT-8", "WASH-8"]
    assert "4 records" in page and "<td>12</td>" in page  # BOLT-8's stock on hand
    assert skus_on(client.get("/inventory/products?sort=-sku").get_data(as_text=True))[0] == (
        "WASH-8"
    )
    by_name = client.get("/inventory/products?sort=-name").get_data(as_text=True)
    assert skus_on(by_name) == ["WASH-8", "NUT-8", "GLUE-1", "BOLT-8"]
    active = client.get("/inventory/products?f_status=active").get_data(as_text=True)
    assert skus_on(active) == ["BOLT-8", "WASH-8"]
    raw = client.get("/inventory/products?f_type=raw_material").get_data(as_text=True)
    assert skus_on(raw) == ["WASH-8"]
    assert skus_on(client.get("/inventory/products?q=m8").get_data(as_text=True)) == [
        "BOLT-8",
        "NUT-8",
        "WASH-8",
    ]
    second = client.get("/inventory/products?per_page=3&page=2").get_data(as_text=True)
    assert skus_on(second) == ["WASH-8"]


def test_the_products_export_is_the_filtered_list_in_the_import_format(
    client, make_member, stocked
):
    login(client, make_member, stocked, ["manager"])
    resp = client.get("/inventory/products/export.csv?q=m8&f_status=active&sort=-sku")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["sku"] for r in rows] == ["WASH-8", "BOLT-8"]
    assert rows[0]["type"] == "raw_material" and rows[0]["track_inventory"] == "true"
    everything = client.get("/inventory/products.csv", follow_redirects=True)
    assert len(list(csv.DictReader(io.StringIO(everything.get_data(as_text=True))))) == 4


def test_warehouses_list_form_and_detail(client, make_member, stocked):
    login(client, make_member, stocked, ["manager"])
    page = client.get("/inventory/warehouses").get_data(as_text=True)
    assert page.index(">EAST<") < page.index(">MAIN<") and "2 records" in page
    active = client.get("/inventory/warehouses?f_active=true").get_data(as_text=True)
    assert ">MAIN<" in active and ">EAST<" not in active
    assert ">EAST<" in client.get("/inventory/warehouses?q=annex").get_data(as_text=True)
    exported = client.get("/inventory/warehouses/export.csv?sort=-code").get_data(as_text=True)
    assert exported.splitlines() == [
        "Code,Name,Address,Active",
        "MAIN,Main store,Dock 1,yes",
        "EAST,East annex,,no",
    ]
    bad = client.post("/inventory/warehouses/new", data={"code": "", "name": "Nameless"})
    assert bad.status_code == 422 and 'id="code-errors"' in bad.get_data(as_text=True)
    made = client.post(
        "/inventory/warehouses/new", data={"code": "west", "name": "West", "active": "y"}
    )
    assert made.status_code == 303
    detail = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "WEST" in detail and "created" in detail  # the code is upper-cased; the activity feed
    taken = client.post("/inventory/warehouses/new", data={"code": "MAIN", "name": "Again"})
    assert taken.status_code == 409 or taken.status_code == 422
    assert "already used" in taken.get_data(as_text=True)


def test_the_lists_need_their_read_permission(client, make_member, stocked):
    login(client, make_member, stocked, ["employee"])
    for path in (
        "/inventory/products",
        "/inventory/products/export.csv",
        "/inventory/products.csv",
        "/inventory/warehouses",
        "/inventory/warehouses/export.csv",
    ):
        assert client.get(path).status_code == 403, path
    login(client, make_member, stocked, ["sales"])  # reads products, manages no warehouse
    assert client.get("/inventory/products").status_code == 200
    assert client.get("/inventory/warehouses/new").status_code == 403


def test_the_warehouse_code_is_read_only_on_edit_and_a_posted_code_is_ignored(
    client, make_member, stocked, session, as_tenant
):
    from addons.inventory.models import Warehouse

    login(client, make_member, stocked, ["manager"])
    with as_tenant(stocked):
        main = services.get_warehouse("MAIN")
        version = getattr(main, "version", "")
    form = client.get(f"/inventory/warehouses/{main.id}/edit").get_data(as_text=True)
    code = re.search(r'<input[^>]*id="code"[^>]*>', form).group(0)
    assert "readonly" in code and 'value="MAIN"' in code and 'name="code"' not in code
    assert "it cannot be changed" in form
    assert re.search(r'<input[^>]*id="name"[^>]*>', form).group(0).count("readonly") == 0
    new = client.get("/inventory/warehouses/new").get_data(as_text=True)
    assert "readonly" not in re.search(r'<input[^>]*id="code"[^>]*>', new).group(0)

    # A hand-made post with another code (or none) changes the rest and keeps the code.
    for posted in ({"code": "HACK"}, {}):
        resp = client.post(
            f"/inventory/warehouses/{main.id}/edit",
            data={
                "name": "Main depot",
                "address": "Dock 2",
                "active": "y",
                "version": version,
                **posted,
            },
        )
        assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
        with as_tenant(stocked):
            session.expire_all()
            saved = session.get(Warehouse, main.id)
            assert (saved.code, saved.name, saved.address) == ("MAIN", "Main depot", "Dock 2")
            version = getattr(saved, "version", "")

    # An error elsewhere shows the stored code again, not the posted one.
    bad = client.post(
        f"/inventory/warehouses/{main.id}/edit",
        data={"code": "HACK", "name": "", "version": version},
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="name-errors"' in html
    assert 'value="MAIN"' in re.search(r'<input[^>]*id="code"[^>]*>', html).group(0)
