"""The OpenAPI document: valid, per tenant, complete; the docs page; a schemathesis run."""

from __future__ import annotations

import pytest

URL = "/api/v1/openapi.json"


@pytest.fixture()
def headers(tenant, api_headers):
    """An admin's bearer headers in `tenant`."""
    return api_headers(tenant)


def test_the_document_is_valid_openapi(client, headers):
    import schemathesis
    from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR

    resp = client.get(URL, headers=headers)
    assert resp.status_code == 200
    doc = resp.get_json()
    OPENAPI_30_VALIDATOR.validate(doc)  # the OpenAPI 3.0 meta-schema schemathesis ships
    schemathesis.openapi.from_dict(doc).validate()
    assert doc["openapi"].startswith("3.")
    assert set(doc["components"]["securitySchemes"]) == {"bearerAuth", "apiKey"}


def test_the_document_covers_every_endpoint_of_a_resource(client, headers):
    doc = client.get(URL, headers=headers).get_json()
    base = "/api/v1/testkit/projects"
    paths = doc["paths"]
    assert set(paths[base]) >= {"get", "post"}
    assert set(paths[f"{base}/{{id}}"]) >= {"get", "put", "patch", "delete"}
    assert "post" in paths[f"{base}/bulk"] and "post" in paths[f"{base}/{{id}}/add-task"]
    listing = paths[base]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {
        "page",
        "per_page",
        "cursor",
        "sort",
        "q",
        "fields",
        "expand",
        "filter[budget][gte]",
        "filter[name][contains]",
    } <= names
    assert "filter[version][eq]" not in names  # only declared fields
    assert {"401", "403", "422", "429", "500"} <= set(listing["responses"])
    assert "412" in paths[f"{base}/{{id}}"]["patch"]["responses"]
    assert "testkit.projects:plan" in paths[f"{base}/{{id}}/add-task"]["post"]["description"]
    item = doc["components"]["schemas"]["TestkitProjects"]
    assert item["properties"]["budget"]["type"] == "string"  # exact decimals as strings
    assert item["properties"]["tasks"]["type"] == "array"  # expandable
    create = doc["components"]["schemas"]["TestkitProjectsCreate"]
    assert "id" not in create["properties"] and create["required"] == ["name"]


def test_the_429_answer_documents_retry_after_and_the_rate_limit_headers(client, headers):
    doc = client.get(URL, headers=headers).get_json()
    listing = doc["paths"]["/api/v1/testkit/projects"]["get"]["responses"]["429"]
    answer = doc["components"]["responses"][listing["$ref"].rsplit("/", 1)[-1]]
    assert set(answer["headers"]) == {
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    }
    assert answer["headers"]["Retry-After"]["schema"]["type"] == "integer"


def test_the_document_covers_only_the_tenants_enabled_addons(client, tenant, headers):
    from core.registry import current_registry

    assert any(
        p.startswith("/api/v1/testkit/")
        for p in client.get(URL, headers=headers).get_json()["paths"]
    )
    current_registry().disable(tenant.id, ["testkit"])
    paths = client.get(URL, headers=headers).get_json()["paths"]
    assert not any(p.startswith("/api/v1/testkit/") for p in paths)


def test_the_document_needs_a_login(client):
    assert client.get(URL).status_code == 401


def test_the_docs_page_is_served_from_vendored_files(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http://" not in html.replace("http://localhost", "") and "https://" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        src = html.split(asset)[0].rsplit('"', 1)[-1] + asset
        assert client.get(src).status_code == 200, src


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_answer_off_its_schema(
    app, client, headers, tenant, monkeypatch
):
    """Every operation, generated inputs; answers must be 4xx at worst and match the schema."""
    # Every operation gets its examples through, not a 429 once the budget is spent.
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "1000000 per minute")
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    seeds = _seed_main_records(client, headers)
    calls = iter(range(10**6))
    schema = schemathesis.openapi.from_wsgi(URL, app, headers=headers)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: op.method.upper() == "DELETE",
    )  # the seed lives longest
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(case):
            for name in list(case.path_parameters or {}):
                # Half the calls on a record that exists, so writes and actions get past 404.
                seed = seeds.get(case.path.split("/{id}")[0] if name == "id" else name)
                if seed is not None and next(calls) % 2:
                    case.path_parameters[name] = seed
            response = case.call(headers=headers)
            case.validate_response(response, checks=checks)

        run()


