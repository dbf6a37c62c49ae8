"""Accounts: the credentials file, bcrypt password hashes, roles and lock-out. No streamlit here.

The file is `LCP_AUTH_FILE`, or `<LCP_DATA_DIR>/auth/users.yaml` by default: outside the repository
(the default data dir is git-ignored), its folder owner-only (0o700) and the file 0o600. It has the
layout streamlit-authenticator reads, plus our own fields:

    cookie: {name: lcp_auth, key: <random secret>, expiry_days: 0}
    credentials:
      usernames:
        yos_upload:
          name: Youth Offending Service upload        # shown after sign-in
          email: null
          password: $2b$12$...                        # bcrypt hash, never plain text
          roles: [supplier]                           # what streamlit-authenticator puts in session_state
          role: supplier                              # ours: viewer | analyst | supplier
          supplier: yos                               # ours: the supplier_code, for role supplier only
          failed_login_attempts: 0                    # persisted: a locked account stays locked
          logged_in: false

Lock-out: after MAX_FAILED_LOGINS wrong passwords in a row an account is locked (streamlit-authenticator's
`max_login_attempts` reads the persisted counter), across restarts, until an administrator re-runs
`lcp users add NAME ...` with a new password, which resets the counter. A right password resets it too.

Every write is read-modify-write under a lock file, to a temporary file then renamed over the old one,
so a crash or two apps signing people in at once never leave a half-written or clobbered file.
`cookie.expiry_days: 0` (the default) means no sign-in cookie: closing or reloading the page signs out.
"""
from __future__ import annotations

import copy
import fcntl
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from pipelines import config

ROLES = ("viewer", "analyst", "supplier")
MAX_FAILED_LOGINS = 5
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_BYTES = 72  # bcrypt's limit (bcrypt 5 refuses longer passwords)
BCRYPT_ROUNDS = 12
#: lower-case, as streamlit-authenticator lower-cases what is typed in the username box
USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
SUPPLIER_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # pipelines.specs.IDENT's shape
COOKIE_NAME = "lcp_auth"
HEADER = (
    "# LCP Scorecard accounts, written by `lcp users add` (bcrypt hashes only).\n"
    "# Keep this file outside the repository, owner-only (0600). Never commit it.\n"
)


class AuthError(Exception):
    """A problem with an account or the credentials file; str() is one line."""


@dataclass(frozen=True)
class User:
    username: str
    name: str
    role: str
    supplier: str | None
    email: str | None
    failed_login_attempts: int

    @property
    def locked(self) -> bool:
        return self.failed_login_attempts >= MAX_FAILED_LOGINS


# ---------------------------------------------------------------- the file
def auth_file() -> Path:
    """`LCP_AUTH_FILE`, else `<LCP_DATA_DIR>/auth/users.yaml`."""
    env = os.environ.get("LCP_AUTH_FILE")
    return Path(env).expanduser().resolve() if env else config.data_dir() / "auth" / "users.yaml"


def _check_location(path: Path) -> None:
    """Refuse a credentials file inside the checkout, except under its `data/` folder (git-ignored)."""
    path = path.resolve()
    if path.is_relative_to(config.ROOT) and not path.is_relative_to(config.ROOT / "data"):
        raise AuthError(
            f"{path}: the credentials file must be outside the repository (set LCP_AUTH_FILE elsewhere)"
        )


def _ensure_dir(path: Path) -> None:
    folder = path.parent
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    if created or folder == config.data_dir() / "auth":
        os.chmod(folder, 0o700)  # ours: owner-only; never change some other existing folder


