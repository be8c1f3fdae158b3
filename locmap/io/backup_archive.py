"""The backup archive: one tar file with a manifest, optionally encrypted with age.

Layout (members in this order)::

    manifest.json    format, locmap version, schema revision, time, SHA-256 and size of each part
    database.dump    pg_dump custom format of the locmap database (PostGIS data included)
    secret_key       the key from the data folder (absent when SECRET_KEY came from the environment)
    files/...        files kept on disk under the data folder (none yet; photos will be)

The parts are written to a staging folder first, hashed, then streamed into the tar (and
through age when encrypted) and renamed into place only when complete, so a half-written
archive never carries a final name. Reading extracts into a staging folder and checks the
manifest and every hash before anything else happens; a member that is not a plain file
with a known name is refused.

Encryption is age's format (https://age-encryption.org/v1) through ``pyrage``: to one or
more public keys (``age1...``; streamed, so any size, and the machine that makes the backup
holds no secret) or with a passphrase (scrypt; held in memory, so meant for small
databases and manual backups). Debian's ``age`` decrypts either without locmap.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyrage
from pyrage import x25519

from locmap.errors import LocmapError

__all__ = [
    "ArchiveError", "FORMAT", "MANIFEST", "DUMP", "SECRET_KEY", "Manifest", "sha256_file",
    "write_archive", "read_archive", "is_encrypted", "pg_tool", "run_pg_tool",
    "restore_list", "restore_dump", "parse_recipients", "load_identities", "part_path",
]

FORMAT = "locmap-backup/1"
MANIFEST, DUMP, SECRET_KEY, FILES = "manifest.json", "database.dump", "secret_key", "files/"
_AGE_MAGIC = b"age-encryption.org/v1"
_CHUNK = 1 << 20


class ArchiveError(LocmapError):
    """The archive cannot be used; the message says why (and nothing was restored)."""


@dataclass
class Manifest:
    locmap_version: str
    schema_revision: str | None
    created_at: str
    database: dict[str, Any]
    secret_key: str  # "included" | "environment"
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: str = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
        except ValueError:
            raise ArchiveError("the archive's manifest.json is not valid JSON") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ArchiveError(f"not a locmap backup (manifest format {data.get('format')!r}, "
                               f"expected {FORMAT!r})" if isinstance(data, dict)
                               else "not a locmap backup")
        try:
            return cls(**{k: data[k] for k in ("locmap_version", "schema_revision",
                                               "created_at", "database", "secret_key",
                                               "parts", "format")})
        except KeyError as exc:
            raise ArchiveError(f"the manifest lacks {exc.args[0]!r}") from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- encryption

def parse_recipients(keys: Iterable[str]) -> list[x25519.Recipient]:
    out = []
    for key in keys:
        for part in re.split(r"[\s,]+", key.strip()):
            if not part:
                continue
            try:
                out.append(x25519.Recipient.from_str(part))
            except pyrage.RecipientError:
                raise ArchiveError(f"{part[:12]}... is not an age public key (age1...)") from None
    return out


def load_identities(path: Path) -> list[x25519.Identity]:
    """The ``AGE-SECRET-KEY-...`` lines of an age identity file (``age-keygen`` writes one)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ArchiveError(f"cannot read the identity file {path}: {exc.strerror}") from None
    keys = [line.strip() for line in lines if line.strip().startswith("AGE-SECRET-KEY-")]
    if not keys:
        raise ArchiveError(f"{path} holds no age secret key (AGE-SECRET-KEY-...)")
    try:
        return [x25519.Identity.from_str(k) for k in keys]
    except pyrage.IdentityError:
        raise ArchiveError(f"{path} holds a malformed age secret key") from None


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(_AGE_MAGIC)) == _AGE_MAGIC


# ------------------------------------------------------------------------------- writing

