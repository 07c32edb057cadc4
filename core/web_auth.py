"""Web login pages: log in and out, switch tenant, change or reset a password."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie
from flask_login import current_user, login_user, logout_user

from core import login as login_service
from core.auth import AuthenticationRequired, current_principal
from core.db import session
from core.errors import DomainError
from core.ratelimit import LOGIN_PER_ADDRESS, limiter, login_limits
from core.routing import login_required, public
from core.web_session import WebLogin

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only redirect within this site after login."""
    if (
        target
        and not urlsplit(target).netloc
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    return url_for("index")


@bp.route("/login", methods=["GET", "POST"])
@public
@login_limits
def login() -> Any:
    """The login form."""
    form = {"email": request.form.get("email", ""), "tenant": request.form.get("tenant", "")}
    if request.method == "POST":
        try:
            user, tenant = login_service.login(
                form["email"], request.form.get("password", ""), form["tenant"] or None
            )
        except AuthenticationRequired as err:
            session.rollback()
            return render_template("auth/login.html", form=form, error=err.message), 401
        cookie.clear()  # a fresh session on every login: no fixation
        row = login_service.open_login_session(user, tenant, request.remote_addr)
        session.commit()
        login_user(WebLogin(row))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form, error=None)


@bp.post("/logout")
@public
def logout() -> Any:
    """End the web login (its server-side row goes, so the old cookie is dead)."""
    if current_user.is_authenticated:
        login_service.close_login_session(current_user.get_id())
        session.commit()
    logout_user()
    cookie.clear()
    return redirect(url_for("auth.login"))


@bp.post("/switch-tenant")
@login_required
def switch_tenant() -> Any:
    """Move to another tenant the user belongs to."""
    row = login_service.load_login_session(current_user.get_id())
    if row is None:
        return redirect(url_for("auth.login"))
    try:
        tenant = login_service.switch_tenant(row, request.form.get("tenant", ""))
    except DomainError as err:
        flash(err.message, "danger")
        return redirect(_safe_next(request.form.get("next"))), 303
    session.commit()
    flash(f"Switched to {tenant.name}", "success")
    return redirect(_safe_next(request.form.get("next")), 303)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    """Change one's own password."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        from core.models import User

        principal = current_principal()
        assert principal is not None and principal.user_id is not None
        user = session.get(User, principal.user_id)
        try:
            login_service.change_password(
                user,
                request.form.get("current_password", ""),
                request.form.get("new_password", ""),
                keep_session=uuid.UUID(current_user.get_id()),  # this browser stays logged in
            )
            session.commit()
            flash("Password changed", "success")
            return redirect(url_for("index"))
        except DomainError as err:
            session.rollback()
            errors = err.details or {"": [err.message]}
    return render_template("auth/password.html", errors=errors), 422 if errors else 200


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limiter.limit(LOGIN_PER_ADDRESS, methods=["POST"])
def forgot_password() -> Any:
    """Ask for a reset link by mail."""
    sent = False
    error = None
    if request.method == "POST":
        try:
            login_service.request_password_reset(request.form.get("email", ""), request.host_url)
            session.commit()
            sent = True
        except DomainError as err:
            error = err.message
    return render_template("auth/forgot.html", sent=sent, error=error)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str) -> Any:
    """Choose a new password with a reset link."""
    error = None
    if request.method == "POST":
        try:
            login_service.reset_password(token, request.form.get("password", ""))
            session.commit()
            flash("Password set: you can log in now", "success")
            return redirect(url_for("auth.login"))
        except DomainError as err:
            session.rollback()
            error = err.message
    return render_template("auth/reset.html", error=error, token=token), 422 if error else 200


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
@limiter.limit(LOGIN_PER_ADDRESS, methods=["POST"])
def accept_invitation(token: str) -> Any:
    """Accept an invitation: see who invited you where, and choose a password."""
    error = None
    try:
        invitation = login_service.read_invitation(token)
    except DomainError as err:
        session.rollback()
        return render_template("auth/invitation.html", invitation=None, error=err.message), 410
    if request.method == "POST":
        try:
            login_service.accept_invitation(token, request.form.get("password", ""))
            session.commit()
            flash(f"Welcome to {invitation.tenant.name}: log in with your new password", "success")
            return redirect(url_for("auth.login"))
        except DomainError as err:
            session.rollback()
            error = err.message
    return render_template("auth/invitation.html", invitation=invitation, error=error), (
        422 if error else 200
    )


@bp.app_context_processor
def _inject_identity() -> dict[str, Any]:
    return {"principal": current_principal()}
