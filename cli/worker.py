"""`pergola worker` (RQ workers on Redis) and `pergola run` with the embedded scheduler."""

from __future__ import annotations

import logging
from typing import Any, cast

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, get_debug_flag, with_appcontext
from flask.cli import run_command as flask_run_command
from werkzeug.serving import is_running_from_reloader

from cli.util import domain_errors


@click.command()
@click.option(
    "--with-scheduler",
    is_flag=True,
    help="Also fire scheduled jobs and run the events relay (one or more workers).",
)
@click.option("--burst", is_flag=True, help="Quit once the queue is empty.")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    metavar="NAME",
    help="Queue(s) to listen on (default: the 'queue_name' setting, 'pergola').",
)
@with_appcontext
@domain_errors
def worker(with_scheduler: bool, burst: bool, queues: tuple[str, ...]) -> None:
    """Run an RQ worker: event handlers, webhook deliveries, scheduled jobs.

    Needs PERGOLA_REDIS_URL. Run as many as you like, on as many machines, against the
    same Redis and database; give at least one of them --with-scheduler.
    """
    from core.jobs import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    run_worker(app, burst=burst, with_scheduler=with_scheduler, queues=queues or None)


def _run(scheduler: bool, **kwargs: Any) -> None:
    ctx = click.get_current_context()
    info = ctx.ensure_object(ScriptInfo)
    reload = kwargs.get("reload")
    if reload is None:
        reload = get_debug_flag()
    # With the reloader, the parent process only watches files: tick in the serving child.
    if scheduler and (not reload or is_running_from_reloader()):
        app = info.load_app()
        if app.config["PERGOLA"].embedded:
            from core.scheduler import start_embedded_scheduler

            start_embedded_scheduler(app)
    ctx.invoke(flask_run_command, **kwargs)


run_command = click.Command(
    "run",
    callback=_run,
    params=[
        *flask_run_command.params,
        click.Option(
            ["--scheduler/--no-scheduler"],
            default=True,
            show_default=True,
            help="Embedded mode (no Redis): fire scheduled jobs and retry events "
            "in a background thread of the server.",
        ),
    ],
    help=(flask_run_command.help or "") + "\n\nIn embedded mode (no PERGOLA_REDIS_URL) it also "
    "runs due scheduled jobs, event retries and the relay in a background thread.",
    short_help="Run the development server (and, embedded, the scheduler).",
)
