"""A real worker for the events tests: the kernel's `run_worker` with the probe addon.

Settings come as JSON in PERGOLA_TEST_WORKER_CONFIG; flags: --burst, --with-scheduler.
"""

from __future__ import annotations

import json
import logging
import os
import sys


def main() -> None:
    """Build the app and run the worker until stopped (or the queue is empty, with --burst)."""
    from core import create_app
    from core.jobs import run_worker
    from tests.fixture_addons.events_probe.manifest import manifest

    logging.basicConfig(level=logging.INFO, stream=sys.stdout)
    config = json.loads(os.environ["PERGOLA_TEST_WORKER_CONFIG"])
    app = create_app({**config, "only_addons": [manifest]})
    run_worker(app, burst="--burst" in sys.argv, with_scheduler="--with-scheduler" in sys.argv)


if __name__ == "__main__":
    main()
