"""Accounts (pipelines.auth) and `lcp users add|list`, `lcp upload`'s refusal without supplier accounts."""
from __future__ import annotations

import io
import os
import stat
import sys

import pytest
import yaml

from pipelines import auth, cli, config

GOOD = "correct horse 1"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "data"
    monkeypatch.setenv("LCP_DATA_DIR", str(d))
    monkeypatch.delenv("LCP_AUTH_FILE", raising=False)
    return d


@pytest.fixture
def fast_bcrypt(monkeypatch):
    monkeypatch.setattr(auth, "BCRYPT_ROUNDS", 4)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def run(argv: list[str], monkeypatch, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return cli.main(argv)


# ---------------------------------------------------------------- hashing
def test_passwords_are_bcrypt_hashed_and_verified():
    hashed = auth.hash_password(GOOD)
    assert hashed.startswith("$2b$12$") and GOOD not in hashed
    assert auth.hash_password(GOOD) != hashed  # salted
    assert auth.verify_password(GOOD, hashed)
    assert not auth.verify_password(GOOD + "x", hashed)
    assert not auth.verify_password(GOOD, "plain text")
    assert not auth.verify_password("x" * 100, hashed)  # longer than bcrypt takes: False, never an exception


@pytest.mark.parametrize("password, message", [
    ("", "empty"),
    ("short", "too short"),
    ("123456789", "too short"),
    (" leading space ok", "space"),
    ("é" * 40, "too long"),
])
def test_password_rules(password, message):
    with pytest.raises(auth.AuthError, match=message):
        auth.hash_password(password)


# ---------------------------------------------------------------- the file
def test_add_user_writes_an_owner_only_file_in_the_authenticator_layout(data_dir, fast_bcrypt):
    user, created = auth.add_or_update_user("YOS_Upload", "supplier", GOOD, "yos", display_name="Sam Taylor")
    path = data_dir / "auth" / "users.yaml"
    assert created and user.username == "yos_upload" and auth.auth_file() == path
    assert mode(path.parent) == 0o700 and mode(path) == 0o600
    text = path.read_text()
    assert GOOD not in text
    data = yaml.safe_load(text)
    entry = data["credentials"]["usernames"]["yos_upload"]
    assert entry["name"] == "Sam Taylor" and entry["roles"] == ["supplier"]
    assert entry["role"] == "supplier" and entry["supplier"] == "yos"
    assert entry["failed_login_attempts"] == 0 and entry["logged_in"] is False
    assert auth.verify_password(GOOD, entry["password"])
    assert len(data["cookie"]["key"]) == 64 and data["cookie"]["expiry_days"] == 0
    assert list(path.parent.glob(".users-*")) == []  # no temporary file left behind


def test_auth_file_env_and_location(tmp_path, monkeypatch, fast_bcrypt):
    elsewhere = tmp_path / "secrets" / "lcp-users.yaml"
    monkeypatch.setenv("LCP_AUTH_FILE", str(elsewhere))
    auth.add_or_update_user("ana", "analyst", GOOD)
    assert elsewhere.exists() and mode(elsewhere) == 0o600 and mode(elsewhere.parent) == 0o700
    monkeypatch.setenv("LCP_AUTH_FILE", str(config.ROOT / "users.yaml"))
    with pytest.raises(auth.AuthError, match="outside the repository"):
        auth.add_or_update_user("ana", "analyst", GOOD)
    assert not (config.ROOT / "users.yaml").exists()


def test_update_changes_role_password_and_keeps_the_cookie_key(data_dir, fast_bcrypt):
    auth.add_or_update_user("bob", "viewer", GOOD, email="bob@example.org")
    path = auth.auth_file()
    key = yaml.safe_load(path.read_text())["cookie"]["key"]
    user, created = auth.add_or_update_user("bob", "analyst", GOOD + "2")
    assert not created and user.role == "analyst" and user.email == "bob@example.org"
    data = yaml.safe_load(path.read_text())
    assert data["cookie"]["key"] == key
    entry = data["credentials"]["usernames"]["bob"]
    assert auth.verify_password(GOOD + "2", entry["password"]) and not auth.verify_password(GOOD, entry["password"])
    assert set(auth.load_users()) == {"bob"}


@pytest.mark.parametrize("args, message", [
    (("x", "viewer"), "user name"),
    (("bad name", "viewer"), "user name"),
    (("ana", "admin"), "role"),
    (("yos", "supplier"), "needs --supplier"),
    (("ana", "analyst", "yos"), "only for --role supplier"),
    (("yos", "supplier", "Bad Code"), "lower_snake_case"),
])
def test_role_and_name_validation(args, message, data_dir, fast_bcrypt):
    name, role, *supplier = args
    with pytest.raises(auth.AuthError, match=message):
        auth.add_or_update_user(name, role, GOOD, *supplier)
    assert not auth.auth_file().exists()


def test_a_file_readable_by_others_or_damaged_is_refused(data_dir, fast_bcrypt):
    auth.add_or_update_user("ana", "analyst", GOOD)
    path = auth.auth_file()
    os.chmod(path, 0o644)
    with pytest.raises(auth.AuthError, match="chmod 600"):
        auth.load_users()
    os.chmod(path, 0o600)
    data = yaml.safe_load(path.read_text())
    data["credentials"]["usernames"]["ana"]["password"] = "plain text"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(auth.AuthError, match="bcrypt hash"):
        auth.load_users()
    path.write_text("credentials: [unclosed\n")
    with pytest.raises(auth.AuthError, match="not a valid YAML"):
        auth.load_users()


# ---------------------------------------------------------------- lock-out
def test_lock_out_is_persisted_until_the_account_is_reset(data_dir, fast_bcrypt):
    auth.add_or_update_user("yos_upload", "supplier", GOOD, "yos")
    assert auth.authenticate("yos_upload", GOOD).username == "yos_upload"
    for i in range(1, auth.MAX_FAILED_LOGINS + 1):
        assert auth.authenticate("yos_upload", "wrong password") is None
        assert auth.load_users()["yos_upload"].failed_login_attempts == i  # read back from the file
    assert auth.load_users()["yos_upload"].locked
    with pytest.raises(auth.AuthError, match="locked"):
        auth.authenticate("yos_upload", GOOD)  # the right password no longer opens it
    assert auth.record_login("yos_upload", ok=True).locked  # nor does a sign-in that raced the lock-out
    entry = yaml.safe_load(auth.auth_file().read_text())["credentials"]["usernames"]["yos_upload"]
    assert entry["failed_login_attempts"] == auth.MAX_FAILED_LOGINS  # what streamlit-authenticator reads
    auth.add_or_update_user("yos_upload", "supplier", GOOD, "yos")  # the admin re-runs `lcp users add`
    assert not auth.load_users()["yos_upload"].locked
    assert auth.authenticate("yos_upload", GOOD) is not None


def test_a_right_password_resets_the_counter_and_unknown_names_are_not_recorded(data_dir, fast_bcrypt):
    auth.add_or_update_user("ana", "analyst", GOOD)
    auth.authenticate("ana", "wrong password")
    auth.authenticate("ana", "wrong password")
    assert auth.load_users()["ana"].failed_login_attempts == 2
    assert auth.authenticate("ana", GOOD) is not None
    assert auth.load_users()["ana"].failed_login_attempts == 0
    assert auth.authenticate("nobody", GOOD) is None and auth.record_login("nobody", False) is None
    assert set(auth.load_users()) == {"ana"}


# ---------------------------------------------------------------- the CLI
def test_cli_users_add_with_password_stdin(data_dir, monkeypatch, capsys, fast_bcrypt):
    rc = run(["users", "add", "yos_upload", "--role", "supplier", "--supplier", "yos", "--password-stdin"],
             monkeypatch, GOOD + "\n")
    out = capsys.readouterr()
    assert rc == 0 and "added yos_upload: role supplier for supplier yos" in out.out
    user = auth.load_users()["yos_upload"]
    assert user.role == "supplier" and user.supplier == "yos"
    assert auth.authenticate("yos_upload", GOOD) is not None
    rc = run(["users", "add", "yos_upload", "--role", "supplier", "--supplier", "yos", "--password-stdin"],
             monkeypatch, GOOD + "x\n")
    assert rc == 0 and "updated (and unlocked)" in capsys.readouterr().out
    assert run(["users", "list"], monkeypatch) == 0
    listing = capsys.readouterr().out
    assert "yos_upload" in listing and "active" in listing and "$2b$" not in listing


@pytest.mark.parametrize("argv, stdin, message", [
    (["users", "add", "ana", "--role", "analyst", "--password-stdin"], "short\n", "too short"),
    (["users", "add", "ana", "--role", "analyst", "--password-stdin"], "", "empty"),
    (["users", "add", "yos", "--role", "supplier", "--password-stdin"], GOOD + "\n", "needs --supplier"),
    (["users", "add", "ana", "--role", "viewer", "--supplier", "yos", "--password-stdin"], GOOD + "\n",
     "only for --role supplier"),
    (["users", "add", "ana", "--role", "analyst"], "", "use --password-stdin"),  # no terminal to prompt on
    (["upload"], "", "no credentials file"),
])
def test_cli_errors_are_one_line(argv, stdin, message, data_dir, monkeypatch, capsys, fast_bcrypt):
    assert run(argv, monkeypatch, stdin) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"lcp {argv[0]}: error: ") and message in err
    assert "Traceback" not in err


def test_cli_bad_role_is_an_argparse_error(monkeypatch, capsys):
    with pytest.raises(SystemExit) as e:
        run(["users", "add", "ana", "--role", "admin", "--password-stdin"], monkeypatch, GOOD + "\n")
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_cli_prompts_twice_on_a_terminal(data_dir, monkeypatch, capsys, fast_bcrypt):
    answers = iter([GOOD, GOOD + "typo"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    assert cli.main(["users", "add", "ana", "--role", "analyst"]) == 1
    assert "the two passwords differ" in capsys.readouterr().err
    answers = iter([GOOD, GOOD])
    assert cli.main(["users", "add", "ana", "--role", "analyst"]) == 0
    assert auth.authenticate("ana", GOOD) is not None


def test_cli_upload_needs_a_supplier_account(data_dir, monkeypatch, capsys, fast_bcrypt):
    auth.add_or_update_user("ana", "analyst", GOOD)
    assert run(["upload", "--port", "1"], monkeypatch) == 1
    err = capsys.readouterr().err
    assert "no supplier account" in err and err.count("\n") == 1