def _check_permissions(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AuthError(f"{path}: the credentials file is readable by others (mode {mode:o}): run chmod 600 {path}")


def _empty() -> dict[str, Any]:
    return {
        "cookie": {"name": COOKIE_NAME, "key": secrets.token_hex(32), "expiry_days": 0},
        "credentials": {"usernames": {}},
    }


def _read(path: Path) -> dict[str, Any]:
    """The whole file, checked for shape; an empty layout if the file does not exist."""
    if not path.exists():
        return _empty()
    _check_permissions(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark is not None else ""
        raise AuthError(f"{path}:{line} not a valid YAML credentials file") from None
    if not isinstance(data, dict):
        raise AuthError(f"{path}: not a credentials file (expected a mapping with credentials: usernames:)")
    creds = data.get("credentials") or {}
    users = creds.get("usernames") if isinstance(creds, dict) else None
    if users is None:
        users = {}
    if not isinstance(users, dict):
        raise AuthError(f"{path}: field credentials.usernames must be a mapping of accounts")
    data["credentials"] = {**(creds if isinstance(creds, dict) else {}), "usernames": users}
    cookie = data.get("cookie") if isinstance(data.get("cookie"), dict) else {}
    data["cookie"] = {**_empty()["cookie"], **{k: v for k, v in cookie.items() if v not in (None, "")}}
    for username, entry in users.items():
        _check_entry(path, username, entry)
    return data


def _check_entry(path: Path, username: Any, entry: Any) -> None:
    where = f"{path}: account {username!r}"
    if not isinstance(username, str) or not USERNAME_RE.match(username):
        raise AuthError(f"{where}: not a valid user name (lower-case letters, digits, . _ -)")
    if not isinstance(entry, dict):
        raise AuthError(f"{where}: must be a mapping")
    if entry.get("role") not in ROLES:
        raise AuthError(f"{where}: field role must be one of {', '.join(ROLES)}")
    if entry.get("role") == "supplier" and not entry.get("supplier"):
        raise AuthError(f"{where}: field supplier is required for role supplier")
    pw = entry.get("password")
    if not isinstance(pw, str) or not _is_bcrypt(pw):
        raise AuthError(f"{where}: field password must be a bcrypt hash (set it with `lcp users add`)")


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomic replace: a 0600 temporary file in the same folder, fsync, rename."""
    _ensure_dir(path)
    text = HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    fd, tmp = tempfile.mkstemp(prefix=".users-", suffix=".tmp", dir=path.parent)  # mkstemp is 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock for a read-modify-write of the credentials file."""
    _ensure_dir(path)
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# ---------------------------------------------------------------- passwords
def _is_bcrypt(value: str) -> bool:
    return bool(re.match(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$", value))


def check_password_rules(password: str) -> None:
    """AuthError (one line) unless the password is acceptable."""
    if not password:
        raise AuthError("the password is empty")
    if password != password.strip():
        raise AuthError("the password must not start or end with a space")  # the login form strips it
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"the password is too short: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise AuthError(f"the password is too long: at most {MAX_PASSWORD_BYTES} bytes")


def hash_password(password: str) -> str:
    """A bcrypt hash (salted, cost BCRYPT_ROUNDS) of an acceptable password."""
    check_password_rules(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")


def verify_password(password: str, hashed: str) -> bool:
    """True if `password` matches the bcrypt hash; False for anything else (never raises)."""
    if not isinstance(password, str) or not isinstance(hashed, str) or not _is_bcrypt(hashed):
        return False
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(raw, hashed.encode("ascii"))
    except ValueError:
        return False


# ---------------------------------------------------------------- accounts
def normalise_username(name: str) -> str:
    username = (name or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise AuthError(
            f"user name {name!r} must be 2-40 characters: a letter, then letters, digits, '.', '_' or '-'"
        )
    return username


def _user(username: str, entry: dict[str, Any]) -> User:
    return User(
        username=username,
        name=str(entry.get("name") or username),
        role=entry["role"],
        supplier=entry.get("supplier") or None,
        email=entry.get("email") or None,
        failed_login_attempts=int(entry.get("failed_login_attempts") or 0),
    )


def add_or_update_user(
    name: str,
    role: str,
    password: str,
    supplier: str | None = None,
    *,
    display_name: str | None = None,
    email: str | None = None,
    path: Path | None = None,
) -> tuple[User, bool]:
    """Add an account or update it (role, supplier, new password); returns (user, created).

    Updating also unlocks the account: the failed sign-in counter goes back to 0.
    """
    username = normalise_username(name)
    if role not in ROLES:
        raise AuthError(f"role {role!r} must be one of {', '.join(ROLES)}")
    if role == "supplier":
        if not supplier:
            raise AuthError("--role supplier needs --supplier CODE (the supplier_code in its agreement)")
        if not SUPPLIER_RE.match(supplier):
            raise AuthError(f"supplier code {supplier!r} must be lower_snake_case, e.g. yos")
    elif supplier:
        raise AuthError(f"--supplier is only for --role supplier, not {role}")
    hashed = hash_password(password)
    path = Path(path) if path is not None else auth_file()
    _check_location(path)
    with _locked(path):
        data = _read(path)
        users = data["credentials"]["usernames"]
        old = users.get(username) or {}
        created = username not in users
        users[username] = {
            "name": display_name or old.get("name") or username,
            "email": email if email is not None else old.get("email"),
            "password": hashed,
            "roles": [role],
            "role": role,
            "supplier": supplier if role == "supplier" else None,
            "failed_login_attempts": 0,
            "logged_in": False,
        }
        _write(path, data)
    return _user(username, users[username]), created


def load_users(path: Path | None = None) -> dict[str, User]:
    """Every account by user name; {} if there is no credentials file yet."""
    path = Path(path) if path is not None else auth_file()
    data = _read(path)
    return {u: _user(u, e) for u, e in data["credentials"]["usernames"].items()}


def get_user(username: str | None, path: Path | None = None) -> User | None:
    if not username:
        return None
    return load_users(path).get(str(username).strip().lower())


def supplier_accounts(path: Path | None = None) -> list[User]:
    return [u for u in load_users(path).values() if u.role == "supplier"]


def authenticator_config(path: Path | None = None) -> dict[str, Any]:
    """A deep copy of the file's contents (`credentials`, `cookie`) for streamlit_authenticator.Authenticate.

    Pass `data["credentials"]` (not the path) with auto_hash=False: streamlit-authenticator then only
    changes this copy, and the app persists failed and successful sign-ins with `record_login`.
    """
    path = Path(path) if path is not None else auth_file()
    return copy.deepcopy(_read(path))


def record_login(username: str, ok: bool, path: Path | None = None) -> User | None:
    """Persist one sign-in: a failure adds 1 to the account's counter, a success resets it to 0
    unless the account is locked by then (only `add_or_update_user` unlocks).

    Unknown names are not recorded (and not revealed). Returns the account as now stored.
    """
    path = Path(path) if path is not None else auth_file()
    username = str(username or "").strip().lower()
    if not path.exists():
        return None
    with _locked(path):
        data = _read(path)
        entry = data["credentials"]["usernames"].get(username)
        if entry is None:
            return None
        before = int(entry.get("failed_login_attempts") or 0)
        if ok:  # a right password never unlocks (the account may have been locked a moment ago elsewhere)
            after = before if before >= MAX_FAILED_LOGINS else 0
        else:
            after = before + 1
        if after != before:
            entry["failed_login_attempts"] = after
            _write(path, data)
        return _user(username, entry)


def authenticate(username: str, password: str, path: Path | None = None) -> User | None:
    """Check a name and password outside Streamlit (records the attempt; a locked account is refused).

    Returns the User on success, None on a wrong name or password; AuthError if the account is locked.
    """
    user = get_user(username, path)
    if user is None:
        return None
    if user.locked:
        raise AuthError(f"account {user.username!r} is locked after {MAX_FAILED_LOGINS} failed sign-ins")
    entry = authenticator_config(path)["credentials"]["usernames"][user.username]
    ok = verify_password(password, entry["password"])
    stored = record_login(user.username, ok, path)
    return stored if ok else None
