"""Manifest of the contacts addon: the master of customer, vendor and partner data."""

from core.manifest import Manifest, MenuItem

manifest = Manifest(
    name="contacts",
    version="1.0.0",
    summary="Accounts, people and addresses: who the business deals with",
    application=True,
    permissions={
        "contacts.accounts:read": "See accounts, their addresses and the 360° view",
        "contacts.accounts:create": "Create and import accounts",
        "contacts.accounts:update": "Edit accounts, their addresses, hold and merge them",
        "contacts.accounts:delete": "Archive accounts",
        "contacts.people:read": "See the people of accounts",
        "contacts.people:create": "Add people to accounts",
        "contacts.people:update": "Edit people",
        "contacts.people:delete": "Remove people",
    },
    default_grants={
        "sales": ("contacts.accounts:*", "contacts.people:*"),
        "manager": ("contacts.accounts:*", "contacts.people:*"),
        "purchasing": (
            "contacts.accounts:read",
            "contacts.accounts:create",
            "contacts.people:read",
            "contacts.people:create",
        ),
    },
    menus=(MenuItem("Contacts", "contacts_web.account_list", "contacts.accounts:read", order=10),),
    plugins=("addons.contacts.hooks",),
    hookspecs=("addons.contacts.hookspecs",),
)
