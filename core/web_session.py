"""Flask-Login glue: the cookie names a server-side login session, not a user."""

from __future__ import annotations

from flask import Flask
from flask_login import LoginManager, UserMixin

from core.identity import LoginSession

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


class WebLogin(UserMixin):
    """What Flask-Login keeps: the id of a `LoginSession` row."""

    def __init__(self, row: LoginSession) -> None:
        self.row = row

    def get_id(self) -> str:
        """The login session's id, stored in the signed cookie."""
        return str(self.row.id)


@login_manager.user_loader
def _load(sid: str) -> WebLogin | None:
    from core.login import load_login_session

    row = load_login_session(sid)
    return WebLogin(row) if row is not None else None


def init_app(app: Flask) -> None:
    """Attach Flask-Login with hardened cookie settings."""
    secure = app.config["PERGOLA"].extra.get("secure_cookies", True)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(secure),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=bool(secure),
        SESSION_COOKIE_NAME="pergola_session",
    )
    login_manager.init_app(app)
