"""`lcp users add|list` (accounts in the credentials file) and `lcp upload` (the supplier upload app).

    lcp users add NAME --role viewer|analyst|supplier [--supplier CODE] [--password-stdin]
    lcp users list
    lcp upload [--port N]

`users add` reads the password from standard input with --password-stdin (one line), else asks twice
without echo. Re-running it for an existing name updates the account and unlocks it.
"""
from __future__ import annotations

import getpass
import os
import subprocess
import sys

from pipelines import auth, config

USER_ERRORS: tuple[type[BaseException], ...] = (auth.AuthError,)
DEFAULT_UPLOAD_PORT = 8502
MAX_UPLOAD_MB = 200


def register(subparsers) -> None:
    u = subparsers.add_parser("users", help="add or list accounts for the upload app and the dashboard login")
    usub = u.add_subparsers(dest="users_command", required=True)
    a = usub.add_parser(
        "add", help="add an account, or update it (new password, role, supplier; unlocks it)",
        description="Adds or updates an account in the credentials file (LCP_AUTH_FILE, default "
                    "<LCP_DATA_DIR>/auth/users.yaml). Passwords are stored as bcrypt hashes only.",
    )
    a.add_argument("name", help="the user name typed at sign-in (lower-case)")
    a.add_argument("--role", required=True, choices=auth.ROLES)
    a.add_argument("--supplier", help="supplier_code of the agreement (required for --role supplier)")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    a.add_argument("--display-name", help="name shown after sign-in (default: the user name)")
    a.add_argument("--email", help="contact e-mail (optional)")
    a.set_defaults(func=_users_add)
    lst = usub.add_parser("list", help="list accounts (name, role, supplier, locked); never passwords")
    lst.set_defaults(func=_users_list)

    up = subparsers.add_parser("upload", help="start the supplier upload app (login always required)")
    up.add_argument("--port", type=int, default=DEFAULT_UPLOAD_PORT)
    up.set_defaults(func=_upload)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise auth.AuthError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass("Password (10 characters or more): ")
    auth.check_password_rules(first)
    second = getpass.getpass("Password again: ")
    if first != second:
        raise auth.AuthError("the two passwords differ")
    return first


def _users_add(args) -> int:
    password = _read_password(args.password_stdin)
    user, created = auth.add_or_update_user(
        args.name, args.role, password, args.supplier, display_name=args.display_name, email=args.email
    )
    what = "added" if created else "updated (and unlocked)"
    for_supplier = f" for supplier {user.supplier}" if user.supplier else ""
    print(f"{what} {user.username}: role {user.role}{for_supplier} in {auth.auth_file()}")
    if user.supplier:
        known = _known_suppliers()
        if known is not None and user.supplier not in known:
            print(
                f"lcp users: warning: no agreement for supplier {user.supplier!r} in the restricted store yet "
                f"(known: {', '.join(sorted(known)) or 'none'}); the account sees no datasets until one is loaded",
                file=sys.stderr,
            )
    return 0


def _known_suppliers() -> set[str] | None:
    """Supplier codes with an agreement in the restricted store; None if that cannot be told now."""
    if not config.restricted_db_path().exists():
        return None
    try:
        from pipelines.restricted_store import RestrictedStore

        with RestrictedStore() as store:
            return {a.supplier_code for a in store.agreements()}
    except Exception:  # busy (another process has it open), older store without agreements: skip the hint
        return None


def _users_list(args) -> int:
    users = auth.load_users()
    if not users:
        print(f"no accounts in {auth.auth_file()}: add one with `lcp users add NAME --role ROLE`")
        return 0
    print(f"{'name':<24} {'role':<9} {'supplier':<12} status")
    for u in sorted(users.values(), key=lambda u: u.username):
        status = f"LOCKED ({u.failed_login_attempts} failed sign-ins)" if u.locked else "active"
        print(f"{u.username:<24} {u.role:<9} {u.supplier or '-':<12} {status}")
    return 0


def _upload(args) -> int:
    path = auth.auth_file()
    if not path.exists():
        raise auth.AuthError(
            f"no credentials file at {path}: add a supplier account first with "
            "`lcp users add NAME --role supplier --supplier CODE`"
        )
    if not auth.supplier_accounts(path):
        raise auth.AuthError(
            f"no supplier account in {path}: add one with `lcp users add NAME --role supplier --supplier CODE`"
        )
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(config.UPLOAD_DIR / "app.py"),
        "--server.port", str(args.port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.maxUploadSize", str(MAX_UPLOAD_MB), "--server.fileWatcherType", "none",
    ]
    print(f"serving the LCP supply upload app on http://localhost:{args.port} (accounts in {path})")
    env = dict(os.environ, LCP_DATA_DIR=str(config.data_dir()), LCP_AUTH_FILE=str(path))
    return subprocess.call(cmd, cwd=config.ROOT, env=env)
