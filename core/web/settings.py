"""Settings pages for tenant admins: addons, users, roles, API keys, the audit log, webhooks
and failed events."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core import events as events_service
from core import login as login_service
from core import webhooks as webhooks_service
from core.auth import Principal, current_principal, require_permission
from core.db import session
from core.errors import DomainError
from core.models import Tenant
from core.routing import login_required
from core.web import admin
from core.web.shell import settings_links

bp = Blueprint("web_settings", __name__, url_prefix="/settings")


def _me() -> Principal:
    principal = current_principal()
    assert principal is not None  # the route's guard let us in
    return principal


def _tenant() -> Tenant:
    tenant = session.get(Tenant, _me().tenant_id)
    assert tenant is not None
    return tenant


def _crumbs(label: str) -> list[tuple[str, str | None]]:
    return [("Settings", url_for("web_settings.index")), (label, None)]


@bp.get("")
@login_required
def index() -> Any:
    """The first settings section the user may open."""
    links = settings_links(_me())
    if not links:
        abort(403)
    return redirect(links[0].url)


# --- addons ---------------------------------------------------------------------------------


@bp.get("/addons")
@require_permission("core.addons:manage")
def addons() -> Any:
    """Cards of the installed addons, enabled or not."""
    return render_template(
        "settings/addons.html",
        cards=admin.addon_cards(_me().tenant_id),
        breadcrumbs=_crumbs("Addons"),
    )


@bp.route("/addons/<name>/<any(enable, disable):action>", methods=["GET", "POST"])
@require_permission("core.addons:manage")
def addon_action(name: str, action: str) -> Any:
    """Show what enabling or disabling would do; do it on confirmation."""
    principal = _me()
    plan = admin.addon_plan(principal.tenant_id, name, action)
    if request.method == "POST":
        cascade = request.form.get("cascade") == "1"
        try:
            done = admin.apply_addon_plan(
                principal.tenant_id, name, action, cascade, principal.user_id
            )
            session.commit()
        except DomainError as err:
            session.rollback()
            flash(err.message, "danger")
            return redirect(url_for("web_settings.addon_action", name=name, action=action), 303)
        verb = "Enabled" if action == "enable" else "Disabled"
        flash(f"{verb}: {', '.join(done) or 'nothing to do'}", "success")
        return redirect(url_for("web_settings.addons"), 303)
    registry_addons = {c.name: c for c in admin.addon_cards(principal.tenant_id)}
    return render_template(
        "settings/addon_confirm.html",
        plan=plan,
        card=registry_addons[name],
        cards=registry_addons,
        breadcrumbs=[
            ("Settings", url_for("web_settings.index")),
            ("Addons", url_for("web_settings.addons")),
            (f"{action.capitalize()} {name}", None),
        ],
    )


# --- users ----------------------------------------------------------------------------------


def _users_page(errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    return render_template(
        "settings/users.html",
        members=admin.members(_me().tenant_id),
        roles=admin.roles(),
        errors=errors or {},
        form=request.form if request.method == "POST" else {},
        breadcrumbs=_crumbs("Users"),
    ), status


@bp.get("/users")
@require_permission("core.users:manage")
def users() -> Any:
    """The company's users, with a form to add or invite one."""
    return _users_page()


@bp.post("/users")
@require_permission("core.users:manage")
def add_user() -> Any:
    """Add a user with a password, or invite one by mail (no password)."""
    try:
        user, invited = admin.add_member(
            _tenant(),
            request.form.get("email", ""),
            request.form.get("name", ""),
            request.form.get("password", ""),
            request.form.getlist("roles"),
            request.host_url,
            inviter=_me().user_id,
        )
        session.commit()
    except DomainError as err:
        session.rollback()
        field = getattr(err, "field", None)
        details = err.details if isinstance(err.details, dict) else {field or "": [err.message]}
        return _users_page(details, err.status if err.status < 500 else 422)
    flash(f"Invitation sent to {user.email}" if invited else f"Added {user.email}", "success")
    return redirect(url_for("web_settings.users"), 303)


