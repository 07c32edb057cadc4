"""The `notes` addon, against a real Pergola app (fixtures from core.testing)."""

from __future__ import annotations

import pytest
from core.db import session
from core.errors import ValidationError
from core.registry import current_registry, hook
from core.tenancy import tenant_context
from sqlalchemy import select

from pergola_notes import services
from pergola_notes.models import Note
from pergola_notes.views import create, index


def titles(tenant) -> list[str]:
    """The tenant's notes, by title."""
    with tenant_context(tenant.id):
        return sorted(session.scalars(select(Note.title)))


def test_the_registry_loads_the_addon(pergola_app):
    registry = pergola_app.extensions["pergola.registry"]
    assert "notes" in registry.addons
    assert registry.addons["notes"].blueprints[0].name == "notes"


def test_enabling_seeds_the_welcome_note_once(make_tenant):
    tenant = make_tenant()
    registry = current_registry()
    registry.enable(tenant.id, ["notes"])
    registry.disable(tenant.id, ["notes"])
    registry.enable(tenant.id, ["notes"])
    assert titles(tenant) == [services.WELCOME]


def test_notes_belong_to_their_tenant(make_tenant):
    mine, theirs = make_tenant("notes"), make_tenant("notes")
    with tenant_context(mine.id):
        services.create_note("Only mine")
    assert "Only mine" in titles(mine)
    assert "Only mine" not in titles(theirs)


def test_a_note_needs_a_title(make_tenant):
    tenant = make_tenant("notes")
    with tenant_context(tenant.id), pytest.raises(ValidationError) as err:
        services.create_note("   ")
    assert err.value.details == {"title": ["title is required"]}
    assert titles(tenant) == [services.WELCOME]


def test_routes_declare_their_permissions(pergola_app):
    """Every route of the addon's blueprints (its pages and its API), each method with the
    permission it needs; a route you add belongs in this table too."""
    assert index.pergola_permission == "notes.notes:read"
    assert create.pergola_permission == "notes.notes:create"
    read, add, change, delete = (
        f"notes.notes:{action}" for action in ("read", "create", "update", "delete")
    )
    api, item = "/api/v1/notes/notes", "/api/v1/notes/notes/<record_id>"
    routes = {
        (rule.rule, method): getattr(
            pergola_app.view_functions[rule.endpoint], "pergola_permission", None
        )
        for rule in pergola_app.url_map.iter_rules()
        if rule.rule.startswith(("/notes/", "/api/v1/notes/"))
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert routes == {
        ("/notes/", "GET"): read,
        ("/notes/", "POST"): add,
        (api, "GET"): read,
        (api, "POST"): add,
        (f"{api}/bulk", "POST"): add,
        (item, "GET"): read,
        (item, "PUT"): change,
        (item, "PATCH"): change,
        (item, "DELETE"): delete,
    }


def test_the_list_needs_the_read_permission(make_tenant, client, bearer):
    tenant = make_tenant("notes")
    reader = bearer(tenant, "notes.notes:read")
    writer = bearer(tenant, "notes.notes:create")
    allowed = client.get("/notes/", headers=reader)
    refused = client.get("/notes/", headers=writer)
    assert allowed.status_code == 200
    assert services.WELCOME in allowed.text
    assert refused.status_code == 403


def test_adding_through_the_form(make_tenant, client, bearer):
    tenant = make_tenant("notes")
    headers = bearer(tenant, "notes.*")
    added = client.post("/notes/", data={"title": "From the form"}, headers=headers)
    refused = client.post("/notes/", data={"title": ""}, headers=headers)
    assert added.status_code == 302
    assert refused.status_code == 422
    assert "title is required" in refused.text
    assert titles(tenant) == ["From the form", services.WELCOME]


def test_a_tenant_without_the_addon_gets_404(make_tenant, client, bearer):
    tenant = make_tenant()
    reader = bearer(tenant, "notes.notes:read")
    answer = client.get("/notes/", headers=reader)
    assert answer.status_code == 404


API = "/api/v1/notes/notes"


def test_the_json_api_creates_lists_changes_and_deletes(make_tenant, client, bearer):
    tenant = make_tenant("notes")
    headers = bearer(tenant, "notes.*")
    made = client.post(API, json={"title": "By the API", "body": "text"}, headers=headers)
    assert made.status_code == 201, made.get_json()
    record = made.get_json()["data"]
    assert made.headers["Location"].endswith(record["id"])
    listed = client.get(f"{API}?sort=title", headers=headers).get_json()
    assert [r["title"] for r in listed["data"]] == ["By the API", services.WELCOME]
    changed = client.patch(
        f"{API}/{record['id']}", json={"title": "Renamed"}, headers=headers
    )
    assert changed.status_code == 200
    assert changed.get_json()["data"]["body"] == "text"
    assert client.delete(f"{API}/{record['id']}", headers=headers).status_code == 200
    assert client.get(f"{API}/{record['id']}", headers=headers).status_code == 404
    assert titles(tenant) == [services.WELCOME]


def test_the_json_api_names_bad_fields_and_checks_permissions(make_tenant, client, bearer):
    tenant = make_tenant("notes")
    reader = bearer(tenant, "notes.notes:read")
    writer = bearer(tenant, "notes.*")
    bad = client.post(API, json={"title": "", "colour": "red"}, headers=writer)
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["details"]) == {"title", "colour"}
    refused = client.post(API, json={"title": "Not mine to add"}, headers=reader)
    assert refused.status_code == 403
    assert titles(tenant) == [services.WELCOME]


def test_demo_data_is_added_once(make_tenant):
    tenant = make_tenant("notes")
    with tenant_context(tenant.id):
        hook.load_demo_data(tenant_id=tenant.id)
        hook.load_demo_data(tenant_id=tenant.id)
    assert titles(tenant) == sorted([services.WELCOME, *services.DEMO_TITLES])


def test_the_count_command_refuses_a_tenant_without_the_addon(pergola_app, make_tenant):
    with_it, without = make_tenant("notes"), make_tenant()
    runner = pergola_app.test_cli_runner()
    ok = runner.invoke(args=["notes", "count", "--tenant", with_it.slug])
    refused = runner.invoke(args=["notes", "count", "--tenant", without.slug])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip() == "1"
    assert refused.exit_code == 1
    assert f"addon 'notes' is not enabled for tenant '{without.slug}'" in refused.output
