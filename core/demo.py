"""Demo data: the tenant `demo` with an admin user; loading twice changes nothing."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from core import services
from core.registry import current_registry
from core.tenancy import system_context, tenant_context

DEMO_SLUG = "demo"
DEMO_EMAIL = "admin@demo.example.com"


@dataclass(frozen=True)
class DemoLogin:
    """What `load_demo` tells the person who ran it."""

    tenant_slug: str
    email: str
    password: str


def _demo_password(instance_path: str) -> str:
    """The admin password: PERGOLA_DEMO_PASSWORD, or one generated once into instance/."""
    env = os.environ.get("PERGOLA_DEMO_PASSWORD")
    if env:
        return env
    path = Path(instance_path) / "demo_admin_password"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(9)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def load_demo(instance_path: str) -> DemoLogin:
    """Create the demo tenant and admin if missing; (re)set the admin so the printed login works."""
    password = _demo_password(instance_path)
    with system_context():
        tenant = next((t for t in services.list_tenants() if t.slug == DEMO_SLUG), None)
        if tenant is None:
            tenant = services.create_tenant(DEMO_SLUG, "Demo Company")
        user = services.find_user(DEMO_EMAIL)
        if user is None or not any(m.tenant_id == tenant.id for m in user.memberships):
            user = services.create_user(
                DEMO_EMAIL, tenant_slug=DEMO_SLUG, name="Demo Admin", roles=["admin"]
            )
        # Always (re)set it: the password we print must work whatever the account held before.
        services.set_password(user, password)
        user.active = True
    # Each addon the demo tenant has enabled adds its own demo records (idempotently).
    with tenant_context(tenant.id):
        current_registry().hook.load_demo_data(tenant_id=tenant.id)
    return DemoLogin(DEMO_SLUG, DEMO_EMAIL, password)
