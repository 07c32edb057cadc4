"""The `notes` addon's rules; its routes, commands and hooks call these."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from core.db import session
from core.errors import ValidationError
from sqlalchemy import func, select

from pergola_notes.models import Note

WELCOME = "Welcome to Notes"
DEMO_TITLES = ("Call the supplier back", "Prepare the quarterly review")


def list_notes() -> Sequence[Note]:
    """The current tenant's notes, newest first."""
    query = select(Note).order_by(Note.created_at.desc(), Note.title)
    return session.scalars(query).all()


def create_note(
    title: str, body: str = "", created_by: uuid.UUID | None = None
) -> Note:
    """Add a note for the current tenant; the title is required."""
    record = Note(title=_title(title), body=body or "", created_by=created_by)
    session.add(record)
    session.flush()
    return record


def update_note(
    record: Note, title: str | None = None, body: str | None = None
) -> Note:
    """Change a note's title and/or body (None keeps it); the title stays required."""
    if title is not None:
        record.title = _title(title)
    if body is not None:
        record.body = body
    session.flush()
    return record


def delete_note(record: Note) -> None:
    """Delete a note."""
    session.delete(record)
    session.flush()


def _title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise ValidationError("title is required", field="title")
    if len(title) > 200:
        raise ValidationError("title is longer than 200 characters", field="title")
    return title


def ensure_note(title: str, body: str = "") -> None:
    """Create the note `title` unless the tenant has it: safe to run again."""
    query = select(func.count()).select_from(Note).where(Note.title == title)
    if not session.scalar(query):
        create_note(title, body)


def count_notes() -> int:
    """How many notes the current tenant has."""
    return session.scalar(select(func.count()).select_from(Note)) or 0
