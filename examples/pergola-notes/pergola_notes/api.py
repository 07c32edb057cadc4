"""The `notes` addon's JSON API: one `core.api` Resource, served under /api/v1/notes."""

from __future__ import annotations

from typing import Any

from core.api import Resource
from core.auth import current_principal
from marshmallow import Schema, fields, validate

from pergola_notes import services
from pergola_notes.models import Note


class NoteSchema(Schema):
    """A note as the API shows it and takes it (an unknown field is a 422)."""

    id = fields.UUID(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(load_default="")
    created_by = fields.UUID(dump_only=True, allow_none=True)
    version = fields.Integer(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


def _create(data: dict[str, Any]) -> Note:
    principal = current_principal()
    return services.create_note(
        data["title"], data["body"], created_by=principal.user_id if principal else None
    )


def _update(record: Note, data: dict[str, Any]) -> Note:
    return services.update_note(record, data.get("title"), data.get("body"))


notes = Resource(
    "notes",
    Note,
    NoteSchema,
    "notes.notes",  # → notes.notes:read, :create, :update, :delete
    filterable=("title", "created_by", "created_at"),
    sortable=("title", "created_at"),
    searchable=("title", "body"),
    default_sort=("title",),
    create=_create,
    update=_update,
    delete=services.delete_note,
    summary="Notes of the tenant",
)
