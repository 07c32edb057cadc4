"""`pergola demo`: load the demo tenant (idempotent)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from cli.util import domain_errors
from core.db import session
from core.demo import load_demo


@click.command()
@with_appcontext
@domain_errors
def demo() -> None:
    """Create or refresh the demo tenant `demo` and its admin user; prints the login."""
    result = load_demo(current_app.instance_path)
    session.commit()
    click.echo(f"demo tenant: {result.tenant_slug}")
    click.echo(f"login: {result.email}")
    click.echo(f"password: {result.password}")
