"""The `reports` fixture addon's manifest."""

from core.manifest import Manifest, MenuItem

manifest = Manifest(
    name="reports",
    version="0.3.0",
    summary="Fixture: reports over shop orders",
    depends=("shop",),
    permissions={"reports.sales:read": "Read sales reports"},
    menus=(MenuItem("Reports", "reports_index", permission="reports.sales:read", order=90),),
    plugins=("tests.fixture_addons.reports.hooks",),
    package="tests.fixture_addons.reports",
)
