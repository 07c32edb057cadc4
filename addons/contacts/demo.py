"""Demo data."""


def load_demo() -> None:
    """Fifty demo accounts."""