def write_archive(target: Path, manifest: Manifest, parts: dict[str, Path], *,
                  recipients: list[x25519.Recipient] | None = None,
                  passphrase: str | None = None) -> None:
    """Hash ``parts`` (archive name -> file) into ``manifest`` and write the archive to
    ``target`` (mode 0600), atomically.
    """
    for name, path in parts.items():
        manifest.parts[name] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    partial = target.with_name(target.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            if recipients:
                plain = partial.with_name(partial.name + ".tar")
                try:
                    with _private_file(plain) as f:
                        _write_tar(f, manifest, parts)
                    with plain.open("rb") as f:
                        pyrage.encrypt_io(f, out, recipients)
                finally:
                    plain.unlink(missing_ok=True)
            elif passphrase:
                buf = io.BytesIO()
                _write_tar(buf, manifest, parts)
                out.write(pyrage.passphrase.encrypt(buf.getvalue(), passphrase))
            else:
                _write_tar(out, manifest, parts)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@contextmanager
def _private_file(path: Path) -> Iterator[IO[bytes]]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        yield f


def _write_tar(out: IO[bytes], manifest: Manifest, parts: dict[str, Path]) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        raw = manifest.to_json()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode = len(raw), 0o600
        tar.addfile(info, io.BytesIO(raw))
        for name, path in parts.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = path.stat().st_size, 0o600
            with path.open("rb") as f:
                tar.addfile(info, f)


# ------------------------------------------------------------------------------- reading

_KNOWN = re.compile(r"^(manifest\.json|database\.dump|secret_key|files/[A-Za-z0-9._/-]+)$")


def read_archive(archive: Path, staging: Path, *,
                 identities: list[x25519.Identity] | None = None,
                 passphrase: str | None = None) -> Manifest:
    """Extract ``archive`` into ``staging`` and check it completely: the manifest, every
    part's size and SHA-256, nothing missing, nothing extra. Returns the manifest; raises
    :class:`ArchiveError` with the reason otherwise.
    """
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such file")
    if is_encrypted(archive):
        plain = staging / "archive.tar"
        if identities:
            try:
                with archive.open("rb") as src, _private_file(plain) as dst:
                    pyrage.decrypt_io(src, dst, identities)
            except pyrage.DecryptError:
                raise ArchiveError(f"{archive} cannot be decrypted with this key: the key is "
                                   "not one it was made for, or the archive was altered") from None
        elif passphrase:
            try:
                data = pyrage.passphrase.decrypt(archive.read_bytes(), passphrase)
            except pyrage.DecryptError:
                raise ArchiveError(f"{archive} cannot be decrypted with this passphrase: it is "
                                   "wrong, or the archive was altered") from None
            with _private_file(plain) as dst:
                dst.write(data)
            del data
        else:
            raise ArchiveError(f"{archive} is encrypted: give --identity FILE (age key) or "
                               "--passphrase")
        try:
            return _extract(plain, staging)
        finally:
            plain.unlink(missing_ok=True)
    return _extract(archive, staging)


def _extract(tar_path: Path, staging: Path) -> Manifest:
    seen: dict[str, Path] = {}
    raw_manifest: bytes | None = None
    try:
        with tarfile.open(tar_path, mode="r|") as tar:
            for member in tar:
                if not member.isfile() or not _KNOWN.match(member.name) or ".." in member.name:
                    raise ArchiveError(f"the archive holds an unexpected member {member.name!r}")
                if member.name in seen or (member.name == MANIFEST and raw_manifest is not None):
                    raise ArchiveError(f"the archive holds {member.name!r} twice")
                src = tar.extractfile(member)
                assert src is not None
                if member.name == MANIFEST:
                    raw_manifest = src.read(1 << 20)
                    continue
                dest = staging / "parts" / member.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                with _private_file(dest) as f:
                    shutil.copyfileobj(src, f, _CHUNK)
                seen[member.name] = dest
    except tarfile.TarError as exc:
        raise ArchiveError(f"the archive is damaged or not a tar file ({exc})") from None
    if raw_manifest is None:
        raise ArchiveError("the archive has no manifest.json: not a locmap backup")
    manifest = Manifest.from_json(raw_manifest)
    for name, expected in manifest.parts.items():
        path = seen.pop(name, None)
        if path is None:
            raise ArchiveError(f"{name} is listed in the manifest but missing from the archive")
        if path.stat().st_size != expected.get("size") or sha256_file(path) != expected.get(
                "sha256"):
            raise ArchiveError(f"{name} does not match its SHA-256 in the manifest: the archive "
                               "is damaged or was altered; nothing was restored")
    if seen:
        raise ArchiveError(f"the archive holds parts the manifest does not list: "
                           f"{', '.join(sorted(seen))}")
    if DUMP not in manifest.parts:
        raise ArchiveError("the archive has no database.dump")
    return manifest


def part_path(staging: Path, name: str) -> Path:
    return staging / "parts" / name


# -------------------------------------------------------------------- pg_dump / pg_restore

def pg_tool(name: str, server_major: int, extra_dirs: Iterable[Path] = ()) -> Path:
    """``pg_dump`` or ``pg_restore`` of at least the server's major version: Debian's
    /usr/lib/postgresql/<major>/bin first, then ``extra_dirs`` (LOCMAP_PG_BIN), then PATH.
    """
    candidates = [Path(f"/usr/lib/postgresql/{server_major}/bin") / name,
                  *(Path(d) / name for d in extra_dirs)]
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            out = subprocess.run([str(path), "--version"], capture_output=True, text=True,
                                 check=False).stdout
            m = re.search(r"(\d+)(?:\.\d+)?", out)
            if m and int(m.group(1)) >= server_major:
                return path
    raise ArchiveError(f"no {name} for PostgreSQL {server_major} or later was found: run "
                       f"apt-get install -y postgresql-client-{server_major} (or set "
                       "LOCMAP_PG_BIN to the folder that holds it)")


def run_pg_tool(args: list[str], password: str | None) -> None:
    env = {**os.environ}
    if password:
        env["PGPASSWORD"] = password
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise ArchiveError(f"{Path(args[0]).name} failed:\n{tail}")


# What a restore by the database's owner (not a superuser) leaves out of the dump's table
# of contents: PostGIS itself (already enabled in the target by locmap) and its comment,
# and the PostGIS-owned reference table spatial_ref_sys (locmap adds no systems to it).
_SKIP = re.compile(r"^\d+; \d+ \d+ (EXTENSION|COMMENT - EXTENSION|TABLE DATA public "
                   r"spatial_ref_sys) ")


# pg_restore empties search_path, and PostgreSQL prints a trigger's WHEN (a IS DISTINCT
# FROM b) without its operator's schema, so on geometry (locality_incident_count_recount)
# no "=" is found and the restore fails. locmap's objects all live in public: the script
# runs with public on the path instead, as plain SQL dumps used to.
_EMPTY_PATH = "SELECT pg_catalog.set_config('search_path', '', false);"
_PUBLIC_PATH = "SELECT pg_catalog.set_config('search_path', 'public, pg_catalog', false);\n"


def restore_dump(pg_restore: Path, psql: Path, dump: Path, listing: Path, dbname: str,
                 password: str | None) -> None:
    """``pg_restore`` the entries of ``listing`` as a script piped into ``psql`` in one
    transaction (all or nothing), without owners or grants (the restoring role owns all).
    """
    env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    if password:
        env["PGPASSWORD"] = password
    with tempfile.TemporaryFile() as err_r, tempfile.TemporaryFile() as err_p:
        producer = subprocess.Popen(
            [str(pg_restore), "--no-owner", "--no-privileges", "--use-list", str(listing),
             "--file", "-", str(dump)], stdout=subprocess.PIPE, stderr=err_r)
        consumer = subprocess.Popen(
            [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
             "--dbname", dbname, "--file", "-"], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=err_p, env=env)
        assert producer.stdout is not None and consumer.stdin is not None
        try:
            for _ in range(200):  # the header is a few dozen lines
                line = producer.stdout.readline()
                if not line:
                    break
                if line.decode(errors="replace").strip() == _EMPTY_PATH:
                    consumer.stdin.write(_PUBLIC_PATH.encode())
                    break
                consumer.stdin.write(line)
            shutil.copyfileobj(producer.stdout, consumer.stdin, _CHUNK)
            consumer.stdin.close()
        except BrokenPipeError:
            pass  # psql stopped on an error: reported below
        producer.stdout.close()
        rc_r, rc_p = producer.wait(), consumer.wait()
        if rc_p != 0 or rc_r != 0:
            err_p.seek(0)
            err_r.seek(0)
            tail = (err_p.read() + err_r.read()).decode(errors="replace").strip().splitlines()
            raise ArchiveError("the restore failed and was rolled back:\n" + "\n".join(tail[-6:]))


def restore_list(pg_restore: Path, dump: Path, out: Path) -> None:
    """Write ``pg_restore -L``'s list for ``dump`` without the entries of :data:`_SKIP`."""
    proc = subprocess.run([str(pg_restore), "-l", str(dump)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise ArchiveError(f"database.dump is not a pg_dump archive: {proc.stderr.strip()}")
    kept = [line for line in proc.stdout.splitlines() if not _SKIP.match(line)]
    out.write_text("\n".join(kept) + "\n")
