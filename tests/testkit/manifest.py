"""Manifest of the kernel's test addon (loaded into the test app with `extra_addons`)."""

from core.manifest import Manifest, MenuItem

manifest = Manifest(
    name="testkit",
    version="1.0.0",
    summary="Routes and rules the kernel's tests drive",
    permissions={
        "testkit.things:read": "See things",
        "testkit.things:create": "Create things",
        "testkit.projects:read": "See projects",
        "testkit.projects:create": "Create projects",
        "testkit.projects:update": "Change projects",
        "testkit.projects:delete": "Delete projects",
        "testkit.projects:plan": "Plan tasks on projects",
    },
    default_grants={
        "sales": ("testkit.things:read", "testkit.projects:read"),
        "manager": ("testkit.*",),
    },
    menus=(
        MenuItem("Things", "testkit.things_page", "testkit.things:read", order=50),
        MenuItem("Projects", "testkit_web.projects_list", "testkit.things:read", order=60),
    ),
    plugins=("tests.testkit.hooks", "tests.testkit.web"),
    package="tests.testkit",
)
