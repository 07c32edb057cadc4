"""`pergola apikey ...`: keys for integrations, shown once, stored hashed."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from cli.util import domain_errors
from core import login, services
from core.db import session
from core.tenancy import system_context


@click.group()
def apikey() -> None:
    """Create, list and revoke API keys."""


@apikey.command("create")
@click.option("--tenant", "tenant_slug", required=True, help="Tenant the key is bound to.")
@click.option("--name", required=True, help="What the key is for.")
@click.option(
    "--scopes",
    required=True,
    help='Comma-separated permissions or patterns, e.g. "contacts.*,inventory.products:read".',
)
@click.option("--expires", default=None, help="Lifetime, e.g. 90d, 12h, 30m (default: never).")
@with_appcontext
@domain_errors
def create(tenant_slug: str, name: str, scopes: str, expires: str | None) -> None:
    """Create a key; its secret is printed once and cannot be shown again."""
    with system_context():
        tenant = services.get_tenant(tenant_slug)
        lifetime = login.parse_duration(expires) if expires else None
        key, secret = login.create_api_key(tenant, name, scopes.split(","), lifetime)
        session.commit()
    click.echo(f"created API key {key.prefix} ({key.name}) for tenant {tenant.slug}")
    click.echo(f"scopes: {', '.join(key.scopes)}")
    if key.expires_at:
        click.echo(f"expires: {key.expires_at.isoformat(timespec='minutes')}")
    click.echo(f"key (shown once): {secret}")


@apikey.command("list")
@click.option("--tenant", "tenant_slug", required=True)
@with_appcontext
@domain_errors
def list_keys(tenant_slug: str) -> None:
    """List a tenant's keys (never their secrets)."""
    with system_context():
        tenant = services.get_tenant(tenant_slug)
        for k in login.list_api_keys(tenant):
            state = "revoked" if k.revoked_at else "active"
            used = k.last_used_at.isoformat(timespec="minutes") if k.last_used_at else "never"
            click.echo(
                f"{k.prefix}  {state:<8} {k.name:<24} used: {used}  scopes: {','.join(k.scopes)}"
            )


@apikey.command("revoke")
@click.argument("prefix")
@click.option("--tenant", "tenant_slug", required=True)
@with_appcontext
@domain_errors
def revoke(prefix: str, tenant_slug: str) -> None:
    """Revoke the key with PREFIX; it stops working at once."""
    with system_context():
        tenant = services.get_tenant(tenant_slug)
        login.revoke_api_key(tenant, prefix)
        session.commit()
    click.echo(f"revoked API key {prefix}")
