"""Settings from the environment, in one place.

``DATABASE_URL`` selects any PostgreSQL 13+ server with PostGIS 3. Without it locmap uses
the embedded default described in :mod:`locmap.pgserver`. ``LOCMAP_DATA_DIR`` (default
``./var``) holds the private cluster, the generated secret key and import uploads.
``DATABASE_OWNER_URL`` (with ``DATABASE_URL``) is the role that runs the migrations, so that
the app's own role needs no right to alter tables. ``LOCMAP_TRUSTED_PROXIES`` is how many
reverse proxies in front of the app may be believed about the client's address;
``LOCMAP_REQUIRE_WORKER=1`` makes ``/healthz`` fail while no background worker runs.
Login sessions end after ``LOCMAP_SESSION_IDLE_MINUTES`` (default 30) without a request
and ``LOCMAP_SESSION_ABSOLUTE_HOURS`` (default 8) after the login, whatever happens;
``LOCMAP_REQUIRE_TOTP_FOR_ADMINS`` (default on) makes admins and auditors enrol in
two-factor sign-in before they can reach anything (``locmap demo`` turns it off, with a
banner on every page).
``LOCMAP_ANALYSIS_SECONDS`` (default 30) bounds one analysis request (impact, displacement
watch, a place's indicators): past it the database stops it and the user is told so.
The web server's own settings (workers, threads, timeout) are options of ``locmap serve``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ConfigError", "Settings", "load_settings"]

_TRUE = {"1", "true", "yes", "on"}


class ConfigError(ValueError):
    """A setting in the environment has a value locmap cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    database_owner_url: str | None
    data_dir: Path
    secret_key: str
    tile_url: str | None
    tile_attribution: str
    cookie_secure: bool
    max_upload_bytes: int
    suppression_threshold: int
    trusted_proxies: int = 0
    require_worker: bool = False
    session_idle_minutes: int = 30
    session_absolute_hours: int = 8
    require_totp_for_admins: bool = True
    analysis_seconds: float = 30.0
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


def _count(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more), not {raw!r}")
    return int(raw)


def _positive(name: str, default: int) -> int:
    value = _count(name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, not {value}")
    return value


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 86_400:
        raise ConfigError(f"{name} must be a number of seconds above 0, not {raw!r}")
    return value


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("LOCMAP_DATA_DIR", "var")).resolve()
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        database_owner_url=os.environ.get("DATABASE_OWNER_URL") or None,
        data_dir=data_dir,
        secret_key=_secret_key(data_dir),
        tile_url=os.environ.get("LOCMAP_TILE_URL") or None,
        tile_attribution=os.environ.get("LOCMAP_TILE_ATTRIBUTION", ""),
        cookie_secure=os.environ.get("LOCMAP_COOKIE_SECURE", "1").lower() in _TRUE,
        max_upload_bytes=int(os.environ.get("LOCMAP_MAX_UPLOAD_MB", "50")) * 1024 * 1024,
        suppression_threshold=int(os.environ.get("LOCMAP_SUPPRESSION_THRESHOLD", "5")),
        trusted_proxies=_count("LOCMAP_TRUSTED_PROXIES", 0),
        require_worker=os.environ.get("LOCMAP_REQUIRE_WORKER", "0").lower() in _TRUE,
        session_idle_minutes=_positive("LOCMAP_SESSION_IDLE_MINUTES", 30),
        session_absolute_hours=_positive("LOCMAP_SESSION_ABSOLUTE_HOURS", 8),
        require_totp_for_admins=os.environ.get(
            "LOCMAP_REQUIRE_TOTP_FOR_ADMINS", "1").lower() in _TRUE,
        analysis_seconds=_seconds("LOCMAP_ANALYSIS_SECONDS", 30.0),
    )
