"""Manifest of the contacts test addon (loaded with `create_app(extra_addons=...)`)."""

from core.manifest import Manifest

manifest = Manifest(
    name="contacts_credit",
    version="1.0.0",
    summary="Test addon: a credit limit on accounts, kept in its own extension table",
    depends=("contacts",),
    plugins=("addons.contacts.tests.ext_addon.hooks",),
    package="addons.contacts.tests.ext_addon",
)
