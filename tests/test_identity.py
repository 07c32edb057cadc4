"""Identity and access: logins, tokens, API keys, the route guard, record rules."""

from __future__ import annotations

import datetime as dt
import uuid

import jwt
import pytest
from sqlalchemy import select

from core.identity import LoginSession
from core.tenancy import tenant_context
from tests.fixtures import count_rows
from tests.kernel_models import Project

PASSWORD = "correct horse battery"


def _web_login(client, user, tenant=None, password=PASSWORD):
    data = {"email": user.email, "password": password}
    if tenant is not None:
        data["tenant"] = tenant.slug
    return client.post("/login", data=data)


def _cookie(client):
    c = client.get_cookie("pergola_session")
    return c.value if c else None


# --- web login ---------------------------------------------------------------------------


def test_web_login_opens_a_session_and_logout_kills_it(client, tenant, make_member):
    user = make_member(tenant, roles=["manager"])
    assert client.get("/testkit/things").status_code == 302  # anonymous → login page
    before = _cookie(client)
    resp = _web_login(client, user)
    assert resp.status_code == 302
    after = _cookie(client)
    assert after and after != before  # a fresh session cookie on login
    assert client.get("/testkit/things").status_code == 200
    assert count_rows("core_login_session") == 1
    client.post("/logout")
    assert client.get("/testkit/things").status_code == 302
    # Replaying the old cookie does not bring the login back: its row is gone.
    client.set_cookie("pergola_session", after)
    assert client.get("/testkit/things").status_code == 302
    assert count_rows("core_login_session") == 0


def test_wrong_password_is_refused_with_the_form_again(client, tenant, make_member):
    user = make_member(tenant)
    resp = _web_login(client, user, password="wrong password")
    assert resp.status_code == 401
    assert b"invalid email or password" in resp.data
    assert count_rows("core_login_session") == 0


def test_switch_tenant_moves_the_login(client, session, make_tenant, make_member, make_user):
    a, b = make_tenant(), make_tenant()
    user = make_member(a, roles=["manager"])
    from core import services
    from core.tenancy import system_context

    with system_context():
        services.create_user(user.email, tenant_slug=b.slug, roles=["sales"])
    _web_login(client, user, a)
    resp = client.post("/switch-tenant", data={"tenant": b.slug, "next": "/"})
    assert resp.status_code == 303
    with system_context():
        row = session.scalars(select(LoginSession)).one()
    assert row.tenant_id == b.id
    other = make_tenant()
    resp = client.post("/switch-tenant", data={"tenant": other.slug})
    with system_context():
        session.expire_all()
        assert session.scalars(select(LoginSession)).one().tenant_id == b.id


def test_password_change_and_reset_by_mail(app, client, tenant, make_member):
    user = make_member(tenant)
    _web_login(client, user)
    resp = client.post(
        "/password", data={"current_password": "nope nope", "new_password": "brand new secret"}
    )
    assert resp.status_code == 422 and b"current password is wrong" in resp.data
    resp = client.post(
        "/password", data={"current_password": PASSWORD, "new_password": "brand new secret"}
    )
    assert resp.status_code == 302
    client.post("/logout")
    assert _web_login(client, user, password="brand new secret").status_code == 302
    client.post("/logout")

    mail_dir = __import__("pathlib").Path(app.instance_path) / "mail"
    before = set(mail_dir.glob("*.eml")) if mail_dir.exists() else set()
    client.post("/password/forgot", data={"email": user.email})
    new = set(mail_dir.glob("*.eml")) - before
    assert len(new) == 1
    import email
    from email import policy

    text = email.message_from_bytes(new.pop().read_bytes(), policy=policy.default).get_content()
    link = next(line for line in text.splitlines() if "/password/reset/" in line)
    path = link[link.index("/password/reset/") :]
    assert client.post(path, data={"password": "from the mail!"}).status_code == 302
    assert _web_login(client, user, password="from the mail!").status_code == 302
    client.post("/logout")
    # The link works once.
    assert client.post(path, data={"password": "again and again"}).status_code == 422


