"""`pergola events ...`: relay the outbox, list what failed, retry it, inspect an event."""

from __future__ import annotations

import uuid

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from tqdm import tqdm

from cli.util import domain_errors
from core.db import session
from core.tenancy import system_context


def _tenant_slugs() -> dict[uuid.UUID, str]:
    from core.models import Tenant

    return {tid: slug for tid, slug in session.execute(select(Tenant.id, Tenant.slug))}


@click.group()
def events() -> None:
    """Outbox events: relay, failed handlers and webhook deliveries, retries."""


@events.command()
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Hand over at most this many rows."
)
@with_appcontext
@domain_errors
def relay(limit: int | None) -> None:
    """Re-send events and webhook deliveries that are due: never dispatched, left by a
    dead worker, or waiting for a retry. Safe to run at any time, anywhere."""
    from core import events as ev
    from core.jobs import QueueUnavailable

    due = ev.count_due()
    if limit is not None:
        due = min(due, limit)
    with tqdm(total=due, unit="row", desc="relay", disable=due < 2, leave=False) as bar:
        try:
            result = ev.relay(limit=limit, on_progress=bar.update)
        except QueueUnavailable as exc:
            raise click.ClickException(
                f"Redis is unreachable ({exc}); nothing was lost: run the relay again"
            ) from exc
    click.echo(f"relayed {result.events} event(s) and {result.deliveries} webhook delivery(ies)")


@events.command("failed")
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant's (slug).")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@with_appcontext
@domain_errors
def failed_command(tenant_slug: str | None, limit: int) -> None:
    """List event handlers and webhook deliveries that gave up, newest first."""
    from core import events as ev

    with system_context():
        slugs = _tenant_slugs()
        wanted = None
        if tenant_slug is not None:
            from core.services import get_tenant

            wanted = get_tenant(tenant_slug).id
        items = ev.failed(limit=limit, tenant_id=wanted)
    if not items:
        click.echo("nothing failed")
        return
    for i in items:
        click.echo(
            f"{i.id}  {i.kind:<7}  {slugs.get(i.tenant_id, i.tenant_id)}  {i.event_type}"
            f"  {i.target}  attempts={i.attempts}  "
            f"{i.failed_at:%Y-%m-%d %H:%M:%S}Z  {i.summary}"
        )
    click.echo(f"{len(items)} failed; retry with: pergola events retry ID (or --all)")


@events.command("retry")
@click.argument("ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry everything in the failed list.")
@with_appcontext
@domain_errors
def retry_command(ids: tuple[str, ...], retry_all: bool) -> None:
    """Try failed handlers or webhook deliveries (IDs from `pergola events failed`) again."""
    from core import events as ev

    if bool(ids) == retry_all:
        raise click.UsageError("give the ID(s) to retry, or --all")
    with system_context():
        targets = list(ids) if ids else [str(i.id) for i in ev.failed(limit=100_000)]
    for ident in tqdm(targets, unit="item", desc="retry", disable=len(targets) < 2, leave=False):
        with system_context():
            ev.retry(ident)
            session.commit()  # each one is handed over as it commits
    click.echo(f"retried {len(targets)} item(s)")


@events.command("show")
@click.argument("event_id")
@with_appcontext
@domain_errors
def show(event_id: str) -> None:
    """Show an event: its state, the handlers that applied it, and its failures."""
    from core import events as ev
    from core.errors import NotFound

    try:
        uuid.UUID(event_id)
    except ValueError:
        raise NotFound(f"no event {event_id!r}") from None
    with system_context():
        info = ev.event_status(event_id)
        slugs = _tenant_slugs()
    click.echo(
        f"event {info['id']}  {info['type']}  tenant "
        f"{slugs.get(uuid.UUID(info['tenant_id']), info['tenant_id'])}"
    )
    click.echo(
        f"state {info['state']}  sent {info['dispatch_count']} time(s)  "
        f"created {info['created_at']:%Y-%m-%d %H:%M:%S}Z"
    )
    for name in info["applied"]:
        click.echo(f"  applied  {name}")
    for f in info["failures"]:
        click.echo(f"  {f['status']:<8} {f['handler']}  attempts={f['attempts']}  id={f['id']}")
