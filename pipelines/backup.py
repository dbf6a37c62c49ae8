"""`lcp backup DIR` and `lcp restore DIR`: the data directory copied to a new folder, checked, and back.

What is backed up (everything `LCP_DATA_DIR` holds that cannot be rebuilt from elsewhere):
`restricted/` (the client-level store, the pseudonymisation key, the audit log), `published/` (the
live release and its open-data files), `working/` (corrections, commentary, plans), `reports/`
(validation reports) and `auth/` (the login file, bcrypt hashes only).

DIR gets `MANIFEST.json` (format, when, the audit log's head, and every file with its size and
SHA-256) and the files under their own relative paths, owner-only (folder 0o700, files 0o600). The
restricted store holds pseudonymised personal data and the key that links it, so when a password is
given (`LCP_BACKUP_PASSWORD`, or `lcp backup --encrypt` asks for one) the files and manifest go into
one AES-256 zip instead (`DIR/backup.zip`, pyzipper, WinZip AES), fit to leave the machine.

Consistency: each DuckDB file is copied while this process holds a read-only connection to it, which
DuckDB refuses while another process writes to it: a backup taken during `lcp ingest` or `lcp build`
stops with a clear message instead of copying a half-written file. A write-ahead log (`.wal`) beside a
database is copied with it. DIR is written beside its final name and renamed into place, so a killed
backup leaves no half-written backup under that name.

`lcp restore DIR` checks every file against the manifest before anything is touched (a damaged or
edited backup is refused), unpacks into a staging folder in the data directory, and moves each file
into place with `os.replace` (atomic per file). Restoring over existing data needs `--force`.

The audit log is append-only, and restore keeps it so: the log in the data directory is never
shortened or rewritten. If there is none (a lost machine), the backup's log is restored; if there is
one, it must be intact and begin with the backup's entries (else restore refuses: the two logs have
diverged) and is kept as it is. Either way a `restore` entry is appended.
"""
from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyzipper

from pipelines import audit_log, config

