"""A record's activity feed: its audit entries and the comments people left on it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from core.auth import current_principal
from core.db import session
from core.errors import ValidationError
from core.web.models import Comment

MAX_COMMENT = 5000
# Columns whose changes say nothing a person needs to read in the feed.
_HIDDEN_CHANGES = frozenset({"id", "created_at", "deleted_at", "owner_id"})


@dataclass
class ActivityItem:
    """One line of the feed: a comment, or a create/update/delete from the audit log."""

    at: dt.datetime
    kind: str  # "comment" or an audit action
    who: str
    body: str = ""
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)


def add_comment(table_name: str, record_id: Any, body: str) -> Comment:
    """Leave a comment on a record as the current user."""
    text = (body or "").strip()
    if not text:
        raise ValidationError("write something first", field="body")
    if len(text) > MAX_COMMENT:
        raise ValidationError(f"at most {MAX_COMMENT} characters", field="body")
    principal = current_principal()
    comment = Comment(
        table_name=table_name,
        record_id=str(record_id),
        body=text,
        author_id=principal.user_id if principal else None,
    )
    session.add(comment)
    session.flush()
    return comment


def _emails(user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    from core.models import User

    ids = {u for u in user_ids if u is not None}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return {uid: email for uid, email in rows}


def feed(table_name: str, record_id: Any, limit: int = 100) -> list[ActivityItem]:
    """The record's comments and audit entries, newest first."""
    from core.audit import audit_entries

    rid = str(record_id)
    comments = list(
        session.scalars(
            select(Comment)
            .where(Comment.table_name == table_name, Comment.record_id == rid)
            .order_by(Comment.created_at.desc())
            .limit(limit)
        )
    )
    entries = audit_entries(model=table_name, record=rid, limit=limit)
    names = _emails([c.author_id for c in comments] + [e.user_id for e in entries])
    items = [
        ActivityItem(
            c.created_at,
            "comment",
            names.get(c.author_id, "someone") if c.author_id else "someone",
            body=c.body,
        )
        for c in comments
    ]
    for e in entries:
        who = names.get(e.user_id, "") if e.user_id else ""
        if not who:
            who = "an API key" if e.api_key_id else "the system"
        changes = [
            (k, v.get("old"), v.get("new"))
            for k, v in sorted((e.changes or {}).items())
            if k not in _HIDDEN_CHANGES and isinstance(v, dict)
        ]
        items.append(ActivityItem(e.created_at, e.action, who, changes=changes))
    items.sort(key=lambda i: i.at, reverse=True)
    return items[:limit]
