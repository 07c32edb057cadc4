"""The resource toolkit, driven through testkit's Project resource: list, read, write, act."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import update

from tests.fixtures import count_rows
from tests.kernel_models import Project, Task

URL = "/api/v1/testkit/projects"


@pytest.fixture()
def headers(tenant, api_headers):
    """An admin's bearer headers in `tenant`."""
    return api_headers(tenant)


@pytest.fixture()
def seeded(session, tenant, as_tenant):
    """Five projects with tasks: Alpha(10) Beta(20) Gamma(30) Delta(40) Epsilon(50)."""
    names = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with as_tenant(tenant):
        for i, name in enumerate(names):
            p = Project(
                name=name, budget=Decimal(10 * (i + 1)), created_at=start + dt.timedelta(days=i)
            )
            session.add(p)
            for j in range(2):
                session.add(Task(project=p, title=f"{name} task {j}", hours=Decimal(j + 1)))
        session.flush()
    return names


def _names(resp):
    assert resp.status_code == 200, resp.get_json()
    return [row["name"] for row in resp.get_json()["data"]]


def _create(client, headers, **body):
    body.setdefault("name", f"p-{uuid.uuid4().hex[:6]}")
    resp = client.post(URL, json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp


# --- create, read, update, delete --------------------------------------------------------


def test_create_answers_201_with_the_record_its_location_and_etag(client, headers):
    resp = _create(client, headers, name="Roof", budget="1250.50")
    body = resp.get_json()
    assert body["success"] is True
    assert body["data"]["name"] == "Roof"
    assert Decimal(body["data"]["budget"]) == Decimal("1250.50")
    assert body["data"]["version"] == 1
    assert resp.headers["ETag"] == '"1"'
    assert resp.headers["Location"].endswith(f"{URL}/{body['data']['id']}")
    again = client.get(resp.headers["Location"], headers=headers)
    assert again.get_json()["data"] == body["data"]


def test_money_sent_as_a_json_number_stays_exact(client, headers):
    resp = client.post(
        URL,
        data='{"name": "Exact", "budget": 0.1}',
        content_type="application/json",
        headers=headers,
    )
    assert resp.status_code == 201
    assert resp.get_json()["data"]["budget"] == "0.1000"


def test_a_business_rule_keeps_its_own_error_code(client, headers):
    _create(client, headers, name="Twice")
    resp = client.post(URL, json={"name": "Twice"}, headers=headers)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "DUPLICATE_NAME"
    assert resp.get_json()["error"]["details"] == {"name": ["already exists"]}


def test_patch_changes_only_the_given_fields_and_bumps_the_etag(client, headers):
    created = _create(client, headers, name="Old", budget="5").get_json()["data"]
    resp = client.patch(f"{URL}/{created['id']}", json={"budget": "7.25"}, headers=headers)
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["name"] == "Old" and Decimal(data["budget"]) == Decimal("7.25")
    assert data["version"] == 2 and resp.headers["ETag"] == '"2"'


def test_put_replaces_and_needs_every_required_field(client, headers):
    created = _create(client, headers, name="Full", budget="5").get_json()["data"]
    missing = client.put(f"{URL}/{created['id']}", json={"budget": "1"}, headers=headers)
    assert missing.status_code == 422
    assert missing.get_json()["error"]["details"] == {"name": ["Missing data for required field."]}
    resp = client.put(f"{URL}/{created['id']}", json={"name": "Replaced"}, headers=headers)
    assert resp.status_code == 200
    assert resp.get_json()["data"]["name"] == "Replaced"
    assert Decimal(resp.get_json()["data"]["budget"]) == 0  # PUT resets what it omits


def test_if_match_with_a_stale_etag_is_refused_with_412(client, headers):
    created = _create(client, headers, name="Locked").get_json()["data"]
    url = f"{URL}/{created['id']}"
    assert (
        client.patch(url, json={"budget": "1"}, headers={**headers, "If-Match": '"1"'}).status_code
        == 200
    )
    stale = client.patch(url, json={"budget": "2"}, headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.get_json()["error"]["code"] == "PRECONDITION_FAILED"
    assert "If-Match" in stale.get_json()["error"]["details"]
    assert Decimal(client.get(url, headers=headers).get_json()["data"]["budget"]) == 1
    assert client.delete(url, headers={**headers, "If-Match": '"1"'}).status_code == 412


def test_a_concurrent_change_between_read_and_write_is_a_409_conflict(client, headers):
    from tests.testkit.api import projects

    created = _create(client, headers, name="Race").get_json()["data"]

    def update_behind_our_back(obj, data):
        # Another writer commits a new version after we loaded the row.
        from core.db import session

        session.execute(
            update(Project.__table__)
            .where(Project.__table__.c.id == obj.id)
            .values(version=Project.__table__.c.version + 1)
        )
        obj.name = data.get("name", obj.name)
        return obj

    original = projects.update
    object.__setattr__(projects, "update", update_behind_our_back)
    try:
        resp = client.patch(f"{URL}/{created['id']}", json={"name": "Mine"}, headers=headers)
    finally:
        object.__setattr__(projects, "update", original)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "CONFLICT"


def test_deleting_a_record_still_referenced_is_a_409_saying_it_is_in_use(
    client, headers, session, tenant, as_tenant
):
    from sqlalchemy import delete as sql_delete

    from tests.testkit.api import projects

    created = _create(client, headers, name="Referenced").get_json()["data"]
    with as_tenant(tenant):
        session.add(Task(project_id=uuid.UUID(created["id"]), title="points at it"))
        session.flush()

    def hard_delete(obj):
        # A real DELETE (not the soft delete), which the task's foreign key refuses.
        session.execute(sql_delete(Project.__table__).where(Project.__table__.c.id == obj.id))

    original = projects.delete
    object.__setattr__(projects, "delete", hard_delete)
    try:
        resp = client.delete(f"{URL}/{created['id']}", headers=headers)
    finally:
        object.__setattr__(projects, "delete", original)
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert "still in use" in error["message"], error
    assert "does not exist" not in error["message"]
    assert error["details"] == {"id": ["still in use"]}
    if session.get_bind().dialect.name == "postgresql":  # it names what refers to it
        assert "(test task)" in error["message"]
    assert client.get(f"{URL}/{created['id']}", headers=headers).status_code == 200


def test_delete_is_soft_the_record_vanishes_but_the_row_stays(client, headers):
    created = _create(client, headers, name="Gone").get_json()["data"]
    resp = client.delete(f"{URL}/{created['id']}", headers=headers)
    assert resp.status_code == 200
    assert resp.get_json()["data"] == {"id": created["id"], "deleted": True}
    assert client.get(f"{URL}/{created['id']}", headers=headers).status_code == 404
    assert "Gone" not in _names(client.get(URL, headers=headers))
    assert count_rows("test_project") == 1


def test_another_tenants_record_is_not_found(client, make_tenant, api_headers):
    a, b = make_tenant(), make_tenant()
    created = _create(client, api_headers(a), name="Mine").get_json()["data"]
    other = api_headers(b)
    for method in ("get", "patch", "put", "delete"):
        resp = getattr(client, method)(f"{URL}/{created['id']}", json={"name": "x"}, headers=other)
        assert resp.status_code == 404, method
        assert resp.get_json()["error"]["code"] == "NOT_FOUND"
    assert _names(client.get(URL, headers=other)) == []


def test_each_action_needs_its_permission(client, tenant, api_headers, seeded):
    sales = api_headers(tenant, roles=["sales"])  # testkit.projects:read only
    assert client.get(URL, headers=sales).status_code == 200
    resp = client.post(URL, json={"name": "No"}, headers=sales)
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "AUTHORIZATION_ERROR"
    assert resp.get_json()["error"]["details"] == {"permission": ["testkit.projects:create"]}
    assert client.get(URL).get_json()["error"]["code"] == "AUTHENTICATION_ERROR"


def test_a_disabled_addon_s_resources_answer_404(client, tenant, headers, session):
    from core.registry import current_registry

    assert client.get(URL, headers=headers).status_code == 200
    current_registry().disable(tenant.id, ["testkit"])
    resp = client.get(URL, headers=headers)
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "NOT_FOUND"


# --- custom actions ----------------------------------------------------------------------


def test_a_custom_action_runs_the_service_with_its_own_input(client, headers):
    created = _create(client, headers, name="Planned").get_json()["data"]
    resp = client.post(
        f"{URL}/{created['id']}/add-task", json={"title": "Dig", "hours": "3"}, headers=headers
    )
    assert resp.status_code == 200, resp.get_json()
    got = client.get(f"{URL}/{created['id']}?expand=tasks", headers=headers).get_json()["data"]
    assert [(t["title"], Decimal(t["hours"])) for t in got["tasks"]] == [("Dig", 3)]
    bad = client.post(f"{URL}/{created['id']}/add-task", json={"hours": "x"}, headers=headers)
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["details"]) == {"title", "hours"}


def test_a_custom_action_needs_its_own_permission(client, tenant, api_headers, seeded):
    sales = api_headers(tenant, roles=["sales"])
    resp = client.post(f"{URL}/{uuid.uuid4()}/add-task", json={"title": "x"}, headers=sales)
    assert resp.status_code == 403
    assert resp.get_json()["error"]["details"] == {"permission": ["testkit.projects:plan"]}


# --- bulk --------------------------------------------------------------------------------


def test_bulk_creates_every_item(client, headers):
    items = [{"name": f"Bulk {i}", "budget": str(i)} for i in range(3)]
    resp = client.post(f"{URL}/bulk", json={"items": items}, headers=headers)
    assert resp.status_code == 201
    assert [d["name"] for d in resp.get_json()["data"]] == ["Bulk 0", "Bulk 1", "Bulk 2"]
    assert count_rows("test_project") == 3


def test_bulk_with_a_bad_item_writes_nothing_and_names_the_index(client, headers):
    items = [{"name": "Good"}, {"name": "Bad", "budget": "lots"}, {"nme": "typo"}]
    resp = client.post(f"{URL}/bulk", json={"items": items}, headers=headers)
    assert resp.status_code == 422
    details = resp.get_json()["error"]["details"]
    assert details == {
        "items.1.budget": ["Not a valid number."],
        "items.2.nme": ["Unknown field."],
        "items.2.name": ["Missing data for required field."],
    }
    assert count_rows("test_project") == 0


def test_bulk_item_refused_by_a_business_rule_keeps_its_status_and_writes_nothing(client, headers):
    _create(client, headers, name="Taken")
    resp = client.post(
        f"{URL}/bulk", json={"items": [{"name": "New"}, {"name": "Taken"}]}, headers=headers
    )
    assert resp.status_code == 409  # the rule's own answer (a conflict), not a generic 400
    body = resp.get_json()["error"]
    assert body["code"] == "DUPLICATE_NAME" and body["details"] == {
        "items.1": ["a project named 'Taken' exists"]
    }
    assert count_rows("test_project") == 1


def test_bulk_names_every_item_a_business_rule_refuses_and_writes_nothing(client, headers):
    _create(client, headers, name="Taken")
    items = [
        {"name": "Fine"},
        {"name": "Taken"},  # a business rule: the name is used
        {"name": "Cheap", "budget": "1"},
        {"name": "Taken"},  # refused again: every item is tried, not only the first
    ]
    resp = client.post(f"{URL}/bulk", json={"items": items}, headers=headers)
    assert resp.status_code == 409  # one kind of refusal keeps its own code and status
    error = resp.get_json()["error"]
    assert error["code"] == "DUPLICATE_NAME"
    assert error["message"] == "2 of 4 items were refused; nothing was created"
    assert error["details"] == {
        "items.1": ["a project named 'Taken' exists"],
        "items.3": ["a project named 'Taken' exists"],
    }
    assert [(i["index"], i["code"]) for i in error["items"]] == [
        (1, "DUPLICATE_NAME"),
        (3, "DUPLICATE_NAME"),
    ]
    assert count_rows("test_project") == 1  # "Fine" and "Cheap" were undone with the rest


def test_bulk_with_a_malformed_item_runs_no_service_and_names_only_schema_errors(client, headers):
    _create(client, headers, name="Taken")
    items = [
        {"name": "Fine"},
        {"name": "Taken"},  # would be refused by the service, but no service runs
        {"name": "Cheap", "budget": "lots"},  # the schema: not a number
    ]
    resp = client.post(f"{URL}/bulk", json={"items": items}, headers=headers)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"] == "item 2: budget: Not a valid number.; nothing was created"
    assert error["details"] == {"items.2.budget": ["Not a valid number."]}
    assert [(i["index"], i["code"]) for i in error["items"]] == [(2, "VALIDATION_ERROR")]
    assert error["items"][0]["details"] == {"budget": ["Not a valid number."]}
    assert count_rows("test_project") == 1


def test_bulk_items_refused_by_the_database_are_named_too(client, headers):
    from tests.testkit.api import breaking

    items = [{"name": "Clash"}, {"name": "Fine"}, {"name": "Taken"}]
    _create(client, headers, name="Taken")
    with breaking("Clash", "duplicate-task"):
        resp = client.post(f"{URL}/bulk", json={"items": items}, headers=headers)
    error = resp.get_json()["error"]
    assert resp.status_code == 422 and error["details"] == {
        "items.0": ["a record with the same id already exists"],
        "items.2": ["a project named 'Taken' exists"],
    }
    assert [(i["index"], i["code"], i["details"]) for i in error["items"]] == [
        (0, "CONFLICT", {"id": ["already exists"]}),
        (2, "DUPLICATE_NAME", {"name": ["already exists"]}),
    ]
    assert count_rows("test_project") == 1 and count_rows("test_task") == 0


def test_bulk_takes_at_most_1000_items(client, headers):
    resp = client.post(f"{URL}/bulk", json={"items": [{"name": "x"}] * 1001}, headers=headers)
    assert resp.status_code == 422
    assert "at most 1000" in resp.get_json()["error"]["details"]["items"][0]


# --- lists -------------------------------------------------------------------------------


def test_page_pagination_reports_totals(client, headers, seeded):
    resp = client.get(f"{URL}?per_page=2&page=2", headers=headers)
    assert _names(resp) == ["Delta", "Epsilon"]  # default sort: name
    assert resp.get_json()["meta"]["pagination"] == {
        "page": 2,
        "per_page": 2,
        "total": 5,
        "total_pages": 3,
    }
    assert _names(client.get(f"{URL}?per_page=2&page=4", headers=headers)) == []


@pytest.mark.parametrize(
    "query,field",
    [
        ("per_page=201", "per_page"),
        ("per_page=0", "per_page"),
        ("page=zero", "page"),
        ("page=1&cursor=", "cursor"),
    ],
)
def test_bad_paging_is_a_validation_error_naming_the_parameter(client, headers, query, field):
    resp = client.get(f"{URL}?{query}", headers=headers)
    assert resp.status_code == 422
    assert list(resp.get_json()["error"]["details"]) == [field]


@pytest.mark.parametrize("sort", ["name", "-budget", "created_at", "-created_at,name"])
def test_cursor_pagination_walks_every_record_once(client, headers, seeded, sort):
    seen, cursor = [], ""
    for _ in range(10):
        body = client.get(
            f"{URL}?per_page=2&sort={sort}&cursor={cursor}", headers=headers
        ).get_json()
        seen += [r["name"] for r in body["data"]]
        cursor = body["meta"]["pagination"]["next_cursor"]
        if cursor is None:
            break
    everything = _names(client.get(f"{URL}?sort={sort}&per_page=200", headers=headers))
    assert seen == everything and len(seen) == 5


def test_cursor_pagination_survives_ties_and_nulls(client, headers, session, tenant, as_tenant):
    with as_tenant(tenant):
        for i in range(7):
            session.add(
                Project(
                    name="Same", budget=Decimal(i % 2), owner_id=None if i % 3 else uuid.uuid4()
                )
            )
        session.flush()
    ids, cursor = [], ""
    while cursor is not None:
        body = client.get(
            f"{URL}?per_page=3&sort=-budget,name&cursor={cursor}", headers=headers
        ).get_json()
        ids += [r["id"] for r in body["data"]]
        cursor = body["meta"]["pagination"]["next_cursor"]
    assert len(ids) == len(set(ids)) == 7


def test_a_forged_or_foreign_cursor_is_refused(client, headers, seeded):
    body = client.get(f"{URL}?per_page=2&cursor=", headers=headers).get_json()
    cursor = body["meta"]["pagination"]["next_cursor"]
    for bad in ("garbage", cursor[:-3]):
        assert client.get(f"{URL}?cursor={bad}", headers=headers).status_code == 422
    other_sort = client.get(f"{URL}?cursor={cursor}&sort=-name", headers=headers)
    assert other_sort.status_code == 422
    assert list(other_sort.get_json()["error"]["details"]) == ["cursor"]


@pytest.mark.parametrize(
    "query,expected",
    [
        ("filter[budget][eq]=20", ["Beta"]),
        ("filter[budget]=20", ["Beta"]),
        ("filter[budget][ne]=20", ["Alpha", "Delta", "Epsilon", "Gamma"]),
        ("filter[budget][lt]=20", ["Alpha"]),
        ("filter[budget][lte]=20", ["Alpha", "Beta"]),
        ("filter[budget][gt]=40", ["Epsilon"]),
        ("filter[budget][gte]=40", ["Delta", "Epsilon"]),
        ("filter[name][in]=Alpha,Gamma,Zeta", ["Alpha", "Gamma"]),
        ("filter[name][contains]=LT", ["Delta"]),
        ("filter[created_at][gte]=2026-01-04T00:00:00Z", ["Delta", "Epsilon"]),
        ("filter[budget][gt]=10&filter[budget][lt]=40", ["Beta", "Gamma"]),
        ("q=ps", ["Epsilon"]),
    ],
)
def test_each_filter_operator(client, headers, seeded, query, expected):
    assert _names(client.get(f"{URL}?{query}", headers=headers)) == expected


def test_contains_takes_wildcards_literally(client, headers, seeded, session, tenant, as_tenant):
    with as_tenant(tenant):
        session.add(Project(name="100% done"))
        session.flush()
    assert _names(client.get(f"{URL}?filter[name][contains]=%", headers=headers)) == ["100% done"]
    assert _names(client.get(f"{URL}?filter[name][contains]=_", headers=headers)) == []


@pytest.mark.parametrize(
    "query,field,words",
    [
        ("filter[secret][eq]=1", "filter[secret][eq]", "cannot filter on 'secret'"),
        ("filter[name][like]=a", "filter[name][like]", "unknown operator 'like'"),
        ("filter[budget][gt]=cheap", "filter[budget][gt]", "invalid value 'cheap'"),
        ("filter[created_at][lt]=yesterday", "filter[created_at][lt]", "invalid value"),
        ("filter[owner_id][eq]=nobody", "filter[owner_id][eq]", "invalid value"),
        ("sort=owner_id", "sort", "cannot sort on 'owner_id'"),
        ("fields=name,password", "fields", "unknown field(s) password"),
        ("expand=owner", "expand", "cannot expand owner"),
        ("filter[budget][contains]=1", "filter[budget][contains]", "contains works on text"),
        ("colour=red", "colour", "unknown query parameter"),
    ],
)
def test_undeclared_or_bad_list_parameters_are_named(client, headers, query, field, words):
    resp = client.get(f"{URL}?{query}", headers=headers)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert list(error["details"]) == [field]
    assert words in error["message"]


def test_sort_by_several_fields_and_directions(client, headers, seeded, session, tenant, as_tenant):
    with as_tenant(tenant):
        session.add(Project(name="Aardvark", budget=Decimal(30)))
        session.flush()
    assert _names(client.get(f"{URL}?sort=-budget,name", headers=headers)) == [
        "Epsilon",
        "Delta",
        "Aardvark",
        "Gamma",
        "Beta",
        "Alpha",
    ]
    assert _names(client.get(f"{URL}?sort=-created_at", headers=headers))[:2] == [
        "Aardvark",
        "Epsilon",
    ]


def test_sparse_fieldsets_return_only_the_asked_fields(client, headers, seeded):
    rows = client.get(f"{URL}?fields=id,name&per_page=1", headers=headers).get_json()["data"]
    assert set(rows[0]) == {"id", "name"}
    some = rows[0]["id"]
    one = client.get(f"{URL}/{some}?fields=budget", headers=headers).get_json()["data"]
    assert one == {"budget": "10.0000"}


def test_a_sparse_expanded_list_gives_every_row_only_its_own_asked_fields(client, headers, seeded):
    resp = client.get(f"{URL}?fields=name&expand=tasks&sort=name&per_page=3", headers=headers)
    rows = resp.get_json()["data"]
    assert [set(row) for row in rows] == [{"name", "tasks"}] * 3
    assert [(row["name"], [t["title"] for t in row["tasks"]]) for row in rows] == [
        (name, [f"{name} task 0", f"{name} task 1"]) for name in ["Alpha", "Beta", "Delta"]
    ]


def test_expand_loads_relations_without_n_plus_1_queries(client, headers, seeded, count_selects):

    def selects(per_page: int) -> tuple[list[str], list[dict]]:
        with count_selects() as statements:
            resp = client.get(f"{URL}?expand=tasks&per_page={per_page}", headers=headers)
        return statements, resp.get_json()["data"]

    one, _ = selects(1)
    many, rows = selects(200)
    assert [len(r["tasks"]) for r in rows] == [2] * 5
    assert rows[0]["tasks"][0]["title"] == "Alpha task 0"
    assert len([s for s in many if "test_task" in s]) == 1  # one load for every project
    assert len(many) == len(one)  # five rows cost no more queries than one