PASSWORD_ENV = "LCP_BACKUP_PASSWORD"
#: Folders of LCP_DATA_DIR that are backed up, in this order.
PARTS = ("restricted", "published", "working", "reports", "auth")
MANIFEST = "MANIFEST.json"
ZIP_NAME = "backup.zip"
FORMAT = "lcp-backup-1"
_AUDIT = "restricted/audit.log"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why (one line)."""


@dataclass
class BackupResult:
    path: Path
    files: int
    bytes: int
    encrypted: bool


def password(prompt_for: str, confirm: bool = False) -> bytes:
    """`LCP_BACKUP_PASSWORD`, or asked for (not echoed, twice when making a backup) in a terminal."""
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env.encode("utf-8")
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass(f"Password for {prompt_for}: ")
        if first and confirm and getpass.getpass("Again: ") != first:
            raise BackupError("the two passwords differ")
        if first:
            return first.encode("utf-8")
    raise BackupError(f"a backup is encrypted: set {PASSWORD_ENV} or run the command in a terminal")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(root: Path) -> list[Path]:
    out: list[Path] = []
    for part in PARTS:
        folder = root / part
        if folder.is_dir():
            out.extend(p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink())
    return out


def _hold(stack: ExitStack, db: Path) -> None:
    """A read-only connection held while the file is copied: DuckDB refuses it while a writer has the file."""
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as e:
        raise BackupError(
            f"{db}: in use by another process ({str(e).splitlines()[0]}); run the backup when no ingest or build runs"
        ) from None
    stack.callback(con.close)


def backup(out: Path, secret: bytes | None = None, data_dir: Path | None = None) -> BackupResult:
    """Copy the data directory's parts into the new folder `out`, with MANIFEST.json (checksums).

    With `secret`, the files go into one AES-256 zip, `out/backup.zip` (MANIFEST.json inside it);
    without, they are plain copies under `out/` (owner-only). The folder is written beside its final
    name and renamed into place, so a killed backup leaves no half-written backup under that name."""
    root = (data_dir or config.data_dir()).resolve()
    files = _files(root)
    if not any(f.relative_to(root).parts[0] in ("restricted", "published") for f in files):
        raise BackupError(f"{root}: nothing to back up (no restricted store or release)")
    out = Path(out).resolve()
    if out == root or root in out.parents:
        raise BackupError(f"{out}: write the backup outside the data directory {root}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out}: already exists and is not an empty folder; choose a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    head = audit_log.verify(root / _AUDIT) if (root / _AUDIT).is_file() else None
    if head is not None and not head.ok:
        raise BackupError(f"{root / _AUDIT}: {head.summary()}; not backing up a broken audit log")
    manifest = {"format": FORMAT, "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "data_dir": str(root), "encrypted": secret is not None,
                "audit_log": {"entries": head.entries, "head": head.head} if head else None, "files": []}
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    total = 0
    try:
        os.chmod(stage, 0o700)
        with ExitStack() as stack:
            for db in (f for f in files if f.suffix == ".duckdb"):
                _hold(stack, db)
            files = _files(root)  # a .wal may have gone when the connections opened
            z = None
            if secret is not None:
                z = stack.enter_context(pyzipper.AESZipFile(stage / ZIP_NAME, "w", compression=zipfile.ZIP_DEFLATED,
                                                            encryption=pyzipper.WZ_AES))
                z.setpassword(secret)
                z.setencryption(pyzipper.WZ_AES, nbits=256)
            for f in files:
                data = f.read_bytes()
                name = f.relative_to(root).as_posix()
                if z is not None:
                    z.writestr(name, data)
                else:
                    target = stage / name
                    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(data)
                manifest["files"].append({"path": name, "bytes": len(data), "sha256": _sha(data)})
                total += len(data)
            text = json.dumps(manifest, indent=1).encode("utf-8")
            if z is not None:
                z.writestr(MANIFEST, text)
            else:
                (stage / MANIFEST).write_bytes(text)
        for f in stage.rglob("*"):
            os.chmod(f, 0o700 if f.is_dir() else 0o600)
        if out.exists():
            out.rmdir()
        os.rename(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return BackupResult(out, len(manifest["files"]), total, secret is not None)


@dataclass
class RestoreResult:
    files: int
    audit_log: str  # "restored from the backup" | "kept (N entries, the backup's M at its start)"


def is_encrypted(folder: Path) -> bool:
    return (Path(folder) / ZIP_NAME).is_file()


def _check(folder: Path, manifest: dict, read) -> dict[str, bytes]:
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder}: unknown backup format {manifest.get('format')!r}")
    contents: dict[str, bytes] = {}
    for entry in manifest["files"]:
        name = entry["path"]
        if name.startswith("/") or ".." in Path(name).parts or Path(name).parts[0] not in PARTS:
            raise BackupError(f"{folder}: refusing a file outside the data directory: {name!r}")
        try:
            data = read(name)
        except (KeyError, FileNotFoundError):
            raise BackupError(f"{folder}: {name} is missing (damaged backup)") from None
        if _sha(data) != entry["sha256"] or len(data) != entry["bytes"]:
            raise BackupError(f"{folder}: {name} does not match its checksum in {MANIFEST} (damaged backup)")
        contents[name] = data
    return contents


def read_backup(folder: Path, secret: bytes | None = None) -> tuple[dict, dict[str, bytes]]:
    """The manifest and every file of a backup folder, each checked against its checksum."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BackupError(f"{folder}: no such backup folder")
    if not is_encrypted(folder):
        try:
            manifest = json.loads((folder / MANIFEST).read_bytes())
        except FileNotFoundError:
            raise BackupError(f"{folder}: not an lcp backup (no {MANIFEST})") from None
        except json.JSONDecodeError as e:
            raise BackupError(f"{folder}/{MANIFEST}: not readable ({e})") from None
        return manifest, _check(folder, manifest, lambda name: (folder / name).read_bytes())
    if secret is None:
        raise BackupError(f"{folder}: the backup is encrypted: set {PASSWORD_ENV} or run in a terminal")
    try:
        with pyzipper.AESZipFile(folder / ZIP_NAME) as z:
            z.setpassword(secret)
            try:
                manifest = json.loads(z.read(MANIFEST))
            except KeyError:
                raise BackupError(f"{folder}: not an lcp backup (no {MANIFEST})") from None
            return manifest, _check(folder, manifest, z.read)
    except RuntimeError as e:  # pyzipper: bad password
        if "password" in str(e).lower():
            raise BackupError(f"{folder}: wrong password for {ZIP_NAME}") from None
        raise
    except (zipfile.BadZipFile, OSError, json.JSONDecodeError) as e:
        raise BackupError(f"{folder}/{ZIP_NAME}: not readable ({e})") from None


