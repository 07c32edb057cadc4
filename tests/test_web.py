"""The web shell through the test client: layout, generic views, settings and dashboard."""

from __future__ import annotations

import csv
import io
import re
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.identity import Role
from core.models import Membership, User
from tests.kernel_models import Project, Task

PASSWORD = "correct horse battery"


@pytest.fixture()
def login(client):
    """`login(user, tenant)`: log the test client in through the login form."""

    def do(user, tenant):
        resp = client.post(
            "/login", data={"email": user.email, "password": PASSWORD, "tenant": tenant.slug}
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client

    return do


@pytest.fixture()
def admin(make_tenant, make_member, login):
    """A logged-in admin of a fresh tenant: (client, tenant, user)."""
    tenant = make_tenant(name="Acme Corporation")
    user = make_member(tenant, roles=["admin"])
    return login(user, tenant), tenant, user


def page(resp) -> str:
    return resp.get_data(as_text=True)


def add_projects(as_tenant, session, tenant, *specs):
    with as_tenant(tenant):
        made = [Project(name=n, budget=Decimal(b)) for n, b in specs]
        session.add_all(made)
        session.flush()
    return made


# --- layout --------------------------------------------------------------------------------


def test_dashboard_shows_tenant_menu_user_and_widgets(admin):
    client, _tenant, user = admin
    html = page(client.get("/"))
    assert "Acme Corporation" in html
    assert user.email in html
    assert 'href="/testkit/projects"' in html and ">Projects<" in html  # the app menu
    assert 'href="/testkit/things"' in html
    assert "Project budgets" in html and "<canvas" in html  # testkit's chart widget
    assert "chart.umd.min.js" in html
    assert "Manage apps" in html  # the kernel's widget for addon managers
    assert 'href="/settings/users"' in html  # settings in the user menu
    assert "Change password" in html and "Log out" in html


def test_visitors_get_the_public_landing_page_with_a_login_link(client, make_tenant):
    make_tenant("visible", "Visible Ltd")
    html = page(client.get("/"))
    assert "Visible Ltd" not in html  # visitors learn nothing of who else is served here
    assert 'href="/login"' in html
    assert "Dashboard" not in html


def test_menu_and_settings_follow_permissions(make_tenant, make_member, login):
    tenant = make_tenant()
    user = make_member(tenant, roles=["employee"])
    client = login(user, tenant)
    html = page(client.get("/"))
    assert "/testkit/projects" not in html
    assert "/settings/" not in html
    assert "Project budgets" not in html
    assert client.get("/testkit/projects").status_code == 403
    assert client.get("/settings/users").status_code == 403
    assert client.get("/settings").status_code == 403


def test_layout_serves_vendored_assets(client):
    for path in (
        "/static/vendor/bootstrap-5.3.9/bootstrap.min.css",
        "/static/vendor/htmx-2.0.11/htmx.min.js",
        "/static/vendor/chartjs-4.6.1/chart.umd.min.js",
    ):
        resp = client.get(path)
        assert resp.status_code == 200, path
        resp.close()


def test_tenant_switcher_lists_the_users_companies_and_switches(
    make_tenant, make_member, login, session, as_tenant
):
    first = make_tenant(name="First Co")
    second = make_tenant(name="Second Co")
    user = make_member(first, roles=["admin"])
    from core import services
    from core.tenancy import system_context

    with system_context():
        services.create_user(user.email, tenant_slug=second.slug, roles=["admin"])
    client = login(user, first)
    html = page(client.get("/"))
    assert "Switch company" in html and "Second Co" in html
    resp = client.post(
        "/switch-tenant", data={"tenant": second.slug, "next": "/"}, follow_redirects=True
    )
    html = page(resp)
    assert re.search(r'data-testid="tenant-name">Second Co<', html)
    assert "Switched to Second Co" in html


def test_error_pages_render_in_the_layout(admin):
    client, _tenant, _user = admin
    resp = client.get("/no/such/page")
    assert resp.status_code == 404
    html = page(resp)
    assert "Not found" in html and "Acme Corporation" in html and "bootstrap.min.css" in html


def test_an_unexpected_error_shows_the_500_page_with_the_request_id_and_logs_the_trace(
    admin, caplog
):
    client, _tenant, _user = admin
    with caplog.at_level("ERROR"):
        resp = client.get("/testkit/boom", headers={"X-Request-ID": "req-boom-42"})
    assert resp.status_code == 500
    html = page(resp)
    assert "Something went wrong" in html and "Acme Corporation" in html  # inside the layout
    assert "req-boom-42" in html and "Nothing was saved" in html
    assert "Traceback" not in html and "deliberate bug" not in html and "RuntimeError" not in html
    logged = [r for r in caplog.records if "req-boom-42" in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the log has the trace
    assert "testkit's deliberate bug" in caplog.text and "Traceback" in caplog.text


def test_forbidden_page_is_in_the_layout(make_tenant, make_member, login):
    tenant = make_tenant()
    client = login(make_member(tenant, roles=["employee"]), tenant)
    resp = client.get("/settings/addons")
    assert resp.status_code == 403
    assert "Not allowed" in page(resp) and "core.addons:manage" in page(resp)


def test_anonymous_pages_redirect_to_login(client):
    resp = client.get("/testkit/projects")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


# --- list view -----------------------------------------------------------------------------


def test_list_searches_sorts_and_paginates(admin, as_tenant, session):
    client, tenant, _ = admin
    add_projects(
        as_tenant,
        session,
        tenant,
        ("Apollo", "10"),
        ("Gemini", "30"),
        ("Mercury", "20"),
        ("Artemis", "0"),
    )
    html = page(client.get("/testkit/projects"))
    assert html.index("Apollo") < html.index("Artemis") < html.index("Gemini")
    assert "4 records" in html
    html = page(client.get("/testkit/projects?q=aRT"))  # case-insensitive
    assert "Artemis" in html and "Mercury" not in html and "Apollo" not in html
    html = page(client.get("/testkit/projects?sort=-budget"))
    assert html.index("Gemini") < html.index("Mercury") < html.index("Apollo")
    assert 'aria-sort="descending"' in html
    html = page(client.get("/testkit/projects?per_page=2&page=2"))
    assert "Gemini" in html and "Mercury" in html and "Apollo" not in html
    assert 'aria-label="Pages"' in html
    html = page(client.get("/testkit/projects?sort=evil_column"))  # unknown sorts are ignored
    assert "4 records" in html


def test_list_filters(admin, as_tenant, session):
    client, tenant, _ = admin
    add_projects(as_tenant, session, tenant, ("Funded", "5"), ("Unfunded", "0"))
    html = page(client.get("/testkit/projects?f_budget=0.00"))
    assert "Unfunded" in html and "Funded</a>" not in html


def test_list_shows_only_the_tenants_rows(admin, make_tenant, as_tenant, session):
    client, tenant, _ = admin
    other = make_tenant()
    add_projects(as_tenant, session, other, ("Secret", "1"))
    add_projects(as_tenant, session, tenant, ("Mine", "1"))
    html = page(client.get("/testkit/projects"))
    assert "Mine" in html and "Secret" not in html


def test_csv_cells_defuse_formulas_but_keep_negative_numbers():
    from core.web.views import _cell

    assert _cell("=1+2") == "'=1+2"
    assert _cell("@SUM(A1)") == "'@SUM(A1)"
    assert _cell("-5.00") == "-5.00"
    assert _cell("plain") == "plain"


def test_model_views_refuse_a_search_on_an_unknown_column():
    from flask import Blueprint

    from core.web.views import ModelViews
    from tests.testkit.api import ProjectSchema

    views = ModelViews(
        name="bad",
        model=Project,
        schema=ProjectSchema,
        title="Bad",
        columns=[],
        search=["nope"],
        permissions={"read": "a.b:c", "create": "a.b:c", "update": "a.b:c"},
    )
    with pytest.raises(ValueError, match="'nope' is not a column of Project"):
        views.register(Blueprint("bad", __name__))


def test_csv_export_holds_the_filtered_list_and_defuses_formulas(admin, as_tenant, session):
    client, tenant, _ = admin
    add_projects(as_tenant, session, tenant, ("Alpha", "1.50"), ("=SUM(A1)", "2"), ("Beta", "3"))
    resp = client.get("/testkit/projects/export.csv?q=a&sort=-budget")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(page(resp))))
    assert rows[0] == ["Name", "Budget", "Created"]
    assert [r[:2] for r in rows[1:]] == [["Beta", "3.00"], ["'=SUM(A1)", "2.00"], ["Alpha", "1.50"]]


