"""Configuration from environment variables, with an embedded default that needs no server."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def normalise_database_url(url: str) -> str:
    """Pin plain PostgreSQL URLs to psycopg2: SQLAlchemy 2.1 would pick psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _instance_path() -> Path:
    return Path(os.environ.get("PERGOLA_INSTANCE_PATH", PROJECT_ROOT / "instance")).resolve()


def _secret_key(instance: Path) -> str:
    """Read the secret key from the environment, or generate it once into instance/."""
    key = os.environ.get("PERGOLA_SECRET_KEY")
    if key:
        return key
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not end up with different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


@dataclass
class Settings:
    """The settings an app is built with; `from_env` reads the PERGOLA_* variables."""

    database_url: str
    redis_url: str | None
    secret_key: str
    instance_path: Path
    testing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: jobs run in-process."""
        return not self.redis_url

    @classmethod
    def from_env(cls, overrides: dict[str, Any] | None = None) -> Settings:
        """Build settings from the environment, then apply `overrides` (keys as attributes)."""
        overrides = dict(overrides or {})
        instance = Path(overrides.pop("instance_path", None) or _instance_path())
        url = overrides.pop("database_url", None) or os.environ.get("PERGOLA_DATABASE_URL")
        if not url:
            instance.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{instance / 'pergola.db'}"
        redis_url = overrides.pop("redis_url", os.environ.get("PERGOLA_REDIS_URL") or None)
        secret = overrides.pop("secret_key", None) or _secret_key(instance)
        testing = bool(overrides.pop("testing", False))
        return cls(
            database_url=normalise_database_url(url),
            redis_url=redis_url,
            secret_key=secret,
            instance_path=instance,
            testing=testing,
            extra=overrides,
        )
