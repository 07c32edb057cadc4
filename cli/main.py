"""Entry point of the `pergola` command: click on Flask's CLI, kernel and addon commands."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup


def _create_app() -> Flask:
    from core import create_app

    return create_app()


def build_cli() -> click.Group:
    """The `pergola` group with the kernel's commands."""
    from cli import addons, api, apikeys, db_commands, demo, events, tenants, worker
    from cli.audit import audit

    group = FlaskGroup(
        name="pergola",
        create_app=_create_app,
        add_version_option=False,
        load_dotenv=False,
        set_debug_flag=False,
        help="Pergola: an addon-based ERP framework.",
    )
    group.add_command(db_commands.db)
    group.add_command(tenants.tenant)
    group.add_command(tenants.user)
    group.add_command(demo.demo)
    group.add_command(addons.addons)
    group.add_command(addons.addon)
    group.add_command(audit)
    group.add_command(apikeys.apikey)
    group.add_command(api.api)
    group.add_command(events.events)
    group.add_command(worker.worker)
    group.add_command(worker.run_command)  # Flask's run, plus the embedded scheduler
    return group


cli = build_cli()


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="pergola", args=sys.argv[1:])
