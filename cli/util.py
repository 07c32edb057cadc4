"""Helpers shared by the CLI commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from core.errors import DomainError

F = TypeVar("F", bound=Callable[..., Any])


def domain_errors(fn: F) -> F:
    """Turn a domain error into one line on stderr and exit code 1; nothing is committed."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as err:
            from core.db import session

            session.rollback()
            raise click.ClickException(err.message) from err

    return wrapper  # type: ignore[return-value]
