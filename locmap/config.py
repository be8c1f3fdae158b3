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

``LOCMAP_BACKUP_DIR`` turns on the worker's daily backups into that folder, keeping
``LOCMAP_BACKUP_KEEP_DAILY`` (7) daily and ``LOCMAP_BACKUP_KEEP_WEEKLY`` (4) weekly ones,
encrypted to the age public keys in ``LOCMAP_BACKUP_RECIPIENTS`` if set.

The data folder holds the private cluster and the secret key: it must not be readable or
writable by other users (mode 0700; 0711 when root runs the cluster as ``postgres``), nor
its ``pg`` folder (0700). :func:`check_private` refuses to start otherwise and names the
``chmod`` that fixes it; it runs whenever locmap keeps something there (the key when no
``SECRET_KEY`` is set, the private cluster when no ``DATABASE_URL`` is).
The web server's own settings (workers, threads, timeout) are options of ``locmap serve``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ConfigError", "Settings", "load_settings", "check_private"]

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
    basemap_build_hours: int = 6
    backup_dir: Path | None = None
    backup_keep_daily: int = 7
    backup_keep_weekly: int = 4
    backup_recipients: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


def check_private(path: Path, what: str, *, traverse_ok: bool = True) -> None:
    """Refuse ``path`` if other users may read or write it (or, without ``traverse_ok``,
    even enter it); the message names the fix. A missing folder is fine (locmap makes it
    owner-only).
    """
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    loose = mode & (0o066 if traverse_ok else 0o077)
    if loose:
        raise ConfigError(
            f"{what} {path} is open to other users (mode {mode:04o}); it holds the database "
            f"and the secret key. Fix: chmod 700 {path}")


def _secret_key(data_dir: Path) -> str:
    """Return SECRET_KEY, or a random key kept in the data folder so sessions survive restarts."""
    env = os.environ.get("SECRET_KEY")
    if env:
        return env
    check_private(data_dir, "LOCMAP_DATA_DIR")
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
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
    backup_dir = os.environ.get("LOCMAP_BACKUP_DIR") or None
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
        basemap_build_hours=_positive("LOCMAP_BASEMAP_BUILD_HOURS", 6),
        backup_dir=Path(backup_dir).resolve() if backup_dir else None,
        backup_keep_daily=_count("LOCMAP_BACKUP_KEEP_DAILY", 7),
        backup_keep_weekly=_count("LOCMAP_BACKUP_KEEP_WEEKLY", 4),
        backup_recipients=tuple(
            k for k in os.environ.get("LOCMAP_BACKUP_RECIPIENTS", "").replace(",", " ").split()),
    )
