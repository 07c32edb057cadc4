"""Fixtures for the `notes` addon's tests; the app and database come from core.testing."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def pergola_config() -> dict[str, Any]:
    """Load the addon even from a checkout that is not pip-installed (no entry point yet)."""
    from core.registry import entry_point_manifests

    from pergola_notes.manifest import manifest

    installed = any(m.name == manifest.name for m in entry_point_manifests())
    return {} if installed else {"extra_addons": [manifest]}
