"""`pergola db ...`: schema migrations for the kernel and every installed addon."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from core import migrate


@click.group()
def db() -> None:
    """Create, upgrade and inspect the database schema."""


@db.command()
@click.argument("revision", default="heads")
@with_appcontext
def upgrade(revision: str) -> None:
    """Upgrade to REVISION (default: every branch's head)."""
    migrate.upgrade(revision=revision)
    click.echo(f"database upgraded to {revision}")


@db.command()
@click.argument("revision", default="-1")
@with_appcontext
def downgrade(revision: str) -> None:
    """Downgrade to REVISION (default: one step; 'base' drops everything)."""
    migrate.downgrade(revision=revision)
    click.echo(f"database downgraded to {revision}")


@db.command()
@with_appcontext
def current() -> None:
    """Show the revision each branch is at."""
    migrate.current()
