"""Backup and restore of everything locmap holds, and the scheduled backups' retention.

A backup is one archive (see :mod:`locmap.io.backup_archive`): ``pg_dump`` of the locmap
database in custom format (a consistent snapshot, PostGIS data included), the secret key
from the data folder, and a manifest with the locmap version, the schema revision, the
time and the SHA-256 of each part. Uploads waiting for an import live in the database
(table ``upload``), and so do the photos of visits and incidents (table ``photo``), so the
dump carries them; nothing else is kept on disk (``files/`` in the archive stays unused).

A restore checks the archive completely (manifest, hashes, decryption) before it touches
the database, refuses a database that already holds tables unless ``force``, restores as
the tables' owner in one transaction (``pg_restore`` piped into ``psql --single-transaction``,
see :func:`locmap.io.backup_archive.restore_dump`), so a failure leaves the database as it
was (with ``force``, emptied); brings
the schema to head if the backup is older, grants the app's role its row access as
``locmap db upgrade`` does, and verifies the audit trail's hash chain if this locmap has one.

Scheduled backups (``locmap worker`` with ``LOCMAP_BACKUP_DIR`` set) write to that folder,
keep the newest backup of each of the last ``LOCMAP_BACKUP_KEEP_DAILY`` days that have one
and of each of the last ``LOCMAP_BACKUP_KEEP_WEEKLY`` ISO weeks, delete the rest, and
record the last good backup in ``last-good.json`` there, which ``/healthz`` reports.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

import locmap
from locmap import clock
from locmap.config import Settings
from locmap.db import alembic_config, connections, upgrade
from locmap.errors import LocmapError
from locmap.io import backup_archive as arc
from locmap.pgserver import PG_BIN, Connections

__all__ = ["BackupError", "BackupResult", "RestoreReport", "create_backup", "restore_backup",
           "inspect_archive", "keep", "prune", "last_good", "record_last_good",
           "scheduled_backup", "LAST_GOOD", "BACKUP_NAME"]

log = logging.getLogger(__name__)
LAST_GOOD = "last-good.json"
BACKUP_NAME = re.compile(r"^locmap-backup-(\d{8}T\d{6}Z)(?:-\d+)?\.tar(?:\.age)?$")


class BackupError(LocmapError):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: arc.Manifest
    encrypted: bool

    def summary(self) -> str:
        size = self.path.stat().st_size
        return (f"backup written: {self.path} ({size / 1e6:.1f} MB, schema "
                f"{self.manifest.schema_revision}, "
                f"{'encrypted' if self.encrypted else 'NOT encrypted'})")


@dataclass(frozen=True)
class RestoreReport:
    manifest: arc.Manifest
    upgraded_from: str | None
    revision: str
    audit_chain: str  # "verified" | "no verifier in this locmap"
    secret_key: str

    def summary(self) -> str:
        lines = [f"restored the backup of {self.manifest.created_at} "
                 f"(locmap {self.manifest.locmap_version})"]
        if self.upgraded_from and self.upgraded_from != self.revision:
            lines.append(f"schema upgraded from {self.upgraded_from} to {self.revision}")
        else:
            lines.append(f"schema at {self.revision}")
        lines.append(f"audit chain: {self.audit_chain}")
        lines.append(f"secret key: {self.secret_key}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- helpers

def _password(url: str) -> str | None:
    return make_url(url).password


def _libpq(url: str) -> str:
    """A libpq URI for pg_dump/pg_restore, without the password (given by PGPASSWORD)."""
    u = make_url(url).set(drivername="postgresql", password=None)
    return u.render_as_string(hide_password=False)


def _server(conn: Connection) -> dict[str, Any]:
    row = conn.execute(text("SELECT current_setting('server_version_num')::int, "
                            "current_setting('server_version'), current_database()")).one()
    return {"server_version_num": row[0], "server_version": row[1], "name": row[2]}


def _revision(conn: Connection) -> str | None:
    if conn.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None:
        return None
    revs = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return ",".join(sorted(revs)) or None


# The user's relations: not PostGIS' own (extension members), not the catalogs.
_USER_TABLES = """
    SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'topology', 'tiger')
      AND n.nspname NOT LIKE 'pg\\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid
                      AND d.classid = 'pg_class'::regclass AND d.deptype = 'e')
    ORDER BY 1
