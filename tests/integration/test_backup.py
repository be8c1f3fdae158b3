"""``locmap backup`` / ``locmap restore`` on the demo town: everything comes back, row for
row; a damaged or altered archive is refused before anything is touched; a backup made at
an older schema revision is restored and upgraded; encrypted archives need their key.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from pyrage import x25519
from sqlalchemy import create_engine, text

from locmap.cli import main
from locmap.db import Database, alembic_config, downgrade, upgrade
from locmap.pgserver import APP_ROLE, OWNER_ROLE, drop_database, ensure_database, role_url
from locmap.services.backup import inspect_archive
from tests.conftest import _fresh_database

# Every user table: its row count and an md5 of all its rows in a fixed order.
_FINGERPRINT = """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' AND c.relname <> 'spatial_ref_sys'
    ORDER BY 1
"""


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            out = {}
            for table in conn.execute(text(_FINGERPRINT)).scalars():
                out[table] = tuple(conn.execute(text(
                    f'SELECT count(*), md5(coalesce(string_agg(t::text, E\'\\n\' '
                    f'ORDER BY t::text), \'\')) FROM "{table}" t')).one())
            return out
    finally:
        eng.dispose()


def head() -> str:
    return ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head() or ""


def revision(url: str) -> str:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar())
    finally:
        eng.dispose()


@pytest.fixture(scope="module")
def demo(demo_database: dict[str, str]) -> dict[str, str]:
    return demo_database


@pytest.fixture
def empty() -> Iterator[dict[str, str]]:
    """A new empty database with PostGIS, as an operator would make for a restore."""
    admin = _fresh_database("rs", owner=OWNER_ROLE)
    yield {"admin": admin, "owner": role_url(admin, OWNER_ROLE), "app": role_url(admin, APP_ROLE)}
    drop_database(admin)


def run(target: dict[str, str], data_dir: Path, *args: str) -> Result:
    env = {"DATABASE_URL": target["app"], "DATABASE_OWNER_URL": target["owner"],
           "LOCMAP_DATA_DIR": str(data_dir), "SECRET_KEY": None, "LOCMAP_BACKUP_DIR": None}
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture(scope="module")
def archive(demo: dict[str, str], tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, dict[str, tuple[int, str]], str]:
    """One plain backup of the demo, its fingerprint, and the data folder's secret key."""
    data, out = tmp_path_factory.mktemp("bk-data"), tmp_path_factory.mktemp("bk-out")
    r = run(demo, data, "backup", "--to", str(out), "--no-encrypt")
    assert r.exit_code == 0, r.output
    (path,) = out.glob("locmap-backup-*.tar")
    assert path.stat().st_mode & 0o077 == 0  # only its owner may read it
    return path, fingerprint(demo["admin"]), (data / "secret_key").read_text()


def test_backup_drop_restore_gives_back_every_row(
        demo: dict[str, str], archive: tuple[Path, dict[str, tuple[int, str]], str],
        tmp_path: Path) -> None:
    path, before, key = archive
    assert before["incident"][0] > 100 and before["audit_event"][0] > 0
    with tarfile.open(path) as tar:
        assert tar.getnames()[:3] == ["manifest.json", "database.dump", "secret_key"]
    drop_database(demo["admin"])
    ensure_database(demo["admin"], owner=OWNER_ROLE)  # empty again, PostGIS enabled
    data = tmp_path / "new-machine"
    r = run(demo, data, "restore", str(path))
    assert r.exit_code == 0, r.output
    assert f"schema at {head()}" in r.output
    assert fingerprint(demo["admin"]) == before
    assert (data / "secret_key").read_text() == key
    # The app's role can use the restored tables (grants as after `locmap db upgrade`)
    # but still may not rewrite the audit trail.
    eng = create_engine(demo["app"])
    try:
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM incident")).scalar() == \
                before["incident"][0]
            with pytest.raises(Exception, match="permission denied"):
                conn.execute(text("DELETE FROM audit_event"))
    finally:
        eng.dispose()


def test_a_non_empty_database_is_refused_unless_forced(
        demo: dict[str, str], archive: tuple[Path, dict[str, tuple[int, str]], str],
        tmp_path: Path) -> None:
    path, before, _ = archive
    r = run(demo, tmp_path, "restore", str(path))
    assert r.exit_code == 1 and "is not empty" in r.output and "--force" in r.output
    r = run(demo, tmp_path, "restore", str(path), "--force", "--yes")
    assert r.exit_code == 0, r.output
    assert fingerprint(demo["admin"]) == before