def test_csv_export_reads_in_batches_and_keeps_order_and_record_rules(
    make_tenant, make_member, login, as_tenant, session, monkeypatch
):
    from core.web import views

    monkeypatch.setattr(views, "EXPORT_BATCH", 2)  # five rows: three batches
    tenant = make_tenant()
    seller = make_member(tenant, roles=["sales"])
    with as_tenant(tenant):
        for i in range(5):
            session.add(Project(name=f"Mine {i}", budget=Decimal(i), owner_id=seller.id))
        session.add(Project(name="Not mine", budget=Decimal(9)))
        session.flush()
    from tests.testkit.web import projects

    # Record what each read hands the row builder (the real one still runs): batches of
    # EXPORT_BATCH, not the whole list at once.
    batches: list[int] = []
    make_rows = projects.make_rows
    monkeypatch.setattr(
        projects, "make_rows", lambda records: batches.append(len(records)) or make_rows(records)
    )
    client = login(seller, tenant)
    rows = list(csv.reader(io.StringIO(page(client.get("/testkit/projects/export.csv")))))
    assert [r[0] for r in rows] == ["Name", *(f"Mine {i}" for i in range(5))]
    assert batches == [2, 2, 1]


# --- form view -----------------------------------------------------------------------------


def test_form_shows_errors_next_to_fields_and_keeps_input(admin, as_tenant, session):
    client, tenant, _ = admin
    html = page(client.get("/testkit/projects/new"))
    assert '<label class="form-label" for="name">Name' in html
    assert 'name="csrf_token"' in html
    resp = client.post("/testkit/projects/new", data={"name": "X" * 101, "budget": "lots"})
    assert resp.status_code == 422
    html = page(resp)
    assert f'value="{"X" * 101}"' in html and 'value="lots"' in html  # the typing is kept
    assert re.search(r'id="name-errors"[^>]*>[^<]*(Length|length|Shorter)', html)
    assert re.search(r'id="budget-errors"[^>]*>Not a valid', html)
    with as_tenant(tenant):
        assert session.scalars(select(Project)).all() == []


def test_form_shows_a_missing_required_field(admin):
    client, _tenant, _ = admin
    resp = client.post("/testkit/projects/new", data={"name": "", "budget": "5"})
    assert resp.status_code == 422
    assert re.search(r'id="name-errors"[^>]*>Missing data', page(resp))


def test_form_shows_a_service_rule_next_to_its_field(admin, as_tenant, session):
    client, tenant, _ = admin
    add_projects(as_tenant, session, tenant, ("Taken", "1"))
    resp = client.post("/testkit/projects/new", data={"name": "Taken", "budget": "2"})
    assert resp.status_code == 409  # the API's service refuses it, with the API's status
    html = page(resp)
    assert re.search(r'id="name-errors"[^>]*>already exists', html)
    assert 'value="Taken"' in html


