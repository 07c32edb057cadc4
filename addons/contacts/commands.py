"""`pergola contacts ...`."""

import click


@click.group()
def contacts() -> None:
    """Contacts: import and export accounts."""
