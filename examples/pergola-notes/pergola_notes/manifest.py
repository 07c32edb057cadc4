"""The `notes` addon's manifest: pure data, read by Pergola's registry."""

from core.manifest import Manifest, MenuItem

manifest = Manifest(
    name="notes",
    version="0.1.0",
    summary="Notes",
    depends=(),
    application=True,
    permissions={
        "notes.notes:read": "See notes",
        "notes.notes:create": "Add notes",
        "notes.notes:update": "Change notes",
        "notes.notes:delete": "Delete notes",
    },
    # What the tenant's standard roles get when the addon is enabled (admin has `*`).
    default_grants={
        "manager": ("notes.*",),
        "employee": ("notes.notes:read",),
    },
    menus=(
        MenuItem(
            "Notes", "notes.index", permission="notes.notes:read", order=100
        ),
    ),
    plugins=("pergola_notes.hooks",),
    package="pergola_notes",
)