def test_form_creates_and_redirects_to_the_detail_page(admin, as_tenant, session):
    client, tenant, _ = admin
    resp = client.post("/testkit/projects/new", data={"name": "Voyager", "budget": "12.5"})
    assert resp.status_code == 303
    html = page(client.get(resp.headers["Location"]))
    assert "Project created" in html and "Voyager" in html and "12.50" in html
    with as_tenant(tenant):
        project = session.scalars(select(Project)).one()
    assert project.budget == Decimal("12.50") and project.tenant_id == tenant.id


def test_form_and_api_share_the_schema_and_the_service(admin, as_tenant, session):
    client, tenant, user = admin
    # The API's defaults apply to the form: no budget is a budget of 0, no owner is the caller.
    resp = client.post("/testkit/projects/new", data={"name": "Z", "budget": ""})
    assert resp.status_code == 303
    # The API's bounds apply too.
    resp = client.post("/testkit/projects/new", data={"name": "Big", "budget": "1e13"})
    assert resp.status_code == 422
    assert re.search(r'id="budget-errors"[^>]*>Must be greater than or equal to 0', page(resp))
    again = client.post("/testkit/projects/new", data={"name": "Z"})
    assert again.status_code == 409  # the API's service, with the API's status
    with as_tenant(tenant):
        (project,) = session.scalars(select(Project)).all()
    assert (project.name, project.budget, project.owner_id) == ("Z", Decimal("0"), user.id)


def test_a_reference_is_a_select_of_records(admin, make_member, as_tenant, session):
    client, tenant, user = admin
    other = make_member(tenant, roles=["sales"], email="zoe-owner@example.com")
    html = page(client.get("/testkit/projects/new"))
    select_html = re.search(r'<select[^>]*id="owner_id".*?</select>', html, re.S).group(0)
    assert '<label class="form-label" for="owner_id">Owner' in html
    assert '<option value="" selected>—</option>' in select_html  # not required: may be empty
    assert f'value="{other.id}"' in select_html and ">zoe-owner@example.com<" in select_html
    assert f'value="{user.id}"' in select_html
    resp = client.post(
        "/testkit/projects/new", data={"name": "Owned", "budget": "1", "owner_id": str(other.id)}
    )
    assert resp.status_code == 303
    with as_tenant(tenant):
        assert session.scalars(select(Project)).one().owner_id == other.id
    # On an error, the chosen record stays chosen.
    resp = client.post(
        "/testkit/projects/new", data={"name": "", "budget": "1", "owner_id": str(other.id)}
    )
    assert resp.status_code == 422
    assert re.search(rf'<option value="{other.id}" selected>', page(resp))


def test_a_reference_no_longer_among_the_choices_is_kept_on_edit(
    admin, make_member, as_tenant, session
):
    client, tenant, _user = admin
    leaver = make_member(tenant, roles=["sales"], email="leaver@example.com")
    (project,) = add_projects(as_tenant, session, tenant, ("Legacy", "1"))
    with as_tenant(tenant):
        project.owner_id = leaver.id
        session.flush()
        version = str(project.version)
    membership = session.scalar(select(Membership.id).where(Membership.user_id == leaver.id))
    client.post(f"/settings/users/{membership}/deactivate")
    html = page(client.get(f"/testkit/projects/{project.id}/edit"))
    select_html = re.search(r'<select[^>]*id="owner_id".*?</select>', html, re.S).group(0)
    assert ">leaver@example.com<" not in select_html  # only active members are offered
    assert f'<option value="{leaver.id}" selected>(no longer available)</option>' in select_html
    # The browser posts the selected option: the owner round-trips, on an error too.
    resp = client.post(
        f"/testkit/projects/{project.id}/edit",
        data={"name": "", "budget": "2", "owner_id": str(leaver.id), "version": version},
    )
    assert resp.status_code == 422
    assert f'<option value="{leaver.id}" selected>(no longer available)</option>' in page(resp)
    resp = client.post(
        f"/testkit/projects/{project.id}/edit",
        data={"name": "Legacy 2", "budget": "2", "owner_id": str(leaver.id), "version": version},
    )
    assert resp.status_code == 303
    with as_tenant(tenant):
        session.expire_all()
        assert session.get(Project, project.id).owner_id == leaver.id


def test_the_service_refuses_an_owner_who_is_not_an_active_member(
    admin, make_member, make_tenant, as_tenant, session
):
    client, tenant, _user = admin
    stranger = make_member(make_tenant(), roles=["sales"])
    resp = client.post(
        "/testkit/projects/new",
        data={"name": "Theirs", "budget": "1", "owner_id": str(stranger.id)},
    )
    assert resp.status_code == 422
    assert "no such user in this tenant" in page(resp)
    (project,) = add_projects(as_tenant, session, tenant, ("Mine", "1"))
    resp = client.post(
        f"/testkit/projects/{project.id}/edit",
        data={"name": "Mine", "budget": "1", "owner_id": str(stranger.id), "version": "1"},
    )
    assert resp.status_code == 422
    assert "no such user in this tenant" in page(resp)
    with as_tenant(tenant):
        session.expire_all()
        assert [p.name for p in session.scalars(select(Project))] == ["Mine"]
        assert session.get(Project, project.id).owner_id is None


