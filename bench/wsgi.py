"""The bench app for gunicorn: `gunicorn 'bench.wsgi:app'`, configured by the runner's env."""

from __future__ import annotations

import os
from pathlib import Path

from bench.harness import build_app

app = build_app(
    os.environ["PERGOLA_BENCH_WSGI_DATABASE_URL"], Path(os.environ["PERGOLA_BENCH_WSGI_INSTANCE"])
)
