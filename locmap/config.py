"""Settings from the environment, in one place.

``DATABASE_URL`` selects any PostgreSQL 13+ server with PostGIS 3. Without it locmap uses
the embedded default described in :mod:`locmap.pgserver`. ``LOCMAP_DATA_DIR`` (default
``./var``) holds the private cluster, the generated secret key and import uploads.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings", "load_settings"]

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    secret_key: str
    tile_url: str | None
    tile_attribution: str
    cookie_secure: bool
    max_upload_bytes: int
    suppression_threshold: int
    extra: dict[str, object] = field(default_factory=dict)


def _secret_key(data_dir: Path) -> str:
    """Return SECRET_KEY, or a random key kept in the data folder so sessions survive restarts."""
    env = os.environ.get("SECRET_KEY")
    if env:
        return env
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("LOCMAP_DATA_DIR", "var")).resolve()
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        data_dir=data_dir,
        secret_key=_secret_key(data_dir),
        tile_url=os.environ.get("LOCMAP_TILE_URL") or None,
        tile_attribution=os.environ.get("LOCMAP_TILE_ATTRIBUTION", ""),
        cookie_secure=os.environ.get("LOCMAP_COOKIE_SECURE", "1").lower() in _TRUE,
        max_upload_bytes=int(os.environ.get("LOCMAP_MAX_UPLOAD_MB", "50")) * 1024 * 1024,
        suppression_threshold=int(os.environ.get("LOCMAP_SUPPRESSION_THRESHOLD", "5")),
    )