def test_a_list_of_choices_is_a_checkbox_group_that_round_trips(app):
    from flask import render_template_string
    from marshmallow import Schema, fields, validate
    from werkzeug.datastructures import MultiDict

    from core.web.forms import fill_from_request, form_fields, raw_input

    class Tagged(Schema):
        name = fields.String(required=True)
        kinds = fields.List(
            fields.String(validate=validate.OneOf(["customer", "vendor", "partner"])),
            required=True,
            validate=validate.Length(min=1),
        )

    schema = Tagged()
    form = form_fields(schema)
    posted = MultiDict([("name", ""), ("kinds", "vendor"), ("kinds", "partner")])
    fill_from_request(form, posted)
    assert raw_input(schema, form, posted) == {"kinds": ["vendor", "partner"]}
    assert schema.load({"name": "A", **raw_input(schema, form, posted)})["kinds"] == [
        "vendor",
        "partner",
    ]
    with app.test_request_context():
        html = render_template_string(
            '{% from "web/_macros.html" import field %}{{ field(f) }}', f=form[1]
        )
    assert "<legend" in html and ">Kinds" in html
    assert re.search(r'name="kinds" value="vendor" checked', html)
    assert re.search(r'name="kinds" value="partner" checked', html)
    assert re.search(r'name="kinds" value="customer" >', html)  # not ticked
    assert '<label class="form-check-label" for="kinds-1">customer</label>' in html
    nothing = MultiDict([("name", "A")])
    assert raw_input(schema, form, nothing) == {"name": "A", "kinds": []}  # unticking clears


def test_a_choices_provider_in_the_fields_metadata_makes_a_select():
    from marshmallow import Schema, fields

    from core.web.forms import form_fields

    class Assign(Schema):
        user_id = fields.UUID(required=True, metadata={"choices": lambda: [("u1", "Ann")]})
        backup_id = fields.UUID(allow_none=True, metadata={"choices": list})  # none to offer

    required, optional = form_fields(Assign())
    assert (required.label, required.widget) == ("User", "select")
    assert required.choices == [("u1", "Ann")]  # required: no empty option
    assert (optional.widget, optional.choices) == ("select", [("", "—")])


def test_model_views_refuse_form_fields_they_cannot_draw():
    from marshmallow import Schema, fields

    from core.web.views import ModelViews

    class Line(Schema):
        qty = fields.Integer()

    class WithLines(Schema):
        name = fields.String()
        lines = fields.List(fields.Nested(Line))

    args = dict(
        name="bad",
        model=Project,
        schema=WithLines,
        title="Bad",
        columns=[],
        permissions={"read": "a.b:c", "create": "a.b:c", "update": "a.b:c"},
    )
    with pytest.raises(ValueError, match=r"form field 'lines': nested records"):
        ModelViews(**args)
    ModelViews(**args, exclude=["lines"])  # left out, the rest of the form is drawn
    ModelViews(**args, pages=("list", "export"))  # no form, nothing to draw


def test_a_form_without_a_detail_page_goes_back_to_the_list(admin, as_tenant, session):
    client, tenant, _ = admin
    html = page(client.get("/testkit/quick-projects/new"))
    assert 'id="name"' in html and 'id="budget"' in html
    assert 'id="owner_id"' not in html  # excluded: the service's default applies
    resp = client.post("/testkit/quick-projects/new", data={"name": "Quick", "budget": "2"})
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/testkit/quick-projects")
    html = page(client.get(resp.headers["Location"]))
    assert "Project created" in html and "Quick" in html
    with as_tenant(tenant):
        project = session.scalars(select(Project)).one()
    resp = client.post(
        f"/testkit/quick-projects/{project.id}/edit",
        data={"name": "Quicker", "budget": "2", "version": "1"},
    )
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/testkit/quick-projects")


def test_editing_through_a_form_without_a_field_keeps_its_stored_value(admin, as_tenant, session):
    client, tenant, user = admin
    resp = client.post("/testkit/quick-projects/new", data={"name": "Owned", "budget": "2"})
    with as_tenant(tenant):
        project = session.scalars(select(Project)).one()
        assert project.owner_id == user.id  # the service's default: the creator
    resp = client.post(
        f"/testkit/quick-projects/{project.id}/edit",
        data={"name": "Owned still", "budget": "3", "version": "1"},
    )
    assert resp.status_code == 303
    with as_tenant(tenant):
        session.expire_all()
        saved = session.get(Project, project.id)
        # owner_id is excluded from this form: the edit must not reset it to its default.
        assert (saved.name, saved.owner_id) == ("Owned still", user.id)


def test_a_refused_delete_or_comment_without_a_detail_page_goes_back_to_the_list(
    admin, as_tenant, session
):
    client, tenant, _ = admin
    (project,) = add_projects(as_tenant, session, tenant, ("Busy", "1"))
    with as_tenant(tenant):
        session.add(Task(project_id=project.id, title="still to do"))
        session.flush()
    resp = client.post(f"/testkit/quick-projects/{project.id}/delete")
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/testkit/quick-projects")
    assert "a project with tasks cannot be deleted" in page(client.get(resp.headers["Location"]))
    resp = client.post(f"/testkit/quick-projects/{project.id}/comments", data={"body": ""})
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/testkit/quick-projects")
    resp = client.post(f"/testkit/quick-projects/{project.id}/comments", data={"body": "Hi"})
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/testkit/quick-projects")
    with as_tenant(tenant):
        assert session.get(Project, project.id) is not None


