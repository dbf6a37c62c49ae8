"""The dashboard behind the partner login (issue 11), under Streamlit's AppTest, and `lcp serve --login`
and `lcp build --draft` at the command line.

Each test gets its own LCP_DATA_DIR with the fixture release as the live release, a draft release (the
same file with another release id) and a credentials file (LCP_AUTH_FILE) with a viewer, an analyst and
a supplier account. Sign-in is driven through the real form (streamlit-authenticator).
"""
from __future__ import annotations

import shutil

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

import fixture_release as fx
from dashboard import common, signin
from pipelines import auth, cli, commentary, config

APP = "../dashboard/app.py"  # AppTest paths are relative to this file
EXCEPTIONS = "../dashboard/pages/exceptions.py"
VIEWER_PASSWORD = "viewer-password-1"
ANALYST_PASSWORD = "analyst-password-1"
SUPPLIER_PASSWORD = "supplier-password-1"
DRAFT_ID = "DRAFT-20260101"


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory):
    """A credentials file with vic (viewer), ana (analyst, display name Ana Lyst), yos_upload (supplier)."""
    path = tmp_path_factory.mktemp("dashboard_auth") / "users.yaml"
    auth.add_or_update_user("vic", "viewer", VIEWER_PASSWORD, path=path)
    auth.add_or_update_user("ana", "analyst", ANALYST_PASSWORD, display_name="Ana Lyst", path=path)
    auth.add_or_update_user("yos_upload", "supplier", SUPPLIER_PASSWORD, "yos", path=path)
    return path


@pytest.fixture
def login_env(fixture_release, accounts_template, tmp_path, monkeypatch):
    """LCP_LOGIN=1, a fresh data dir (live + draft release) and a fresh copy of the accounts; the file."""
    data = tmp_path / "data"
    (data / "published").mkdir(parents=True)
    shutil.copy(fixture_release, data / "published" / "scorecard.duckdb")
    draft = data / "published" / "draft.duckdb"
    shutil.copy(fixture_release, draft)
    con = duckdb.connect(str(draft))
    con.execute("UPDATE release SET release_id = ?", [DRAFT_ID])
    con.close()
    folder = tmp_path / "auth"
    folder.mkdir(mode=0o700)
    path = folder / "users.yaml"
    shutil.copy2(accounts_template, path)
    monkeypatch.setenv("LCP_DATA_DIR", str(data))
    monkeypatch.setenv("LCP_AUTH_FILE", str(path))
    monkeypatch.setenv("LCP_LOGIN", "1")
    monkeypatch.delenv("LCP_EDIT", raising=False)
    return path


def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    return at


def sidebar_text(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("caption", "markdown", "warning") for e in getattr(at.sidebar, kind))


def exceptions(at: AppTest) -> AppTest:
    at.switch_page("pages/exceptions.py").run()
    assert not at.exception, at.exception
    return at


def toggles(at: AppTest) -> list[str]:
    return [t.key for t in at.sidebar.toggle]


# ---------------------------------------------------------------- the gate
def test_signed_out_shows_only_the_form(login_env):
    at = app()
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert len(at.table) == 0 and len(at.get("plotly_chart")) == 0 and len(at.selectbox) == 0
    assert len(at.get("form")) == 1  # no sign-up or "forgot password" forms
    assert toggles(at) == [] and len(at.sidebar.text_input) == 0 and not at.sidebar.get("page_link")
    assert fx.RELEASE_ID not in sidebar_text(at)


def test_wrong_password_is_refused_and_counted(login_env):
    at = sign_in(app(), "vic", "not the password")
    assert [e.value for e in at.error] == [signin.WRONG]
    assert len(at.table) == 0
    assert auth.load_users(login_env)["vic"].failed_login_attempts == 1
    at = sign_in(app(), "nobody", "not the password")
    assert [e.value for e in at.error] == [signin.WRONG]  # an unknown name looks the same


def test_locked_account_stays_locked(login_env):
    at = app()
    for _ in range(auth.MAX_FAILED_LOGINS):
        at = sign_in(at, "vic", "wrong password!")
    assert auth.load_users(login_env)["vic"].locked
    assert "locked" in at.error[0].value
    at = sign_in(app(), "vic", VIEWER_PASSWORD)  # a new session: the right password no longer opens it
    assert "locked" in at.error[0].value and len(at.table) == 0
    assert not at.session_state["authentication_status"]
    auth.add_or_update_user("vic", "viewer", VIEWER_PASSWORD + "x", path=login_env)  # the administrator
    at = sign_in(app(), "vic", VIEWER_PASSWORD + "x")
    assert fx.RELEASE_ID in sidebar_text(at)


