"""The `notes` addon's pages: thin, they call the services."""

from __future__ import annotations

from typing import Any

from core.auth import current_principal, require_permission
from core.db import session
from core.errors import ValidationError
from flask import Blueprint, redirect, render_template, request, url_for

from pergola_notes import services

bp = Blueprint("notes", __name__, url_prefix="/notes")


@bp.get("/")
@require_permission("notes.notes:read")
def index() -> Any:
    """The tenant's notes."""
    records = services.list_notes()
    return render_template("notes/index.html", records=records, error=None)


@bp.post("/")
@require_permission("notes.notes:create")
def create() -> Any:
    """Add a note; on bad input, show the form again with the message."""
    principal = current_principal()
    try:
        services.create_note(
            request.form.get("title", ""), request.form.get("body", ""),
            created_by=principal.user_id if principal else None,
        )
    except ValidationError as err:
        session.rollback()
        records = services.list_notes()
        page = render_template("notes/index.html", records=records, error=err.message,
                               form=request.form)
        return page, 422
    session.commit()
    return redirect(url_for(".index"))
