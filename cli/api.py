"""`pergola api ...`: upkeep of the JSON API's kernel tables."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext

from core.db import session


@click.group()
def api() -> None:
    """Upkeep of the JSON API (idempotency keys)."""


@api.command("purge-idempotency-keys")
@click.option(
    "--older-than",
    "hours",
    type=click.FloatRange(min=0),
    default=None,
    help="Forget keys older than this many hours (default: idempotency_retention_hours, 24).",
)
@with_appcontext
def purge_idempotency_keys(hours: float | None) -> None:
    """Forget every tenant's remembered Idempotency-Key answers past retention."""
    from core.scheduler import idempotency_retention
    from core.scheduler import purge_idempotency_keys as purge

    older_than = dt.timedelta(hours=hours) if hours is not None else idempotency_retention()
    purged = purge(older_than)
    session.commit()
    click.echo(f"purged {purged} idempotency keys older than {older_than}")
