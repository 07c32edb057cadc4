"""The `events_probe` fixture addon's manifest."""

from core.manifest import Manifest

manifest = Manifest(
    name="events_probe",
    version="1.0.0",
    summary="Fixture: event handlers and a scheduled job that record what they did",
    plugins=("tests.fixture_addons.events_probe.hooks",),
    package="tests.fixture_addons.events_probe",
)
