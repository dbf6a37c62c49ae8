"""The append-only audit log: one JSON line per supply attempt, purge and correction (`restricted/audit.log`).

Each entry is {at, actor, action, supplier_code, dataset, period, file, sha256, rows, outcome, detail,
prev_hash, hash}, where `hash` = SHA-256 of `prev_hash` followed by the entry's canonical JSON (sorted
keys, no spaces, without `hash`), and `prev_hash` is the previous entry's hash (64 zeros for the first).
Changing, inserting or deleting any line breaks the chain from there on, and `verify()` says where.

The file is owner-only (0o600) and only ever opened for writing with O_APPEND, under an exclusive
lock so that two writers cannot both chain onto the same entry. There is deliberately no API to edit
or delete an entry. Cutting lines off the end leaves a valid shorter chain: `verify()` returns the
head (count and last hash) so that it can be noted elsewhere (a backup, a report) and compared later.

Entries never hold a raw value from a supply: `detail` carries masked values only (see ingest).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import config

GENESIS = "0" * 64
FIELDS = ("at", "actor", "action", "supplier_code", "dataset", "period", "file", "sha256", "rows", "outcome",
          "detail")
#: Actions written by this project (others may be added by later modules; the set is not closed).
ACTIONS = ("load", "replace", "reject", "purge", "correction-open", "correction-close", "restore")


class AuditLogError(RuntimeError):
    """The audit log cannot be written or read."""


def default_actor() -> str:
    """The OS user name running the command (falls back to the numeric uid)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return f"uid:{os.getuid()}"


def canonical(entry: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in entry.items() if k != "hash"}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(entry)).encode("utf-8")).hexdigest()


def _last_line(fd: int) -> bytes:
    """The last non-empty line of the open file (read backwards in blocks)."""
    size = os.fstat(fd).st_size
    block, pos, tail = 4096, size, b""
    while pos > 0:
        step = min(block, pos)
        pos -= step
        tail = os.pread(fd, step, pos) + tail
        stripped = tail.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return tail.rstrip(b"\n")


def _prev_hash(fd: int) -> str:
    line = _last_line(fd)
    if not line:
        return GENESIS
    try:
        prev = json.loads(line)["hash"]
    except (ValueError, KeyError, TypeError):
        raise AuditLogError("the audit log's last line is damaged: run `lcp audit-log --verify`") from None
    return str(prev)


def append(action: str, *, actor: str | None = None, supplier_code: str | None = None, dataset: str | None = None,
           period: str | None = None, file: str | None = None, sha256: str | None = None, rows: int | None = None,
           outcome: str | None = None, detail: str | None = None, path: Path | None = None) -> dict[str, Any]:
    """Append one entry (chained to the last) and return it."""
    path = Path(path) if path is not None else config.audit_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent.resolve() == config.restricted_dir():
        os.chmod(path.parent, 0o700)
    entry: dict[str, Any] = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "actor": actor or default_actor(),
        "action": action,
        "supplier_code": supplier_code,
        "dataset": dataset,
        "period": period,
        "file": file,
        "sha256": sha256,
        "rows": int(rows) if rows is not None else None,
        "outcome": outcome,
        "detail": (detail or "")[:2000] or None,
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as e:
        raise AuditLogError(f"{path}: cannot open the audit log: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.fchmod(fd, 0o600)
        rfd = os.open(path, os.O_RDONLY)
        try:
            entry["prev_hash"] = _prev_hash(rfd)
        finally:
            os.close(rfd)
        entry["hash"] = entry_hash(entry["prev_hash"], entry)
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock
    return entry


def entries(path: Path | None = None) -> list[dict[str, Any]]:
    """Every entry, oldest first (unparseable lines raise AuditLogError; use verify() to locate them)."""
    path = Path(path) if path is not None else config.audit_log_path()
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    raise AuditLogError(f"{path}: line {i} is not a JSON entry") from None
    return out


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head: str
    #: line number of the first broken entry (None when ok)
    line: int | None = None
    message: str = ""

    def summary(self) -> str:
        if self.ok:
            return f"audit log intact: {self.entries} entries, head {self.head}"
        return f"audit log BROKEN at line {self.line}: {self.message} ({self.entries} entries intact before it)"


def verify(path: Path | None = None) -> Verification:
    """Check every line parses and chains onto the one before; the head is the last good hash."""
    path = Path(path) if path is not None else config.audit_log_path()
    if not path.exists():
        return Verification(True, 0, GENESIS)
    prev, count = GENESIS, 0
    with open(path, "rb") as fh:
        for i, raw in enumerate(fh, start=1):
            if not raw.strip():
                return Verification(False, count, prev, i, "empty line")
            try:
                entry = json.loads(raw)
            except ValueError:
                return Verification(False, count, prev, i, "not a JSON entry")
            if not isinstance(entry, dict) or "hash" not in entry or "prev_hash" not in entry:
                return Verification(False, count, prev, i, "not an audit entry")
            if entry["prev_hash"] != prev:
                return Verification(False, count, prev, i, "does not chain onto the entry before it")
            if entry_hash(prev, entry) != entry["hash"]:
                return Verification(False, count, prev, i, "its content does not match its hash")
            prev, count = entry["hash"], count + 1
    return Verification(True, count, prev)
