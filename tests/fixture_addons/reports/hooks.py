"""The `reports` fixture addon's hookimpls."""

from __future__ import annotations

import uuid

from core.hookspecs import hookimpl
from tests.fixture_addons import record


@hookimpl
def addon_disabled(tenant_id: uuid.UUID, addon: str) -> None:
    """Record the call."""
    record("reports", "addon_disabled", tenant_id=tenant_id, addon=addon)