def test_supplier_is_refused(login_env):
    at = sign_in(app(), "yos_upload", SUPPLIER_PASSWORD)
    assert [e.value for e in at.error] == [common.SUPPLIER_REFUSED]
    assert "upload app only" in common.SUPPLIER_REFUSED
    assert not at.session_state["authentication_status"]
    assert len(at.table) == 0 and fx.RELEASE_ID not in sidebar_text(at)
    at.run()  # the next run: still signed out, the form again
    assert [t.label for t in at.text_input] == ["User name", "Password"] and len(at.table) == 0


def test_viewer_reads_the_scorecard_and_commentary_but_cannot_write(login_env):
    commentary.save("NI 55", "LCP03", "2023/24", "Rise follows the new team.", actor="ana")
    at = sign_in(app(), "vic", VIEWER_PASSWORD)
    side = sidebar_text(at)
    assert "Signed in as **vic** · role viewer" in side and fx.RELEASE_ID in side
    assert at.table and "Password" not in [t.label for t in at.text_input]  # the scorecard, no sign-in form
    assert toggles(at) == []  # no draft release for viewers
    at = exceptions(at)
    assert len(at.text_area) == 0 and not [b for b in at.button if b.label == "Save commentary"]
    assert "read-only for your account" in " ".join(c.value for c in at.caption)
    shown = [r["Commentary"] for r in at.table[0].value.to_dict("records") if r["Area"] == "Lincoln LCP"]
    assert shown[0].startswith("Rise follows the new team. (ana")
    # the draft is never read for a viewer, even if the session asks for it
    at.session_state[common.DRAFT_TOGGLE] = True
    at.run()
    assert DRAFT_ID not in sidebar_text(at) and not at.warning


def page_as(script: str, username: str | None, **params: str) -> AppTest:
    """A page run on its own with `username` signed in (as app.py's gate leaves the session): AppTest
    does not submit forms on a page reached through app.py's navigation."""
    at = AppTest.from_file(script, default_timeout=60)
    if username:
        at.session_state["authentication_status"] = True
        at.session_state["username"] = username
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def test_analyst_writes_commentary_as_themselves(login_env):
    at = exceptions(sign_in(app(), "ana", ANALYST_PASSWORD))
    assert "Signed in as **Ana Lyst \\(ana\\)** · role analyst" in sidebar_text(at)
    assert at.text_area and "Your name" not in [t.label for t in at.text_input]  # the account is the actor
    at = page_as(EXCEPTIONS, "ana", area="LCP03")
    assert "Your name" not in [t.label for t in at.text_input]
    at.text_area[0].input("Checked with the school nursing team.")
    next(b for b in at.button if b.label == "Save commentary").click().run()
    assert not at.exception, at.exception
    now = commentary.current("LCP03")
    assert now["text"].to_list() == ["Checked with the school nursing team."]
    assert now["updated_by"].to_list() == ["ana"]
    at = page_as(EXCEPTIONS, "vic", area="LCP03")  # the viewer reads it, cannot write
    assert len(at.text_area) == 0
    assert at.table[0].value.to_dict("records")[0]["Commentary"].startswith("Checked with the school nursing team. (ana")


def test_a_page_run_on_its_own_still_needs_a_sign_in(login_env):
    at = page_as(EXCEPTIONS, None)
    assert [w.value for w in at.warning] == ["Sign in to see the scorecard."] and len(at.table) == 0
    at = page_as(EXCEPTIONS, "yos_upload")  # a supplier never gets past it either
    assert [w.value for w in at.warning] == ["Sign in to see the scorecard."] and len(at.table) == 0


def test_draft_toggle_only_for_analysts_and_labelled(login_env):
    at = sign_in(app(), "ana", ANALYST_PASSWORD)
    assert toggles(at) == [common.DRAFT_TOGGLE]
    assert fx.RELEASE_ID in sidebar_text(at) and not at.warning
    at.sidebar.toggle(key=common.DRAFT_TOGGLE).set_value(True).run()
    assert not at.exception, at.exception
    side = sidebar_text(at)
    assert DRAFT_ID in side and "Draft release" in side and "DRAFT – not published" in side
    assert fx.RELEASE_ID not in side
    assert [w.value for w in at.main.warning if w.value.startswith("DRAFT – not published")]  # the page's banner
    at = exceptions(at)  # every page carries the banner
    assert [w.value for w in at.main.warning if w.value.startswith("DRAFT – not published")]
    at.sidebar.toggle(key=common.DRAFT_TOGGLE).set_value(False).run()
    assert fx.RELEASE_ID in sidebar_text(at) and not [w for w in at.main.warning if "DRAFT" in w.value]


