"""`lcp backup DIR [--encrypt]` and `lcp restore DIR [--force]` (pipelines.backup)."""
from __future__ import annotations

import os
from pathlib import Path


def _backup(args) -> int:
    from pipelines import backup  # noqa: PLC0415 (keeps `lcp --help` fast)

    secret = None
    if args.encrypt or os.environ.get(backup.PASSWORD_ENV):
        secret = backup.password("the backup", confirm=True)
    res = backup.backup(Path(args.dir), secret)
    kind = f"encrypted (AES-256) in {backup.ZIP_NAME}" if res.encrypted else "plain copies, owner-only"
    print(f"backed up {res.files} files ({res.bytes / 1e6:.1f} MB) to {res.path}: {kind}, checksums in "
          f"{backup.MANIFEST}")
    return 0


def _restore(args) -> int:
    from pipelines import backup  # noqa: PLC0415

    secret = backup.password(f"the backup in {args.dir}") if backup.is_encrypted(Path(args.dir)) else None
    res = backup.restore(Path(args.dir), secret, force=args.force)
    print(f"restored {res.files} files from {args.dir}; audit log {res.audit_log}")
    return 0


def register(sub) -> None:
    b = sub.add_parser("backup", help="copy the restricted store, key, audit log, working data and releases to a "
                                      "new folder, with checksums")
    b.add_argument("dir", help="a new (or empty) folder outside the data directory")
    b.add_argument("--encrypt", action="store_true",
                   help="put everything in one AES-256 zip (password from LCP_BACKUP_PASSWORD or asked for); "
                        "on whenever LCP_BACKUP_PASSWORD is set")
    b.set_defaults(func=_backup)
    r = sub.add_parser("restore", help="restore a backup folder, refusing one whose checksums do not match")
    r.add_argument("dir", help="a folder written by `lcp backup`")
    r.add_argument("--force", action="store_true", help="restore over data already in the data directory")
    r.set_defaults(func=_restore)


def __getattr__(name: str):
    if name == "USER_ERRORS":
        from pipelines.backup import BackupError  # noqa: PLC0415

        return (BackupError,)
    raise AttributeError(name)