@bp.post("/users/<uuid:membership_id>/invitation")
@require_permission("core.users:manage")
def resend_invitation(membership_id: uuid.UUID) -> Any:
    """Mail a pending user a new invitation."""
    try:
        user = admin.resend_invitation(_tenant(), membership_id, _me().user_id, request.host_url)
        session.commit()
        flash(f"Invitation sent again to {user.email}", "success")
    except DomainError as err:
        session.rollback()
        flash(err.message, "danger")
    return redirect(url_for("web_settings.users"), 303)


@bp.post("/users/<uuid:membership_id>/roles")
@require_permission("core.users:manage")
def user_roles(membership_id: uuid.UUID) -> Any:
    """Replace a user's roles."""
    try:
        admin.set_roles(_me().tenant_id, membership_id, request.form.getlist("roles"), _me())
        session.commit()
        flash("Roles saved", "success")
    except DomainError as err:
        session.rollback()
        flash(err.message, "danger")
    return redirect(url_for("web_settings.users"), 303)


@bp.post("/users/<uuid:membership_id>/<any(deactivate, activate):action>")
@require_permission("core.users:manage")
def user_active(membership_id: uuid.UUID, action: str) -> Any:
    """Deactivate or reactivate a user in this company."""
    try:
        admin.set_active(_me().tenant_id, membership_id, action == "activate", _me())
        session.commit()
        flash("User reactivated" if action == "activate" else "User deactivated", "success")
    except DomainError as err:
        session.rollback()
        flash(err.message, "danger")
    return redirect(url_for("web_settings.users"), 303)


# --- roles ----------------------------------------------------------------------------------


@bp.get("/roles")
@require_permission("core.roles:manage")
def roles() -> Any:
    """The permission matrix: permissions grouped by addon, one column per role."""
    return render_template(
        "settings/roles.html",
        groups=admin.permission_groups(_me().tenant_id),
        roles=admin.roles(),
        grants=admin.role_grants,
        breadcrumbs=_crumbs("Roles"),
    )


@bp.post("/roles")
@require_permission("core.roles:manage")
def save_roles() -> Any:
    """Save the matrix (each tick is a `role|permission` value)."""
    ticks = {tuple(v.split("|", 1)) for v in request.form.getlist("grant") if "|" in v}
    changed = admin.save_matrix(_me().tenant_id, ticks)  # type: ignore[arg-type]
    session.commit()
    flash(f"Saved roles: {', '.join(changed)}" if changed else "No changes", "success")
    return redirect(url_for("web_settings.roles"), 303)


@bp.post("/roles/new")
@require_permission("core.roles:manage")
def new_role() -> Any:
    """Create a custom role (then tick its permissions in the matrix)."""
    try:
        role = admin.create_role(request.form.get("name", ""), request.form.get("description", ""))
        session.commit()
        flash(f"Role {role.name} created: tick its permissions below", "success")
    except DomainError as err:
        session.rollback()
        flash(err.message, "danger")
    return redirect(url_for("web_settings.roles"), 303)


# --- API keys -------------------------------------------------------------------------------


def _keys_page(secret: str | None = None, error: str | None = None, status: int = 200) -> Any:
    return render_template(
        "settings/api_keys.html",
        keys=login_service.list_api_keys(_tenant()),
        secret=secret,
        error=error,
        form=request.form if request.method == "POST" else {},
        breadcrumbs=_crumbs("API keys"),
    ), status


@bp.get("/api-keys")
@require_permission("core.apikeys:manage")
def api_keys() -> Any:
    """The company's API keys."""
    return _keys_page()