def test_edit_with_a_stale_version_is_refused_with_a_message(admin, as_tenant, session):
    client, tenant, _ = admin
    (project,) = add_projects(as_tenant, session, tenant, ("Hubble", "1"))
    html = page(client.get(f"/testkit/projects/{project.id}/edit"))
    assert 'name="version" value="1"' in html and 'value="Hubble"' in html
    with as_tenant(tenant):  # someone else saves first
        project.budget = Decimal("99")
        session.flush()
    resp = client.post(
        f"/testkit/projects/{project.id}/edit",
        data={"name": "Hubble 2", "budget": "5", "version": "1"},
    )
    assert resp.status_code == 409
    html = page(resp)
    assert "someone else changed this record" in html
    assert 'value="Hubble 2"' in html  # their typing is not lost
    with as_tenant(tenant):
        session.expire_all()
        assert session.get(Project, project.id).name == "Hubble"


def test_edit_saves_with_the_current_version(admin, as_tenant, session):
    client, tenant, _ = admin
    (project,) = add_projects(as_tenant, session, tenant, ("Kepler", "1"))
    resp = client.post(
        f"/testkit/projects/{project.id}/edit",
        data={"name": "Kepler II", "budget": "7", "version": "1"},
    )
    assert resp.status_code == 303
    with as_tenant(tenant):
        session.expire_all()
        saved = session.get(Project, project.id)
        assert (saved.name, saved.version) == ("Kepler II", 2)


def test_another_tenants_record_is_not_found(admin, make_tenant, as_tenant, session):
    client, _tenant, _ = admin
    (theirs,) = add_projects(as_tenant, session, make_tenant(), ("Theirs", "1"))
    assert client.get(f"/testkit/projects/{theirs.id}").status_code == 404
    assert client.get(f"/testkit/projects/{theirs.id}/edit").status_code == 404


def test_delete_archives_a_soft_deletable_record(admin, as_tenant, session):
    client, tenant, _ = admin
    (project,) = add_projects(as_tenant, session, tenant, ("Skylab", "1"))
    assert ">Delete</button>" in page(client.get(f"/testkit/projects/{project.id}"))
    resp = client.post(f"/testkit/projects/{project.id}/delete")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/testkit/projects")
    html = page(client.get("/testkit/projects"))
    assert "Project Skylab deleted" in html and "Skylab</a>" not in html
    assert client.get(f"/testkit/projects/{project.id}").status_code == 404
    with as_tenant(tenant):
        session.expire_all()
        kept = session.scalars(select(Project).execution_options(include_deleted=True)).one()
        assert kept.deleted_at is not None  # archived, not gone
    assert "soft_delete" in page(client.get("/settings/audit?model=test_project"))


def test_delete_needs_its_permission(make_tenant, make_member, login, as_tenant, session):
    tenant = make_tenant()
    (project,) = add_projects(as_tenant, session, tenant, ("Mir", "1"))
    client = login(make_member(tenant, roles=["sales"]), tenant)  # may read, not delete
    assert client.post(f"/testkit/projects/{project.id}/delete").status_code == 403


# --- detail view and activity --------------------------------------------------------------


def test_detail_shows_fields_panels_and_activity(admin, as_tenant, session):
    client, _tenant, user = admin
    resp = client.post("/testkit/projects/new", data={"name": "Cassini", "budget": "3"})
    location = resp.headers["Location"]
    project_id = location.rsplit("/", 1)[1]
    client.post(f"{location}/edit", data={"name": "Cassini-Huygens", "budget": "3", "version": "1"})
    with as_tenant(_tenant):
        session.add(Task(title="Launch", project_id=uuid.UUID(project_id)))
        session.flush()
    html = page(client.get(location))
    assert "Cassini-Huygens" in html
    assert "Tasks" in html and "<li>Launch</li>" in html  # testkit's detail panel
    assert "created the record" in html
    assert "name: Cassini → Cassini-Huygens" in html
    assert user.email in html


