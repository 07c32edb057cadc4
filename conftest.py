"""Root of the test suite: one set of fixtures for the kernel's tests and every addon's.

The fixtures live in `tests/fixtures.py`; loading them here (not from tests/conftest.py)
lets `addons/*/tests` share the one session app and database instead of each building
and migrating its own.
"""

pytest_plugins = ["tests.fixtures"]