@bp.post("/api-keys")
@require_permission("core.apikeys:manage")
def create_api_key() -> Any:
    """Create a key and show its secret this once (it is never stored, so never shown again)."""
    scopes = request.form.get("scopes", "").replace(",", " ").split()
    try:
        expires_text = request.form.get("expires", "").strip()
        expires = login_service.parse_duration(expires_text) if expires_text else None
        _key, secret = login_service.create_api_key(
            _tenant(), request.form.get("name", ""), scopes, expires, created_by=_me()
        )
        session.commit()
    except DomainError as err:
        session.rollback()
        return _keys_page(error=err.message, status=err.status if err.status < 500 else 422)
    # Rendered, not redirected: the secret must not travel through the session cookie.
    return _keys_page(secret=secret, status=201)


@bp.post("/api-keys/<prefix>/revoke")
@require_permission("core.apikeys:manage")
def revoke_api_key(prefix: str) -> Any:
    """Revoke a key at once."""
    try:
        login_service.revoke_api_key(_tenant(), prefix)
        session.commit()
        flash(f"Key {prefix} revoked", "success")
    except DomainError as err:
        session.rollback()
        flash(err.message, "danger")
    return redirect(url_for("web_settings.api_keys"), 303)


# --- audit log ------------------------------------------------------------------------------


@bp.get("/audit")
@require_permission("core.audit:read")
def audit() -> Any:
    """The audit log, filterable by model, record, user, action and dates."""
    from core.audit import ACTIONS

    keys = ("model", "record", "user", "action", "since", "until")
    filters = {k: request.args.get(k, "").strip() for k in keys}
    try:
        page_no = int(request.args.get("page", "1"))
    except ValueError:
        page_no = 1
    error = None
    try:
        page = admin.audit_page(filters, page_no)
    except DomainError as err:
        error = err.message
        page = admin.audit_page({}, 1)
    return render_template(
        "settings/audit.html",
        page=page,
        filters=filters,
        actions=ACTIONS,
        error=error,
        breadcrumbs=_crumbs("Audit log"),
    ), 422 if error else 200


# --- webhooks -------------------------------------------------------------------------------


def _field_errors(err: DomainError) -> dict[str, list[str]]:
    field = getattr(err, "field", None)
    return err.details if isinstance(err.details, dict) else {field or "": [err.message]}


def _webhooks_page(
    errors: dict[str, list[str]] | None = None,
    secret: tuple[str, str] | None = None,
    status: int = 200,
) -> Any:
    return render_template(
        "settings/webhooks.html",
        endpoints=webhooks_service.list_endpoints(),
        errors=errors or {},
        secret=secret,  # (url, secret) just created or rotated: shown this once
        form=request.form if request.method == "POST" and errors else {},
        breadcrumbs=_crumbs("Webhooks"),
    ), status


@bp.get("/webhooks")
@require_permission("core.webhooks:manage")
def webhooks() -> Any:
    """The company's webhook endpoints, with a form to register one."""
    return _webhooks_page()


@bp.post("/webhooks")
@require_permission("core.webhooks:manage")
def create_webhook() -> Any:
    """Register an endpoint; its secret (typed or generated) is shown this once."""
    secret = request.form.get("secret", "").strip()
    try:
        endpoint = webhooks_service.create_endpoint(
            request.form.get("url", ""),
            request.form.get("event_types", "").replace(",", " ").split(),
            secret=secret or None,
            description=request.form.get("description", ""),
        )
        session.commit()
    except DomainError as err:
        session.rollback()
        return _webhooks_page(_field_errors(err), status=err.status if err.status < 500 else 422)
    # Rendered, not redirected: the secret must not travel through the session cookie.
    return _webhooks_page(secret=(endpoint.url, endpoint.secret), status=201)