def test_brute_force_on_login_gets_429(client, tenant, make_member):
    user = make_member(tenant)
    codes = [_web_login(client, user, password=f"guess-{i}").status_code for i in range(12)]
    assert codes[0] == 401
    assert codes[-1] == 429
    resp = _web_login(client, user, password="guess-x")
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    api = client.post("/api/v1/auth/login", json={"email": user.email, "password": "x"})
    assert api.status_code == 429
    assert api.get_json()["error"]["code"] == "RATE_LIMIT_ERROR"


# --- API tokens --------------------------------------------------------------------------


def _api_login(client, user, tenant):
    resp = client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": PASSWORD, "tenant": tenant.slug},
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


def test_api_login_me_refresh_rotation_and_logout(client, tenant, make_member):
    user = make_member(tenant, roles=["sales"])
    tokens = _api_login(client, user, tenant)
    me = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.get_json()["data"]["email"] == user.email
    assert me.get_json()["data"]["roles"] == ["sales"]

    first = tokens["refresh_token"]
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first}).get_json()
    assert second["success"] and second["data"]["refresh_token"] != first
    # Reusing a spent refresh token is theft: it fails and revokes the whole family.
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert reuse.status_code == 401
    after_theft = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["data"]["refresh_token"]}
    )
    assert after_theft.status_code == 401

    fresh = _api_login(client, user, tenant)
    assert (
        client.post(
            "/api/v1/auth/logout", json={"refresh_token": fresh["refresh_token"]}
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}
        ).status_code
        == 401
    )


def test_bad_credentials_and_expired_jwt_get_401(app, client, tenant, make_member):
    user = make_member(tenant)
    bad = client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope"})
    assert bad.status_code == 401
    assert bad.get_json()["error"]["code"] == "AUTHENTICATION_ERROR"
    missing = client.post("/api/v1/auth/login", json={"email": user.email})
    assert missing.status_code == 422
    assert missing.get_json()["error"]["details"] == {"password": ["required"]}
    now = dt.datetime.now(dt.UTC)
    expired = jwt.encode(
        {
            "sub": str(user.id),
            "tid": str(tenant.id),
            "typ": "access",
            "iat": now - dt.timedelta(hours=1),
            "exp": now - dt.timedelta(minutes=1),
        },
        app.config["SECRET_KEY"],
        algorithm="HS256",
    )
    resp = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert resp.status_code == 401
    assert resp.get_json()["error"]["message"] == "access token expired"
    forged = jwt.encode(
        {
            "sub": str(user.id),
            "tid": str(tenant.id),
            "typ": "access",
            "exp": now + dt.timedelta(minutes=5),
        },
        "an-attacker-key-that-is-long-enough!",
        algorithm="HS256",
    )
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )
    assert client.get("/api/v1/auth/me").status_code == 401


# --- permissions, API keys, tenants --------------------------------------------------------


def test_permissions_401_403_and_other_tenants_record_is_404(
    client, make_tenant, api_headers, as_tenant, session
):
    a, b = make_tenant(), make_tenant()
    with as_tenant(b):
        foreign = Project(name="b's")
        session.add(foreign)
        session.flush()
    assert client.get("/api/v1/testkit/things").status_code == 401
    read_only = api_headers(a, roles=["employee"])
    resp = client.get("/api/v1/testkit/things", headers=read_only)
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "AUTHORIZATION_ERROR"
    manager = api_headers(a, roles=["manager"])
    assert client.get("/api/v1/testkit/things", headers=manager).status_code == 200
    resp = client.get(f"/api/v1/testkit/things/{foreign.id}", headers=manager)
    assert resp.status_code == 404