def _tamper(src: Path, dest: Path, member: str) -> None:
    raw = bytearray(src.read_bytes())
    with tarfile.open(src) as tar:
        offset = tar.getmember(member).offset_data
    raw[offset + 200] ^= 0x01
    dest.write_bytes(bytes(raw))


def test_a_tampered_archive_is_refused_before_anything_is_touched(
        demo: dict[str, str], archive: tuple[Path, dict[str, tuple[int, str]], str],
        tmp_path: Path) -> None:
    path, _, _ = archive
    before = fingerprint(demo["admin"])
    bad = tmp_path / path.name
    _tamper(path, bad, "database.dump")
    r = run(demo, tmp_path, "restore", str(bad), "--force", "--yes")
    assert r.exit_code == 1
    assert "database.dump does not match its SHA-256 in the manifest" in r.output
    assert "nothing was restored" in r.output
    assert fingerprint(demo["admin"]) == before  # even with --force: untouched
    (tmp_path / "junk.tar").write_bytes(b"not a tar file" * 100)
    r = run(demo, tmp_path, "restore", str(tmp_path / "junk.tar"), "--force", "--yes")
    assert r.exit_code == 1 and "damaged or not a tar file" in r.output
    # A backup from a newer locmap (a revision this one does not know) is refused too.
    newer = tmp_path / "newer.tar"
    with tarfile.open(path) as src, tarfile.open(newer, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["schema_revision"] = "9999"
                data = json.dumps(manifest).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    r = run(demo, tmp_path, "restore", str(newer), "--force", "--yes")
    assert r.exit_code == 1 and "revision '9999' is unknown to this locmap" in r.output
    assert fingerprint(demo["admin"]) == before  # even with --force: untouched


def test_a_backup_from_an_older_revision_is_restored_and_upgraded(
        demo: dict[str, str], empty: dict[str, str], tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(alembic_config("postgresql://"))
    previous = script.get_revision(head()).down_revision
    assert isinstance(previous, str)
    # The demo taken back one revision and backed up there (then brought back to head:
    # test_migrations_data proves that round trip keeps the data) ...
    downgrade(demo["owner"], previous)
    try:
        out = tmp_path / "old"
        r = run(demo, tmp_path, "backup", "--to", str(out), "--no-encrypt")
        assert r.exit_code == 0 and f"schema {previous}" in r.output, r.output
        at_previous = fingerprint(demo["admin"])
    finally:
        upgrade(demo["owner"], app_role=APP_ROLE)
    (old,) = out.glob("*.tar")
    # ... is restored by this locmap into an empty database and upgraded to head.
    r = run(empty, tmp_path, "restore", str(old))
    assert r.exit_code == 0, r.output
    assert f"schema upgraded from {previous} to {head()}" in r.output
    assert revision(empty["admin"]) == head()
    after = fingerprint(empty["admin"])
    assert set(after) == set(fingerprint(demo["admin"]))
    for table in ("incident", "place", "assessment", "person", "audit_event", "pilot"):
        assert after[table][0] == at_previous[table][0] > 0, table


def test_encrypted_archives_need_their_key(
        demo: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused without the key or with another; opened, every part checked, with it (the
    restore after that is the one test_backup_drop_restore_gives_back_every_row covers).
    """
    before = fingerprint(demo["admin"])
    identity = x25519.Identity.generate()
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"# created for the test\n{identity}\n")
    stranger = tmp_path / "other.txt"
    stranger.write_text(f"{x25519.Identity.generate()}\n")
    out = tmp_path / "enc"
    r = run(demo, tmp_path, "backup", "--to", str(out), "--recipient",
            str(identity.to_public()))
    assert r.exit_code == 0 and "encrypted" in r.output, r.output
    (path,) = out.glob("*.tar.age")
    assert b"database.dump" not in path.read_bytes()
    r = run(demo, tmp_path, "restore", str(path), "--force", "--yes")
    assert r.exit_code == 1 and "is encrypted" in r.output
    r = run(demo, tmp_path, "restore", str(path), "--identity", str(stranger), "--force",
            "--yes")
    assert r.exit_code == 1 and "cannot be decrypted with this key" in r.output
    (tmp_path / "k").mkdir()
    manifest = inspect_archive(path, tmp_path / "k", identity=key_file)
    assert manifest.schema_revision == head()
    assert (tmp_path / "k" / "parts" / "database.dump").stat().st_size == \
        manifest.parts["database.dump"]["size"]
    # With a passphrase instead (scrypt, about a CPU second per use, so only twice here).
    monkeypatch.setenv("LOCMAP_BACKUP_PASSPHRASE", "correct horse battery staple")
    out = tmp_path / "pp"
    r = run(demo, tmp_path, "backup", "--to", str(out), "--passphrase")
    assert r.exit_code == 0, r.output
    (path,) = out.glob("*.tar.age")
    (tmp_path / "staging").mkdir()
    manifest = inspect_archive(path, tmp_path / "staging",
                               passphrase="correct horse battery staple")
    assert manifest.schema_revision == head() and set(manifest.parts) == {
        "database.dump", "secret_key"}
    assert fingerprint(demo["admin"]) == before


def test_retention_keeps_daily_and_weekly(tmp_path: Path) -> None:
    from locmap.services.backup import keep, prune

    start = dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC)
    names = []
    for day in range(60):  # two backups a day for 60 days
        for hour in (2, 14):
            t = start + dt.timedelta(days=day, hours=hour - 2)
            names.append(f"locmap-backup-{t:%Y%m%dT%H%M%SZ}.tar")
    kept = keep(names, daily=7, weekly=4)
    newest = max(names)
    assert newest in kept
    days = {n[14:22] for n in kept}
    assert len([n for n in kept if n[23:25] == "14"]) >= 7  # newest of each day is the 14:00
    assert len(kept) <= 7 + 4 and len(days) == len(kept)
    for name in names:
        (tmp_path / name).touch()
    (tmp_path / "notes.txt").touch()
    gone = prune(tmp_path, 7, 4)
    assert len(gone) == len(names) - len(kept)
    assert (tmp_path / "notes.txt").exists() and sorted(
        p.name for p in tmp_path.glob("locmap-backup-*")) == sorted(kept)
    assert keep(names, daily=0, weekly=0) == {newest}


def test_data_folder_open_to_others_is_refused(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from locmap.config import ConfigError, load_settings

    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    monkeypatch.setenv("LOCMAP_DATA_DIR", str(data))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match=f"chmod 700 {data}"):
        load_settings()
    data.chmod(0o700)
    assert load_settings().secret_key
    assert os.stat(data / "secret_key").st_mode & 0o077 == 0
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("LOCMAP_DATA_DIR", str(fresh))
    load_settings()
    assert fresh.stat().st_mode & 0o077 == 0  # made owner-only
    # The private cluster's folder: refused before anything starts.
    from locmap import pgserver

    (data / "pg").mkdir(mode=0o755)
    (data / "pg").chmod(0o755)
    monkeypatch.setenv("LOCMAP_EMBEDDED", "1")
    with pytest.raises(ConfigError, match=f"chmod 700 {data / 'pg'}"):
        pgserver.resolve_url(None, data)


def test_the_worker_backs_up_on_schedule_and_healthz_reports_the_age(
        demo: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from locmap import clock
    from locmap.jobs import backup_task, make_app
    from locmap.web import create_app

    folder = tmp_path / "backups"
    for name, value in {"DATABASE_URL": demo["app"], "LOCMAP_DATA_DIR": str(tmp_path / "d"),
                        "LOCMAP_BACKUP_DIR": str(folder), "LOCMAP_BACKUP_KEEP_DAILY": "1",
                        "LOCMAP_BACKUP_KEEP_WEEKLY": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_OWNER_URL", raising=False)  # the worker: app role only
    app = make_app(demo["app"])
    assert "locmap:backup" in app.tasks
    monkeypatch.delenv("LOCMAP_BACKUP_DIR")
    assert "locmap:backup" not in make_app(demo["app"]).tasks  # off unless the folder is set
    monkeypatch.setenv("LOCMAP_BACKUP_DIR", str(folder))
    web = create_app({"DATABASE": Database(demo["app"]), "TESTING": True})
    assert web.test_client().get("/healthz").get_json()["backup"]["state"] == "none"
    folder.mkdir(mode=0o700)
    (folder / "locmap-backup-20200101T000000Z.tar").write_bytes(b"old")  # pruned: keep 1 daily
    assert "backup written" in backup_task(0)
    last = json.loads((folder / "last-good.json").read_text())
    assert [p.name for p in folder.glob("locmap-backup-*")] == [last["path"]]
    body = web.test_client().get("/healthz").get_json()
    assert body["status"] == "ok" and body["backup"]["state"] == "ok"
    assert 0 <= body["backup"]["age_hours"] < 1
    with clock.frozen(clock.now() + dt.timedelta(days=3)):
        body = web.test_client().get("/healthz").get_json()
    assert body["status"] == "ok"  # reported, not a reason to take the site down
    assert body["backup"]["state"] == "stale" and body["backup"]["age_hours"] > 70