def test_comments_join_the_activity_feed(admin, as_tenant, session):
    client, tenant, _user = admin
    (project,) = add_projects(as_tenant, session, tenant, ("Juno", "1"))
    url = f"/testkit/projects/{project.id}"
    resp = client.post(f"{url}/comments", data={"body": "Looks <b>good</b>"})
    assert resp.status_code == 303
    html = page(client.get(url))
    assert "Looks &lt;b&gt;good&lt;/b&gt;" in html and "commented" in html
    resp = client.post(f"{url}/comments", data={"body": "via htmx"}, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    fragment = page(resp)
    assert fragment.lstrip().startswith("<section") and "via htmx" in fragment
    assert "<html" not in fragment
    resp = client.post(f"{url}/comments", data={"body": "   "})
    assert resp.status_code == 422 and "write something first" in page(resp)


# --- dashboard -----------------------------------------------------------------------------


def test_chart_widget_carries_the_addons_data(admin, as_tenant, session):
    client, tenant, _ = admin
    add_projects(as_tenant, session, tenant, ("Alpha", "5"), ("</script><b>", "7"))
    html = page(client.get("/"))
    config = re.search(r'<script type="application/json" id="chart-\d+">(.*?)</script>', html, re.S)
    assert config is not None
    import json

    data = json.loads(config.group(1))
    assert data["type"] == "bar"
    assert data["data"]["labels"] == ["</script><b>", "Alpha"]
    assert data["data"]["datasets"][0]["data"] == [7.0, 5.0]


def test_chart_widget_rejects_an_unknown_kind():
    from core.web.widgets import ChartWidget

    with pytest.raises(ValueError, match="chart kind"):
        ChartWidget("x", kind="radar3d")


# --- settings: addons ----------------------------------------------------------------------


def enabled(tenant) -> set[str]:
    """The tenant's enabled addons, read afresh (the registry caches per app context)."""
    from core.db import session
    from core.models import TenantAddon

    return set(session.scalars(select(TenantAddon.addon).where(TenantAddon.tenant_id == tenant.id)))


def test_addons_page_shows_cards_and_enabling_shows_the_plan(fx, fx_tenant):
    from tests.fixture_addons.fixtures import TENANT_HEADER

    tenant = fx_tenant("webfx", "stock")
    client = fx.test_client()
    headers = {TENANT_HEADER: str(tenant.id)}
    html = page(client.get("/settings/addons", headers=headers))
    assert "Fixture: a shop that reacts to stock moves" in html
    assert "Needs:</strong> stock" in html
    html = page(client.get("/settings/addons/reports/enable", headers=headers))
    assert "also enables what it needs" in html and "<li>shop" in html
    resp = client.post("/settings/addons/reports/enable", headers=headers)
    assert resp.status_code == 303
    assert enabled(tenant) == {"stock", "shop", "reports"}
    html = page(client.get("/settings/addons/stock/disable", headers=headers))
    assert "These enabled addons depend on" in html and "<li>shop</li>" in html
    # Refused without the cascade box ticked; nothing changes.
    resp = client.post("/settings/addons/stock/disable", headers=headers)
    assert resp.status_code == 303 and "/disable" in resp.headers["Location"]
    assert "stock" in enabled(tenant)
    resp = client.post("/settings/addons/stock/disable", data={"cascade": "1"}, headers=headers)
    assert resp.status_code == 303
    assert enabled(tenant) == set()


def test_enabling_an_addon_shows_its_menu(make_tenant, make_member, login):
    tenant = make_tenant()
    client = login(make_member(tenant, roles=["admin"]), tenant)
    client.post("/settings/addons/testkit/disable")
    assert "/testkit/projects" not in page(client.get("/"))
    assert client.get("/testkit/projects").status_code == 404
    html = page(client.get("/settings/addons/testkit/enable"))
    assert "Nothing else needs to be enabled" in html
    client.post("/settings/addons/testkit/enable")
    assert "/testkit/projects" in page(client.get("/"))


# --- settings: users -----------------------------------------------------------------------


def test_admin_adds_a_user_who_can_log_in(admin, client):
    client, tenant, _ = admin
    resp = client.post(
        "/settings/users",
        data={
            "email": "New.Person@Example.com",
            "name": "New",
            "password": PASSWORD,
            "roles": ["sales"],
        },
    )
    assert resp.status_code == 303
    html = page(client.get("/settings/users"))
    assert "new.person@example.com" in html and "Added new.person@example.com" in html
    client.post("/logout")
    resp = client.post(
        "/login",
        data={"email": "new.person@example.com", "password": PASSWORD, "tenant": tenant.slug},
    )
    assert resp.status_code == 302


def test_adding_a_user_without_roles_or_with_a_bad_email_is_shown(admin):
    client, _tenant, _ = admin
    resp = client.post("/settings/users", data={"email": "x@example.com", "password": PASSWORD})
    assert resp.status_code == 422 and "at least one role" in page(resp)
    resp = client.post("/settings/users", data={"email": "nope", "roles": ["sales"]})
    assert resp.status_code == 422 and "invalid email" in page(resp)
    assert 'value="nope"' in page(resp)


def _new_mails(app, before):
    """The mails written to the embedded outbox (instance/mail) since `before`."""
    import email
    from email import policy
    from pathlib import Path

    folder = Path(app.instance_path) / "mail"
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(set(folder.glob("*.eml")) - before)
    ]


def _outbox(app):
    from pathlib import Path

    folder = Path(app.instance_path) / "mail"
    return set(folder.glob("*.eml")) if folder.exists() else set()


def _invitation_path(message) -> str:
    text = message.get_content()
    link = next(line for line in text.splitlines() if "/invitation/" in line)
    return link[link.index("/invitation/") :]


def test_inviting_mails_who_invited_them_to_which_company(admin, app):
    client, _tenant, me = admin
    before = _outbox(app)
    resp = client.post(
        "/settings/users",
        data={"email": "invitee@example.com", "name": "Ines", "roles": ["employee"]},
    )
    assert resp.status_code == 303
    html = page(client.get("/settings/users"))
    assert "Invitation sent to invitee@example.com" in html
    row = re.search(r'<tr data-user="invitee@example.com">.*?</tr>', html, re.S).group(0)
    assert ">Invited<" in row and "Resend invitation" in row  # pending until a password is set
    (mail,) = _new_mails(app, before)
    assert mail["To"] == "invitee@example.com"
    assert mail["Subject"] == f"{me.name} invited you to Acme Corporation on Pergola"
    text = mail.get_content()
    assert "Hello Ines" in text and f"{me.name} invited you to join Acme Corporation" in text
    assert "within 7 days" in text
    assert "password reset" not in text.lower() and "did not ask" not in text
    # The link names the company and the inviter, and sets the password once.
    path = _invitation_path(mail)
    landing = page(client.get(path))
    assert "Join Acme Corporation" in landing and f"{me.name} invited you" in landing
    client.post("/logout")
    assert client.post(path, data={"password": "short"}).status_code == 422
    resp = client.post(path, data={"password": "invited and in"})
    assert resp.status_code == 302
    login = client.post(
        "/login", data={"email": "invitee@example.com", "password": "invited and in"}
    )
    assert login.status_code == 302
    again = client.get(path)
    assert again.status_code == 410 and "already accepted" in page(again)