def _seed_main_records(client, headers) -> dict[str, str]:
    """One record of each main resource, by the collection path its `{id}` follows (or by
    the name of the path parameter that takes its id)."""

    def made(path: str, body: dict) -> str:
        resp = client.post(f"/api/v1{path}", json=body, headers=headers)
        assert resp.status_code == 201, (path, resp.get_json())
        return resp.get_json()["data"]["id"]

    project = made("/testkit/projects", {"name": "Seed", "budget": "5"})
    vendor = made("/contacts/accounts", {"name": "Seed vendor", "kinds": ["vendor"]})
    person = made("/contacts/people", {"account_id": vendor, "last_name": "Seed"})
    address = made(f"/contacts/accounts/{vendor}/addresses", {"country": "DE"})
    warehouse = made("/inventory/warehouses", {"code": "SEED", "name": "Seed"})
    product = made("/inventory/products", {"sku": "SEED-1", "name": "Seed"})
    price = made(
        "/purchase/supplier-prices", {"account_id": vendor, "product_id": product, "price": "2"}
    )
    line = {"product_id": product, "quantity": "5", "unit_cost": "2"}
    order = made(
        "/purchase/orders", {"account_id": vendor, "warehouse_id": warehouse, "lines": [line]}
    )
    note = made("/notes/notes", {"title": "Seed"})
    hook = made("/webhooks", {"url": "https://example.com/hook", "event_types": ["*"]})
    v1 = "/api/v1"
    return {
        f"{v1}/testkit/projects": project,
        "thing_id": project,
        f"{v1}/contacts/accounts": vendor,
        "account_id": vendor,
        f"{v1}/contacts/people": person,
        "address_id": address,
        f"{v1}/inventory/warehouses": warehouse,
        "warehouse_id": warehouse,
        f"{v1}/inventory/products": product,
        "product_id": product,
        f"{v1}/purchase/supplier-prices": price,
        f"{v1}/purchase/orders": order,
        f"{v1}/notes/notes": note,
        "endpoint_id": hook,
    }


def test_a_nested_exact_decimal_is_a_decimal_string_or_a_number_without_string_bounds(app):
    import json
    from decimal import Decimal

    from marshmallow import Schema, fields, validate
    from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR

    from core.api.openapi import DECIMAL_PATTERN, SpecBuilder

    class CheckLine(Schema):
        quantity = fields.Decimal(
            as_string=True,
            load_default=Decimal(1),
            validate=validate.Range(min=Decimal(0), max=Decimal(1000)),
        )

    class CheckOrder(Schema):
        total = fields.Decimal(as_string=True, validate=validate.Range(min=Decimal(0)))
        lines = fields.List(fields.Nested(CheckLine))
        first = fields.Nested(CheckLine)

    builder = SpecBuilder()
    builder._component("CheckOrderCreate", builder.json_schema(CheckOrder, output=False))
    builder._component("CheckOrder", builder.json_schema(CheckOrder, output=True))
    # As the API sends it: Flask's JSON writes a Decimal left in the document as a string.
    doc = json.loads(app.json.dumps(builder.to_dict()))
    OPENAPI_30_VALIDATOR.validate(doc)
    schemas = doc["components"]["schemas"]
    either = [{"type": "string", "pattern": DECIMAL_PATTERN}, {"type": "number"}]
    assert schemas["CheckOrderCreate"]["properties"]["lines"]["items"] == {
        "$ref": "#/components/schemas/CheckLine"
    }
    assert schemas["CheckLine"]["properties"]["quantity"] == {"oneOf": either}
    assert schemas["CheckOrderCreate"]["properties"]["total"] == {"oneOf": either}
    # A top-level answer field is the string the API writes.
    assert schemas["CheckOrder"]["properties"]["total"] == {
        "type": "string",
        "pattern": DECIMAL_PATTERN,
    }