def test_api_key_scope_enforced_and_revoked_key_refused(client, runner, tenant):
    out = runner.invoke(
        [
            "apikey",
            "create",
            "--tenant",
            tenant.slug,
            "--name",
            "erp sync",
            "--scopes",
            "testkit.things:read",
            "--expires",
            "90d",
        ]
    )
    assert out.exit_code == 0, out.output
    secret = out.output.split("key (shown once): ")[1].strip()
    prefix = secret.split("_")[1]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/testkit/things", headers=headers).status_code == 200
    assert client.post("/api/v1/testkit/things", headers=headers).status_code == 403
    listed = runner.invoke(["apikey", "list", "--tenant", tenant.slug])
    assert prefix in listed.output and secret not in listed.output
    assert "used: never" not in listed.output  # last_used_at was stamped
    assert runner.invoke(["apikey", "revoke", prefix, "--tenant", tenant.slug]).exit_code == 0
    resp = client.get("/api/v1/testkit/things", headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["error"]["message"] == "API key revoked"
    wrong = {"Authorization": f"Bearer pgk_{prefix}_not-the-secret"}
    assert client.get("/api/v1/testkit/things", headers=wrong).status_code == 401


def test_api_key_bad_input_writes_nothing(runner, tenant):
    before = count_rows("core_api_key")
    bad_scope = runner.invoke(
        [
            "apikey",
            "create",
            "--tenant",
            tenant.slug,
            "--name",
            "x",
            "--scopes",
            "nosuch.thing:read",
        ]
    )
    assert bad_scope.exit_code == 1 and "nosuch.thing:read" in bad_scope.output
    bad_expiry = runner.invoke(
        [
            "apikey",
            "create",
            "--tenant",
            tenant.slug,
            "--name",
            "x",
            "--scopes",
            "testkit.*",
            "--expires",
            "soon",
        ]
    )
    assert bad_expiry.exit_code == 1 and "invalid duration" in bad_expiry.output
    assert count_rows("core_api_key") == before


def test_api_key_beyond_creators_permissions_is_refused(session, tenant, make_member):
    from core import login
    from core.errors import PermissionDenied
    from core.login import principal_for

    user = make_member(tenant, roles=["sales"])
    with tenant_context(tenant.id):
        creator = principal_for(user.id, tenant.id)
        with pytest.raises(PermissionDenied):
            login.create_api_key(tenant, "too much", ["testkit.*"], created_by=creator)
        key, _ = login.create_api_key(tenant, "fine", ["testkit.things:read"], created_by=creator)
    assert key.scopes == ["testkit.things:read"]


def test_disabled_addon_permissions_vanish(client, session, tenant, api_headers):
    from core.registry import current_registry

    headers = api_headers(tenant, roles=["manager"])
    assert client.get("/api/v1/testkit/things", headers=headers).status_code == 200
    current_registry().disable(tenant.id, ["testkit"])
    assert client.get("/api/v1/testkit/things", headers=headers).status_code == 404


def test_record_rule_hides_other_users_rows(client, session, tenant, make_member, as_tenant):
    alice = make_member(tenant, roles=["sales"])
    bob = make_member(tenant, roles=["sales"])
    boss = make_member(tenant, roles=["sales", "manager"])
    with as_tenant(tenant):
        session.add_all(
            [
                Project(name="alice-1", owner_id=alice.id),
                Project(name="alice-2", owner_id=alice.id),
                Project(name="bob-1", owner_id=bob.id),
            ]
        )
        session.flush()
        bobs = session.scalars(select(Project).where(Project.name == "bob-1")).one()

    def get(user, path):
        tokens = _api_login(client, user, tenant)
        return client.get(path, headers={"Authorization": f"Bearer {tokens['access_token']}"})

    data = get(alice, "/api/v1/testkit/things").get_json()["data"]
    assert data == {"names": ["alice-1", "alice-2"], "count": 2}
    assert get(alice, f"/api/v1/testkit/things/{bobs.id}").status_code == 404
    # A manager role carries no rule: union semantics, the boss sees everything.
    assert get(boss, "/api/v1/testkit/things").get_json()["data"]["count"] == 3


# --- every route declares itself -----------------------------------------------------------


def test_every_route_declares_a_permission_or_is_public(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue  # Flask's own static files
        view = app.view_functions[rule.endpoint]
        if not (
            getattr(view, "pergola_public", False) or getattr(view, "pergola_permission", None)
        ):
            undeclared.append(f"{rule.rule} ({rule.endpoint})")
    assert undeclared == [], "routes without @public or @require_permission: " + ", ".join(
        undeclared
    )
    addon_routes = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("testkit.")]
    assert addon_routes, "the walk must include addon routes"


def test_standard_roles_are_seeded_and_extended_by_addons(session, tenant, as_tenant):
    from core.identity import Role

    with as_tenant(tenant):
        roles = {r.name: r.permissions for r in session.scalars(select(Role))}
    assert set(roles) >= {
        "admin",
        "manager",
        "sales",
        "purchasing",
        "storekeeper",
        "accountant",
        "hr_officer",
        "support_agent",
        "employee",
        "read_only",
    }
    assert roles["admin"] == ["*"]
    assert "testkit.things:read" in roles["sales"]
    assert "testkit.things:read" in roles["read_only"]
    assert "testkit.things:create" not in roles["read_only"]


@pytest.mark.parametrize("bad", ["Basic abc", "Bearer ", "Token x"])
def test_malformed_authorization_header_is_401(client, bad):
    resp = client.get("/api/v1/auth/me", headers={"Authorization": bad})
    assert resp.status_code == 401


def test_unknown_uuid_in_session_is_anonymous(client):
    with client.session_transaction() as s:
        s["_user_id"] = str(uuid.uuid4())
    assert client.get("/testkit/things").status_code == 302


def test_idle_web_session_expires(client, session, tenant, make_member):
    from core.mixins import utcnow
    from core.tenancy import system_context

    user = make_member(tenant, roles=["manager"])
    _web_login(client, user)
    assert client.get("/testkit/things").status_code == 200
    with system_context():
        row = session.scalars(select(LoginSession)).one()
        row.last_seen_at = utcnow() - dt.timedelta(hours=13)
        session.flush()
    assert client.get("/testkit/things").status_code == 302


def test_an_api_key_obeys_its_creators_record_rules(
    client, session, tenant, make_member, as_tenant
):
    from core import login

    alice = make_member(tenant, roles=["sales"])
    bob = make_member(tenant, roles=["sales"])
    with as_tenant(tenant):
        session.add_all(
            [Project(name="alice-1", owner_id=alice.id), Project(name="bob-1", owner_id=bob.id)]
        )
        session.flush()
        creator = login.principal_for(alice.id, tenant.id)
        _, secret = login.create_api_key(
            tenant, "alice's sync", ["testkit.things:read"], created_by=creator
        )
    data = client.get(
        "/api/v1/testkit/things", headers={"Authorization": f"Bearer {secret}"}
    ).get_json()["data"]
    assert data == {"names": ["alice-1"], "count": 1}


def test_a_password_reset_ends_every_other_login(app, client, tenant, make_member):
    from core import login
    from core.models import User
    from core.tenancy import system_context

    user = make_member(tenant)
    tokens = _api_login(client, user, tenant)
    with app.app_context(), system_context():
        from core.db import session as s

        token = login.password_reset_token(s.get(User, user.id))
    assert (
        client.post(f"/password/reset/{token}", data={"password": "a brand new one"}).status_code
        == 302
    )
    stale = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert stale.status_code == 401


@pytest.mark.parametrize(
    "given, kept", [("trace-42.a", True), ("x" * 65, False), ("bad id <script>", False)]
)
def test_a_callers_request_id_is_kept_only_when_plain(client, given, kept):
    body = client.get("/api/v1/auth/me", headers={"X-Request-ID": given}).get_json()
    assert (body["meta"]["request_id"] == given) is kept
