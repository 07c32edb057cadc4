"""A read-only resource: list and get (and its actions) are served and documented, no writes."""

from __future__ import annotations

from typing import Any

from flask import Flask

from core.api import Action, Resource
from core.api.openapi import build_document
from core.api.views import build_blueprint
from tests.kernel_models import Project
from tests.testkit.api import ProjectSchema


def _archive(project: Any, data: dict[str, Any]) -> Any:
    return project


LEDGER = Resource(
    "ledger",
    Project,
    ProjectSchema,
    {"read": "demo.ledger:read"},  # nothing else is needed: there is nothing else to guard
    actions=(Action("archive", _archive, "demo.ledger:archive"),),
    read_only=True,
)


def _routes(resource: Resource) -> dict[str, set[str]]:
    app = Flask(__name__)
    app.register_blueprint(build_blueprint("demo", [resource]))
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            routes.setdefault(rule.rule, set()).update(
                set(rule.methods or ()) - {"HEAD", "OPTIONS"}
            )
    return routes


def test_a_read_only_resource_serves_list_get_and_its_actions_only():
    assert _routes(LEDGER) == {
        "/api/v1/demo/ledger": {"GET"},
        "/api/v1/demo/ledger/<record_id>": {"GET"},
        "/api/v1/demo/ledger/<record_id>/archive": {"POST"},
    }


def test_a_writable_resource_still_gets_every_write_route():
    routes = _routes(Resource("projects", Project, ProjectSchema, "demo.projects"))
    assert routes["/api/v1/demo/projects"] == {"GET", "POST"}
    assert routes["/api/v1/demo/projects/bulk"] == {"POST"}
    assert routes["/api/v1/demo/projects/<record_id>"] == {"GET", "PUT", "PATCH", "DELETE"}


def test_the_openapi_document_shows_no_writes_of_a_read_only_resource():
    from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR

    doc = build_document([("demo", LEDGER)])
    OPENAPI_30_VALIDATOR.validate(doc)
    paths = doc["paths"]
    assert set(paths) == {
        "/api/v1/demo/ledger",
        "/api/v1/demo/ledger/{id}",
        "/api/v1/demo/ledger/{id}/archive",
    }
    assert set(paths["/api/v1/demo/ledger"]) == {"get"}
    assert set(paths["/api/v1/demo/ledger/{id}"]) - {"parameters"} == {"get"}
    assert "DemoLedgerCreate" not in doc["components"]["schemas"]