def test_a_deactivated_invitee_can_neither_use_an_old_link_nor_be_sent_a_new_one(
    admin, app, session
):
    client, tenant, me = admin
    before = _outbox(app)
    client.post("/settings/users", data={"email": "gone@example.com", "roles": ["employee"]})
    (mail,) = _new_mails(app, before)
    membership_id = session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(User.email == "gone@example.com", Membership.tenant_id == tenant.id)
    )
    client.post(f"/settings/users/{membership_id}/deactivate")
    path = _invitation_path(mail)
    landing = client.get(path)
    assert landing.status_code == 410
    assert f"this invitation to Acme Corporation was withdrawn; ask {me.name}" in page(landing)
    assert client.post(path, data={"password": "sneaking back in"}).status_code == 410
    session.expire_all()
    assert (
        session.scalar(select(User).where(User.email == "gone@example.com")).password_hash is None
    )
    # A resend (the button is hidden, but a hand-made POST) is refused and mails nothing.
    before = _outbox(app)
    client.post(f"/settings/users/{membership_id}/invitation")
    assert "gone@example.com is deactivated in Acme Corporation" in page(
        client.get("/settings/users")
    )
    assert _new_mails(app, before) == []


def test_two_acceptances_of_one_invitation_set_the_password_once(admin, app, session):
    from sqlalchemy import update

    from core import login
    from core.errors import ValidationError

    client, _tenant, _me = admin
    before = _outbox(app)
    client.post("/settings/users", data={"email": "twice@example.com", "roles": ["employee"]})
    (mail,) = _new_mails(app, before)
    token = _invitation_path(mail).removeprefix("/invitation/")
    user = session.scalar(select(User).where(User.email == "twice@example.com"))
    assert user.password_hash is None  # what the second request read, before the first wrote
    # The first request's write lands between the second's check and its write.
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(password_hash="set by the first request")
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(ValidationError, match="already accepted"):
        login.accept_invitation(token, "the second password")
    session.expire_all()
    assert session.get(User, user.id).password_hash == "set by the first request"


def test_an_accepted_invitation_shows_the_user_active(admin, app, session):
    client, _tenant, _me = admin
    before = _outbox(app)
    client.post("/settings/users", data={"email": "acceptor@example.com", "roles": ["employee"]})
    (mail,) = _new_mails(app, before)
    client.post(_invitation_path(mail), data={"password": "accepted at last"})
    html = page(client.get("/settings/users"))
    row = re.search(r'<tr data-user="acceptor@example.com">.*?</tr>', html, re.S).group(0)
    assert ">Active<" in row and "Resend invitation" not in row


def test_an_invitation_expires_after_the_configured_days(admin, app, session, monkeypatch):
    import datetime as dt

    from core import login
    from core.models import User

    client, tenant, me = admin
    client.post("/settings/users", data={"email": "late@example.com", "roles": ["employee"]})
    user = session.scalar(select(User).where(User.email == "late@example.com"))
    eight_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    old = login.invitation_token(user, tenant, me, issued_at=eight_days_ago)
    resp = client.get(f"/invitation/{old}")
    assert resp.status_code == 410
    assert f"has expired; ask {me.name} to send a new one" in page(resp)
    assert client.post(f"/invitation/{old}", data={"password": "too late now"}).status_code == 410
    monkeypatch.setitem(app.config, "PERGOLA_INVITATION_DAYS", 10)
    assert client.get(f"/invitation/{old}").status_code == 200  # ten days: still good
    forged = old[:-2] + ("AA" if not old.endswith("AA") else "BB")
    assert "invalid" in page(client.get(f"/invitation/{forged}"))


def test_resending_an_invitation_mails_a_new_link(admin, app, session, make_member):
    client, tenant, _me = admin
    client.post("/settings/users", data={"email": "again@example.com", "roles": ["employee"]})
    membership_id = session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(User.email == "again@example.com", Membership.tenant_id == tenant.id)
    )
    before = _outbox(app)
    resp = client.post(f"/settings/users/{membership_id}/invitation")
    assert resp.status_code == 303
    assert "Invitation sent again to again@example.com" in page(client.get("/settings/users"))
    (mail,) = _new_mails(app, before)
    assert mail["To"] == "again@example.com" and "/invitation/" in mail.get_content()
    assert client.get(_invitation_path(mail)).status_code == 200
    # Someone who has a password gets no invitation.
    member = make_member(tenant, roles=["employee"])
    theirs = session.scalar(select(Membership.id).where(Membership.user_id == member.id))
    before = _outbox(app)
    client.post(f"/settings/users/{theirs}/invitation")
    assert "already set a password" in page(client.get("/settings/users"))
    assert _new_mails(app, before) == []


def test_roles_change_and_deactivation_take_effect(admin, make_member, session, as_tenant):
    client, tenant, me = admin
    other = make_member(tenant, roles=["employee"], email="colleague@example.com")
    membership = session.scalar(select(Membership).where(Membership.user_id == other.id))
    resp = client.post(
        f"/settings/users/{membership.id}/roles", data={"roles": ["sales", "manager"]}
    )
    assert resp.status_code == 303
    with as_tenant(tenant):
        session.expire_all()
        assert sorted(r.name for r in membership.roles) == ["manager", "sales"]
    client.post(f"/settings/users/{membership.id}/deactivate")
    session.expire_all()
    assert membership.active is False
    assert "Deactivated" in page(client.get("/settings/users"))
    from core.login import principal_for

    assert principal_for(other.id, tenant.id) is None
    mine = session.scalar(select(Membership).where(Membership.user_id == me.id))
    html = page(client.post(f"/settings/users/{mine.id}/deactivate", follow_redirects=True))
    assert "cannot deactivate yourself" in html
    html = page(
        client.post(
            f"/settings/users/{mine.id}/roles", data={"roles": ["employee"]}, follow_redirects=True
        )
    )
    assert "cannot remove your own right" in html


# --- settings: roles -----------------------------------------------------------------------