def _entries_of(data: bytes) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "audit.log"
        p.write_bytes(data)
        check = audit_log.verify(p)
        if not check.ok:
            raise BackupError(f"the backup's audit log is broken: {check.summary()}")
        return audit_log.entries(p)


def restore(path: Path, secret: bytes | None = None, force: bool = False, data_dir: Path | None = None,
            actor: str | None = None) -> RestoreResult:
    """Put a backup folder's files back into the data directory (see the module's docstring)."""
    root = (data_dir or config.data_dir()).resolve()
    path = Path(path).resolve()
    manifest, contents = read_backup(path, secret)
    present = [f for f in _files(root) if f.relative_to(root).as_posix() != _AUDIT]
    if present and not force:
        raise BackupError(f"{root} already holds data ({len(present)} files); restore over it with --force")
    live_log = root / _AUDIT
    backup_log = contents.pop(_AUDIT, None)
    if live_log.is_file():
        check = audit_log.verify(live_log)
        if not check.ok:
            raise BackupError(f"{live_log}: {check.summary()}; not restoring over a broken audit log")
        if backup_log is not None:
            theirs = [e["hash"] for e in _entries_of(backup_log)]
            ours = [e["hash"] for e in audit_log.entries(live_log)]
            if ours[:len(theirs)] != theirs:
                raise BackupError(f"{live_log}: the audit log here does not begin with the backup's: the two have "
                                  "diverged; the log is never rewritten, so restore refuses")
            log_note = f"kept ({len(ours)} entries, the backup's {len(theirs)} at its start)"
        else:
            log_note = f"kept ({check.entries} entries; the backup has none)"
    else:
        if backup_log is not None:
            _entries_of(backup_log)
            contents[_AUDIT] = backup_log
            log_note = "restored from the backup"
        else:
            log_note = "none"
    stage = Path(tempfile.mkdtemp(prefix=".restore-", dir=root if root.is_dir() else None))
    try:
        for name, data in contents.items():
            target = stage / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for name in contents:
            dest = root / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.suffix == ".duckdb" and name + ".wal" not in contents:
                # a stale write-ahead log would be replayed onto the restored file
                dest.with_name(dest.name + ".wal").unlink(missing_ok=True)
            os.replace(stage / name, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    for part in ("restricted", "working", "auth", "reports"):
        folder = root / part
        if folder.is_dir():
            os.chmod(folder, 0o700)
            for f in folder.rglob("*"):
                os.chmod(f, 0o700 if f.is_dir() else 0o600)
    digest = _sha(json.dumps(manifest, sort_keys=True).encode("utf-8"))
    audit_log.append("restore", actor=actor, file=str(path), sha256=digest, rows=len(contents), outcome="restored",
                     detail=f"backup made {manifest['created_at']}; audit log {log_note}", path=live_log)
    return RestoreResult(len(contents), log_note)


def describe(path: Path, secret: bytes | None = None) -> str:
    """One line about a backup (checked against its manifest)."""
    manifest, contents = read_backup(path, secret)
    size = sum(len(v) for v in contents.values())
    return f"{path}: made {manifest['created_at']}, {len(contents)} files, {size / 1e6:.1f} MB, all match the manifest"