"""


_OWN_ROUTINES = """
    SELECT o.oid::regprocedure::text FROM pg_proc o JOIN pg_namespace n ON n.oid = o.pronamespace
    WHERE o.proowner = current_user::regrole AND n.nspname = 'public'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = o.oid AND d.deptype = 'e')
"""
_OWN_TYPES = """
    SELECT o.oid::regtype::text FROM pg_type o JOIN pg_namespace n ON n.oid = o.typnamespace
    WHERE o.typowner = current_user::regrole AND n.nspname = 'public'
      AND o.typtype IN ('e', 'c', 'd')
      AND (o.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = o.typrelid) = 'c')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = o.oid AND d.deptype = 'e')
"""


def _clear(conn: Connection) -> None:
    """Drop every non-PostGIS object the connected role owns in the public schema (restore
    --force): tables (with their sequences, triggers, views), then functions and types.
    """
    kinds = {"r": "TABLE", "p": "TABLE", "f": "FOREIGN TABLE", "v": "VIEW",
             "m": "MATERIALIZED VIEW"}
    for name in conn.execute(text(_USER_TABLES)).scalars().all():
        kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:n)"),
                            {"n": name}).scalar()
        if kind is not None:  # a view may have gone with its table already
            conn.execute(text(f"DROP {kinds[kind]} IF EXISTS {name} CASCADE"))
    for sig in conn.execute(text(_OWN_ROUTINES)).scalars().all():
        conn.execute(text(f"DROP ROUTINE IF EXISTS {sig} CASCADE"))
    for typ in conn.execute(text(_OWN_TYPES)).scalars().all():
        conn.execute(text(f"DROP TYPE IF EXISTS {typ} CASCADE"))


def _stamp() -> str:
    return clock.now().astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _target(folder: Path, encrypted: bool) -> Path:
    ext = ".tar.age" if encrypted else ".tar"
    base = f"locmap-backup-{_stamp()}"
    path, n = folder / f"{base}{ext}", 1
    while path.exists():
        path, n = folder / f"{base}-{n}{ext}", n + 1
    return path


def _secret_key_file(settings: Settings) -> Path | None:
    """The data folder's key file, unless SECRET_KEY comes from the environment."""
    if os.environ.get("SECRET_KEY"):
        return None
    path = settings.data_dir / "secret_key"
    return path if path.is_file() else None


# ------------------------------------------------------------------------------ backup

def create_backup(settings: Settings, to_dir: Path, *, recipients: Iterable[str] = (),
                  passphrase: str | None = None, conns: Connections | None = None
                  ) -> BackupResult:
    """Write a backup archive of the locmap database and data folder into ``to_dir``."""
    conns = conns or connections(settings, create=False)
    keys = arc.parse_recipients(recipients)
    to_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = create_engine(conns.owner)
    try:
        with engine.connect() as conn:
            server, revision = _server(conn), _revision(conn)
    finally:
        engine.dispose()
    if revision is None:
        raise BackupError("the database has no locmap schema yet: nothing to back up")
    major = server["server_version_num"] // 10000
    pg_dump = arc.pg_tool("pg_dump", major, [PG_BIN])
    key_file = _secret_key_file(settings)
    manifest = arc.Manifest(
        locmap_version=locmap.__version__, schema_revision=revision,
        created_at=clock.now().astimezone(dt.UTC).isoformat(timespec="seconds"),
        database={**server, "dump": "pg_dump custom format", "pg_dump": str(pg_dump)},
        secret_key="included" if key_file else "environment")
    with tempfile.TemporaryDirectory(prefix=".locmap-backup-", dir=to_dir) as tmp:
        dump = Path(tmp) / arc.DUMP
        arc.run_pg_tool([str(pg_dump), "--format=custom", "--file", str(dump),
                         "--dbname", _libpq(conns.owner)], _password(conns.owner))
        parts = {arc.DUMP: dump}
        if key_file:
            parts[arc.SECRET_KEY] = key_file
        target = _target(to_dir, bool(keys or passphrase))
        arc.write_archive(target, manifest, parts, recipients=keys, passphrase=passphrase)
    return BackupResult(target, manifest, bool(keys or passphrase))