def test_sign_out_returns_to_the_form(login_env):
    at = sign_in(app(), "ana", ANALYST_PASSWORD)
    at.sidebar.button(key="sign_out").click().run()
    assert not at.exception, at.exception
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert len(at.table) == 0 and toggles(at) == []


# ---------------------------------------------------------------- without the login
def test_open_dashboard_has_no_form_and_edit_setting_applies(login_env, monkeypatch):
    monkeypatch.setenv("LCP_LOGIN", "0")
    at = app()
    assert "Password" not in [t.label for t in at.text_input]
    assert at.table and toggles(at) == [] and "Signed in" not in sidebar_text(at)
    monkeypatch.setenv("LCP_EDIT", "1")
    at = app()
    assert toggles(at) == [common.DRAFT_TOGGLE]
    at = exceptions(at)
    assert "Your name" in [t.label for t in at.text_input]


def test_editor_decides_who_writes_commentary(monkeypatch):
    viewer = auth.User("vic", "vic", "viewer", None, None, 0)
    analyst = auth.User("ana", "Ana", "analyst", None, None, 0)
    monkeypatch.setenv("LCP_LOGIN", "0")
    monkeypatch.delenv("LCP_EDIT", raising=False)
    assert common.editor() is None
    monkeypatch.setenv("LCP_EDIT", "1")
    assert common.editor() == common.Editor(actor=None)  # open dashboard: the name is typed
    monkeypatch.setenv("LCP_LOGIN", "1")  # behind the login LCP_EDIT no longer matters: the role does
    for user, want in ((None, None), (viewer, None), (analyst, common.Editor(actor="ana"))):
        monkeypatch.setattr(common, "current_user", lambda u=user: u)
        assert common.editor() == want
        assert common.analyst_access() is (want is not None)
    monkeypatch.delenv("LCP_EDIT")
    assert common.editor() == common.Editor(actor="ana")


# ---------------------------------------------------------------- the command line
def test_serve_login_needs_a_viewer_or_analyst_account(fixture_release, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LCP_AUTH_FILE", str(tmp_path / "auth" / "users.yaml"))
    monkeypatch.delenv("LCP_LOGIN", raising=False)
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, **kw: calls.append((cmd, kw)) or 0)
    assert cli.main(["serve", "--login"]) == 1
    err = capsys.readouterr().err.strip()
    assert "no credentials file at" in err and "lcp users add NAME --role analyst" in err and "\n" not in err
    auth.add_or_update_user("yos_upload", "supplier", SUPPLIER_PASSWORD, "yos", path=tmp_path / "auth" / "users.yaml")
    monkeypatch.setenv("LCP_LOGIN", "1")  # the environment asks for the login too
    assert cli.main(["serve"]) == 1
    err = capsys.readouterr().err.strip()
    assert "no viewer or analyst account" in err and "\n" not in err
    assert calls == []
    auth.add_or_update_user("vic", "viewer", VIEWER_PASSWORD, path=tmp_path / "auth" / "users.yaml")
    assert cli.main(["serve", "--login", "--port", "8599"]) == 0
    (cmd, kw), = calls
    assert kw["env"]["LCP_LOGIN"] == "1" and kw["env"]["LCP_AUTH_FILE"] == str(tmp_path / "auth" / "users.yaml")
    assert "behind the partner login" in capsys.readouterr().out
    monkeypatch.delenv("LCP_LOGIN")
    assert cli.main(["serve"]) == 0  # open, as before
    assert calls[-1][1]["env"]["LCP_LOGIN"] == "0"


def test_build_draft_leaves_the_live_release_alone(fixture_release, tmp_path, monkeypatch, capsys):
    from upload_fixtures import make_upload_data

    data = tmp_path / "data"
    monkeypatch.setenv("LCP_DATA_DIR", str(data))
    make_upload_data(data, tmp_path / "auth" / "users.yaml")  # a small restricted store
    live = config.release_path()
    live.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(fixture_release, live)
    before = live.read_bytes()
    assert cli.main(["build", "--draft"]) == 0
    out = capsys.readouterr().out
    assert "audit passed" in out and "draft release (not published)" in out  # the disclosure audit ran
    assert config.draft_release_path().is_file() and live.read_bytes() == before
    assert not (live.parent / "open-data").exists()  # no open data from a draft
    con = duckdb.connect(str(config.draft_release_path()), read_only=True)
    assert con.execute("SELECT release_id FROM release").fetchone()[0] != fx.RELEASE_ID
    con.close()
    with pytest.raises(SystemExit):
        cli.main(["build", "--help"])
    assert "--draft" in capsys.readouterr().out
