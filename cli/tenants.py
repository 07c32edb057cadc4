"""`pergola tenant ...` and `pergola user ...`."""

from __future__ import annotations

import secrets
import sys

import click
from flask.cli import with_appcontext

from cli.util import domain_errors
from core import services
from core.db import session
from core.tenancy import system_context


@click.group()
def tenant() -> None:
    """Manage tenants (the companies this deployment serves)."""


@tenant.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The company's display name.")
@with_appcontext
@domain_errors
def tenant_create(slug: str, name: str) -> None:
    """Create tenant SLUG."""
    t = services.create_tenant(slug, name)
    session.commit()
    click.echo(f"created tenant {t.slug} ({t.name})")


@tenant.command("list")
@with_appcontext
def tenant_list() -> None:
    """List tenants."""
    with system_context():
        rows = services.list_tenants()
    if not rows:
        click.echo("no tenants")
    for t in rows:
        click.echo(f"{t.slug:<24} {t.status:<10} {t.name}")


@click.group()
def user() -> None:
    """Manage users."""


@user.command("create")
@click.argument("email")
@click.option("--tenant", "tenant_slug", required=True, help="Slug of the tenant to join.")
@click.option("--name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--role", "roles", multiple=True, help="Role in the tenant (repeatable), e.g. --role admin."
)
@with_appcontext
@domain_errors
def user_create(
    email: str, tenant_slug: str, name: str, password_stdin: bool, roles: tuple[str, ...]
) -> None:
    """Create user EMAIL as a member of a tenant (a generated password is printed once).

    If EMAIL already has an account, it joins the tenant and keeps its password.
    """
    existing = services.find_user(email) is not None
    password = generated = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not existing:
        password = generated = secrets.token_urlsafe(12)
    u = services.create_user(
        email, tenant_slug=tenant_slug, password=password, name=name, roles=roles
    )
    session.commit()
    if existing:
        click.echo(f"added existing user {u.email} to tenant {tenant_slug} (password unchanged)")
        return
    click.echo(f"created user {u.email} in tenant {tenant_slug}")
    if generated:
        click.echo(f"password: {generated}")