# ----------------------------------------------------------------------------- restore

def inspect_archive(archive: Path, staging: Path, *, identity: Path | None = None,
                    passphrase: str | None = None) -> arc.Manifest:
    """Decrypt, extract and check ``archive`` into ``staging``; refuse a schema revision
    this locmap does not know (a backup made by a newer locmap).
    """
    identities = arc.load_identities(identity) if identity else None
    manifest = arc.read_archive(archive, staging, identities=identities,
                                passphrase=passphrase)
    script = ScriptDirectory.from_config(alembic_config("postgresql://"))
    for rev in (manifest.schema_revision or "").split(","):
        if rev and not _known(script, rev):
            raise BackupError(f"the backup's schema revision {rev!r} is unknown to this locmap "
                              f"{locmap.__version__} (made by locmap "
                              f"{manifest.locmap_version}): install that version or newer "
                              "to restore it")
    return manifest


def _known(script: ScriptDirectory, rev: str) -> bool:
    try:
        return script.get_revision(rev) is not None
    except Exception:  # alembic raises its own errors for unknown or malformed ids
        return False


def restore_backup(settings: Settings, archive: Path, *, identity: Path | None = None,
                   passphrase: str | None = None, force: bool = False,
                   conns: Connections | None = None) -> RestoreReport:
    """Restore ``archive`` into the configured database (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="locmap-restore-") as tmp:
        staging = Path(tmp)
        manifest = inspect_archive(archive, staging, identity=identity, passphrase=passphrase)
        conns = conns or connections(settings)  # the roles, database and PostGIS exist
        engine = create_engine(conns.owner)
        try:
            with engine.begin() as conn:
                server = _server(conn)
                tables = conn.execute(text(_USER_TABLES)).scalars().all()
                if tables and not force:
                    raise BackupError(
                        f"the database {server['name']!r} is not empty ({len(tables)} tables); "
                        "restore into an empty database, or add --force to replace "
                        "everything in it")
        finally:
            engine.dispose()
        major = server["server_version_num"] // 10000
        pg_restore = arc.pg_tool("pg_restore", max(major, _dump_major(manifest)), [PG_BIN])
        dump = arc.part_path(staging, arc.DUMP)
        listing = staging / "restore.list"
        arc.restore_list(pg_restore, dump, listing)
        if tables:
            engine = create_engine(conns.owner)
            try:
                with engine.begin() as conn:
                    _clear(conn)
            finally:
                engine.dispose()
        psql = arc.pg_tool("psql", max(major, _dump_major(manifest)), [PG_BIN])
        arc.restore_dump(pg_restore, psql, dump, listing, _libpq(conns.owner),
                         _password(conns.owner))
        secret = _restore_secret_key(settings, staging, manifest)
    upgrade(conns.owner, app_role=conns.app_role)
    head = ",".join(sorted(ScriptDirectory.from_config(
        alembic_config("postgresql://")).get_heads()))
    return RestoreReport(manifest, manifest.schema_revision, head,
                         _verify_audit_chain(conns.app), secret)


def _dump_major(manifest: arc.Manifest) -> int:
    try:
        return int(manifest.database.get("server_version_num", 0)) // 10000
    except (TypeError, ValueError):
        return 0


def _restore_secret_key(settings: Settings, staging: Path, manifest: arc.Manifest) -> str:
    if manifest.secret_key != "included":
        return "not in the backup (it came from SECRET_KEY); set the same SECRET_KEY"
    if os.environ.get("SECRET_KEY"):
        return "SECRET_KEY is set in the environment; the backup's key was not written"
    src = arc.part_path(staging, arc.SECRET_KEY)
    dest = settings.data_dir / "secret_key"
    new = src.read_text().strip()
    if dest.is_file() and dest.read_text().strip() == new:
        return "unchanged"
    if dest.is_file():
        dest.replace(dest.with_name(f"secret_key.before-restore-{_stamp()}"))
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(new)
    return f"restored to {dest} (restart locmap serve and worker)"


def _verify_audit_chain(app_url: str) -> str:
    """Call ``locmap.services.audit.verify_chain(session)`` if this locmap has it."""
    from locmap.db import Database
    from locmap.services import audit

    verify = getattr(audit, "verify_chain", None)
    if verify is None:
        return "no verifier in this locmap (not checked)"
    db = Database(app_url)
    try:
        with db.session() as s:
            result = verify(s)
    except LocmapError as exc:
        raise BackupError(f"the data were restored but the audit chain does not verify: "
                          f"{exc}") from None
    finally:
        db.dispose()
    if result is False or getattr(result, "ok", True) is False:
        raise BackupError(f"the data were restored but the audit chain does not verify: "
                          f"{result}")
    return "verified"


# --------------------------------------------------------------- schedule and retention

def _taken_at(name: str) -> dt.datetime | None:
    m = BACKUP_NAME.match(name)
    if not m:
        return None
    return dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def keep(names: Iterable[str], daily: int, weekly: int) -> set[str]:
    """The backups to keep: the newest of each of the last ``daily`` days that have one,
    the newest of each of the last ``weekly`` ISO weeks that have one, and always the
    newest of all. Names that are not locmap backups are not considered (nor deleted).

    >>> sorted(keep(["locmap-backup-20261201T020000Z.tar", "locmap-backup-20261201T030000Z.tar",
    ...              "locmap-backup-20261202T020000Z.tar"], daily=1, weekly=0))
    ['locmap-backup-20261202T020000Z.tar']
    """
    dated = sorted(((t, n) for n in names if (t := _taken_at(n))), reverse=True)
    kept: set[str] = set()
    if dated:
        kept.add(dated[0][1])
    for period, limit in ((lambda t: t.date(), daily),
                          (lambda t: tuple(t.isocalendar())[:2], weekly)):
        seen: list[object] = []
        for t, n in dated:
            p = period(t)
            if p in seen:
                continue
            if len(seen) >= limit:
                break
            seen.append(p)
            kept.add(n)
    return kept


def prune(folder: Path, daily: int, weekly: int) -> list[str]:
    """Delete the backups in ``folder`` that :func:`keep` does not keep; return their names."""
    names = [p.name for p in folder.iterdir() if _taken_at(p.name)]
    kept = keep(names, daily, weekly)
    gone = sorted(set(names) - kept)
    for name in gone:
        (folder / name).unlink(missing_ok=True)
    return gone


def record_last_good(folder: Path, result: BackupResult) -> None:
    data = {"path": result.path.name, "created_at": result.manifest.created_at,
            "schema_revision": result.manifest.schema_revision,
            "size": result.path.stat().st_size, "encrypted": result.encrypted}
    tmp = folder / f".{LAST_GOOD}.tmp"
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(folder / LAST_GOOD)


def last_good(folder: Path) -> dict[str, Any] | None:
    """The last good backup recorded in ``folder``, with its age in hours, or None."""
    try:
        data = json.loads((folder / LAST_GOOD).read_text())
        taken = dt.datetime.fromisoformat(data["created_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    data["age_hours"] = round((clock.now() - taken).total_seconds() / 3600, 2)
    return dict(data)


def scheduled_backup(settings: Settings) -> BackupResult | None:
    """The worker's periodic backup: write, prune, record. None when not configured."""
    folder = settings.backup_dir
    if folder is None:
        return None
    result = create_backup(settings, folder, recipients=settings.backup_recipients)
    gone = prune(folder, settings.backup_keep_daily, settings.backup_keep_weekly)
    record_last_good(folder, result)
    log.info("%s; pruned %d old backup(s)", result.summary(), len(gone))
    return result