def test_permission_matrix_groups_by_addon_and_saves(admin, session, as_tenant):
    client, tenant, _ = admin
    html = page(client.get("/settings/roles"))
    assert "Kernel" in html and "(testkit)" in html
    assert 'value="sales|testkit.things:read"' in html
    # Tick everything the form shows as ticked now, plus one new grant for sales.
    with as_tenant(tenant):
        roles = {r.name: r for r in session.scalars(select(Role))}
    ticked = re.findall(r'value="([a-z_]+\|[a-z_.:]+)"\s+aria-label="[^"]*"\s+checked', html)
    resp = client.post("/settings/roles", data={"grant": [*ticked, "sales|testkit.things:create"]})
    assert resp.status_code == 303
    with as_tenant(tenant):
        session.expire_all()
        assert "testkit.things:create" in roles["sales"].permissions
        assert "testkit.*" in roles["manager"].permissions  # the wildcard survives intact
        assert roles["admin"].permissions == ["*"]


def test_new_patterns_keep_wildcards_and_hidden_permissions():
    from core.web.admin import new_patterns

    visible = ["a.x:read", "a.x:write", "b.y:read"]
    assert new_patterns(["a.*", "c.z:read"], visible, {"a.x:read", "a.x:write"}) == [
        "a.*",
        "c.z:read",
    ]
    assert new_patterns(["a.*"], visible, {"a.x:read"}) == ["a.x:read"]


def test_new_role_appears_in_the_matrix(admin):
    client, _tenant, _ = admin
    client.post("/settings/roles/new", data={"name": "auditor", "description": "Reads logs"})
    assert 'value="auditor|core.audit:read"' in page(client.get("/settings/roles"))
    html = page(client.post("/settings/roles/new", data={"name": "auditor"}, follow_redirects=True))
    assert "already exists" in html


# --- settings: API keys --------------------------------------------------------------------


def test_api_key_secret_is_shown_once_and_revocation_works(admin):
    client, _tenant, _ = admin
    resp = client.post(
        "/settings/api-keys",
        data={"name": "ERP sync", "scopes": "testkit.things:read", "expires": "30d"},
    )
    assert resp.status_code == 201
    secret = re.search(r'id="secret" readonly value="([^"]+)"', page(resp)).group(1)
    assert (
        client.get(
            "/api/v1/testkit/things", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 200
    )
    html = page(client.get("/settings/api-keys"))
    assert "ERP sync" in html and secret not in html
    prefix = re.search(r'data-key="([0-9a-f]+)"', html).group(1)
    client.post(f"/settings/api-keys/{prefix}/revoke")
    assert "Revoked" in page(client.get("/settings/api-keys"))
    assert (
        client.get(
            "/api/v1/testkit/things", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 401
    )


def test_api_key_errors_are_shown(admin):
    client, _tenant, _ = admin
    resp = client.post("/settings/api-keys", data={"name": "bad", "scopes": "nope.x:y"})
    assert resp.status_code == 422 and "unknown permission or pattern" in page(resp)


# --- settings: audit log -------------------------------------------------------------------


def test_audit_log_is_filterable(admin):
    client, _tenant, user = admin
    client.post("/testkit/projects/new", data={"name": "Audited", "budget": "1"})
    html = page(client.get("/settings/audit?model=test_project&action=create"))
    assert "Audited" in html and user.email in html
    html = page(client.get("/settings/audit?action=delete"))
    assert "No entries match" in html
    resp = client.get("/settings/audit?since=yesterday")
    assert resp.status_code == 422 and "use a date like" in page(resp)


def test_audit_log_needs_its_permission(make_tenant, make_member, login):
    tenant = make_tenant()
    client = login(make_member(tenant, roles=["sales"]), tenant)
    assert client.get("/settings/audit").status_code == 403


# --- notifications bell --------------------------------------------------------------------


def test_bell_counts_unread_notifications_and_the_inbox_marks_them_read(admin, as_tenant):
    client, tenant, user = admin
    from core import notifications

    html = page(client.get("/"))
    assert 'aria-label="Notifications: 0 unread"' in html
    with as_tenant(tenant):
        notifications.notify(
            [user.id], "Stock is low", "Widgets: 2 left", link="/testkit/things", email=False
        )
        notifications.notify([user.id], "Order confirmed", email=False)
    html = page(client.get("/"))
    assert 'aria-label="Notifications: 2 unread"' in html
    html = page(client.get("/notifications"))
    assert "Stock is low" in html and "Widgets: 2 left" in html and 'href="/testkit/things"' in html
    resp = client.post("/notifications/read", follow_redirects=True)
    assert "Marked 2 notifications read" in page(resp)
    assert 'aria-label="Notifications: 0 unread"' in page(client.get("/"))


def test_bell_is_hidden_without_the_notifications_permission(
    make_tenant, make_member, login, session, as_tenant
):
    tenant = make_tenant()
    with as_tenant(tenant):
        role = session.scalar(select(Role).where(Role.name == "employee"))
        role.permissions = []
        session.flush()
    client = login(make_member(tenant, roles=["employee"]), tenant)
    assert 'data-testid="bell"' not in page(client.get("/"))
    assert client.get("/notifications").status_code == 403


def test_model_views_refuse_a_read_only_field_the_form_does_not_have():
    from core.web.views import ModelViews
    from tests.testkit.api import ProjectSchema

    with pytest.raises(ValueError, match=r"readonly_on_edit names \['nope'\]"):
        ModelViews(
            name="bad",
            model=Project,
            schema=ProjectSchema,
            title="Bad",
            columns=[],
            readonly_on_edit=("nope",),
            permissions={"read": "a.b:c", "create": "a.b:c", "update": "a.b:c"},
        )
