"""A third-party addon's JSON API: examples/pergola-notes, installed with pip and found by its
entry point, gets its resources served and described like a built-in addon's."""

from __future__ import annotations

import importlib.metadata

import pytest

from core import services
from core.tenancy import system_context

NOTES = "/api/v1/notes/notes"


@pytest.fixture()
def tenants(session, api_headers):
    """Admin headers in a tenant with notes enabled and in one without."""
    if not any(
        ep.name == "notes" for ep in importlib.metadata.entry_points(group="pergola.addons")
    ):
        pytest.fail("examples/pergola-notes is not installed: run `make install`")
    with system_context():
        with_notes = services.create_tenant("with-notes", "With notes", addons=["notes"])
        without = services.create_tenant("without-notes", "Without notes", addons=[])
    return {"with": api_headers(with_notes), "without": api_headers(without)}


def test_the_openapi_document_lists_its_resource_only_where_it_is_enabled(client, tenants):
    doc = client.get("/api/v1/openapi.json", headers=tenants["with"]).get_json()
    paths = doc["paths"]
    assert set(paths[NOTES]) >= {"get", "post"}
    assert set(paths[f"{NOTES}/{{id}}"]) >= {"get", "put", "patch", "delete"}
    assert "`notes.notes:create`" in paths[NOTES]["post"]["description"]
    assert "`notes.notes:delete`" in paths[f"{NOTES}/{{id}}"]["delete"]["description"]
    assert "title" in doc["components"]["schemas"]["NotesNotesCreate"]["required"]

    other = client.get("/api/v1/openapi.json", headers=tenants["without"]).get_json()
    assert not any(p.startswith("/api/v1/notes/") for p in other["paths"])
    assert client.get(NOTES, headers=tenants["without"]).status_code == 404


def test_crud_through_its_resource(client, tenants):
    headers = tenants["with"]
    made = client.post(
        NOTES, json={"title": "Call Acme", "body": "about the order"}, headers=headers
    )
    assert made.status_code == 201, made.get_json()
    note = made.get_json()["data"]
    assert note["created_by"] is not None and made.headers["ETag"] == '"1"'

    listed = client.get(f"{NOTES}?q=acme", headers=headers).get_json()
    assert [n["title"] for n in listed["data"]] == ["Call Acme"]

    changed = client.patch(
        f"{NOTES}/{note['id']}",
        json={"title": "Call Acme back"},
        headers={**headers, "If-Match": made.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["data"]["body"] == "about the order"
    replaced = client.put(f"{NOTES}/{note['id']}", json={"title": "Done"}, headers=headers)
    assert replaced.get_json()["data"] == {
        **replaced.get_json()["data"],
        "title": "Done",
        "body": "",  # PUT replaces every field: the body left out takes its default
    }
    blank = client.patch(f"{NOTES}/{note['id']}", json={"title": "  "}, headers=headers)
    assert blank.status_code == 422
    assert blank.get_json()["error"]["details"] == {"title": ["title is required"]}

    assert client.delete(f"{NOTES}/{note['id']}", headers=headers).status_code == 200
    assert client.get(f"{NOTES}/{note['id']}", headers=headers).status_code == 404
    # The other tenant never sees the addon's API, whatever the id.
    assert client.get(f"{NOTES}/{note['id']}", headers=tenants["without"]).status_code == 404