@bp.post("/webhooks/<uuid:endpoint_id>/<any(enable, disable):action>")
@require_permission("core.webhooks:manage")
def webhook_active(endpoint_id: uuid.UUID, action: str) -> Any:
    """Disable an endpoint, or re-enable it (its failure count starts again from zero)."""
    try:
        if action == "enable":
            endpoint = webhooks_service.enable_endpoint(endpoint_id)
        else:
            endpoint = webhooks_service.disable_endpoint(endpoint_id, "disabled by a user")
        session.commit()
        flash(f"{'Enabled' if action == 'enable' else 'Disabled'} {endpoint.url}", "success")
    except DomainError as err:
        session.rollback()
        flash(err.message, "danger")
    return redirect(url_for("web_settings.webhooks"), 303)


@bp.post("/webhooks/<uuid:endpoint_id>/rotate-secret")
@require_permission("core.webhooks:manage")
def rotate_webhook_secret(endpoint_id: uuid.UUID) -> Any:
    """Give the endpoint a new secret, shown this once."""
    try:
        endpoint = webhooks_service.rotate_secret(endpoint_id)
        session.commit()
    except DomainError as err:
        session.rollback()
        flash(err.message, "danger")
        return redirect(url_for("web_settings.webhooks"), 303)
    return _webhooks_page(secret=(endpoint.url, endpoint.secret))


@bp.get("/webhooks/<uuid:endpoint_id>/deliveries")
@require_permission("core.webhooks:manage")
def webhook_deliveries(endpoint_id: uuid.UUID) -> Any:
    """The endpoint's deliveries, newest first, each attempt with status, time and answer."""
    state = request.args.get("state", "").strip() or None
    try:
        endpoint = webhooks_service.get_endpoint(endpoint_id)
        log = webhooks_service.list_deliveries(endpoint_id, state=state, limit=100)
    except DomainError:
        abort(404)
    return render_template(
        "settings/webhook_deliveries.html",
        endpoint=endpoint,
        deliveries=log,
        state=state or "",
        breadcrumbs=[
            ("Settings", url_for("web_settings.index")),
            ("Webhooks", url_for("web_settings.webhooks")),
            ("Deliveries", None),
        ],
    )


@bp.post("/webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/retry")
@require_permission("core.webhooks:manage")
def retry_webhook_delivery(endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> Any:
    """Send one delivery again (sent after the commit)."""
    try:
        webhooks_service.retry_delivery(endpoint_id, delivery_id)
        session.commit()
        flash("Delivery queued again", "success")
    except DomainError as err:
        session.rollback()
        flash(err.message, "danger")
    return redirect(url_for("web_settings.webhook_deliveries", endpoint_id=endpoint_id), 303)


# --- failed events --------------------------------------------------------------------------


@bp.get("/failed-events")
@require_permission("core.events:manage")
def failed_events() -> Any:
    """Handlers and webhook deliveries that gave up, newest first, each with Retry."""
    return render_template(
        "settings/failed_events.html",
        items=events_service.failed(tenant_id=_me().tenant_id),
        breadcrumbs=_crumbs("Failed events"),
    )


@bp.post("/failed-events/<uuid:item_id>/retry")
@require_permission("core.events:manage")
def retry_failed_event(item_id: uuid.UUID) -> Any:
    """Give one failed handler or delivery a fresh round of attempts."""
    try:
        kind = events_service.retry(item_id)
        session.commit()
        flash(f"Retrying the {'webhook delivery' if kind == 'webhook' else 'handler'}", "success")
    except DomainError as err:
        session.rollback()
        flash(err.message, "danger")
    return redirect(url_for("web_settings.failed_events"), 303)


@bp.post("/failed-events/retry-all")
@require_permission("core.events:manage")
def retry_all_failed_events() -> Any:
    """Retry every failed handler and delivery of the company."""
    items = events_service.failed(tenant_id=_me().tenant_id)
    for item in items:
        events_service.retry(item.id)
    session.commit()
    flash(f"Retrying {len(items)} failed item{'s' if len(items) != 1 else ''}", "success")
    return redirect(url_for("web_settings.failed_events"), 303)
