"""The supplier upload app (upload/app.py) under Streamlit's AppTest, and its server-side checks.

Sign-in is driven through the real form (streamlit-authenticator over our credentials file). A
temporary LCP_DATA_DIR holds a restricted store with two suppliers' agreements (yos, lchs).
"""
from __future__ import annotations

import re
import shutil

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from pipelines import audit_log, auth, config
from pipelines.restricted_store import RestrictedStore
from upload import service, signin
from upload_fixtures import (ANALYST_PASSWORD, BAD_2023, GOOD_2023, LCHS, OTHER_PASSWORD, PASSWORD, YOS,
                             make_upload_data)

APP = str(config.UPLOAD_DIR / "app.py")


@pytest.fixture(scope="module")
def upload_template(tmp_path_factory):
    """The store, agreements and accounts, built once; each test gets its own copy."""
    data = tmp_path_factory.mktemp("upload_template") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LCP_DATA_DIR", str(data))
        mp.delenv("LCP_AUTH_FILE", raising=False)
        make_upload_data(data)
    return data


@pytest.fixture
def upload_env(upload_template, tmp_path, monkeypatch):
    """LCP_DATA_DIR set to a fresh copy of the template; returns the credentials file."""
    data = tmp_path / "data"
    shutil.copytree(upload_template, data)
    monkeypatch.setenv("LCP_DATA_DIR", str(data))
    monkeypatch.delenv("LCP_AUTH_FILE", raising=False)
    return data / "auth" / "users.yaml"


def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return at


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    return at


def unescape(text: str) -> str:
    """Markdown text as shown (the app backslash-escapes punctuation in names: service.plain)."""
    return re.sub(r"\\(.)", r"\1", text)


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "subheader", "markdown", "caption", "text", "error", "warning", "info",
                                  "success") for e in getattr(at, kind)]
    parts += [str(d.value.to_dict()) for d in at.dataframe]
    parts += [t.value.to_string() for t in at.table]
    return unescape("\n".join(str(p) for p in parts))


def store_snapshot():
    with RestrictedStore() as s:
        supplies = s.supplies().drop("loaded_at").sort("supply_id").to_dicts()
        rows = {d: s.scan(d).sort(pl.all()).to_dicts() for d in s.datasets()}
    return supplies, rows


def history(at: AppTest) -> pl.DataFrame:
    return pl.from_pandas(at.dataframe[-1].value)


# ---------------------------------------------------------------- sign-in
def test_not_signed_in_shows_the_form_and_nothing_else(upload_env):
    at = app()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert len(at.file_uploader) == 0 and len(at.dataframe) == 0 and len(at.selectbox) == 0
    page = texts(at)
    assert "Your supplies" not in page and "yjs_disposals" not in page and "ncmp" not in page
    # one form (sign-in): no sign-up, no "forgot password" or "forgot username" widgets
    assert len(at.get("form")) == 1


def test_wrong_password_is_refused_and_counted(upload_env):
    at = sign_in(app(), "yos_upload", "not the password")
    assert [e.value for e in at.error] == [signin.WRONG]
    assert len(at.file_uploader) == 0
    assert auth.load_users(upload_env)["yos_upload"].failed_login_attempts == 1
    at = sign_in(app(), "nobody", "not the password")
    assert [e.value for e in at.error] == [signin.WRONG]  # an unknown name looks the same


def test_locked_account_stays_locked_until_an_admin_resets_it(upload_env):
    at = app()
    for _ in range(auth.MAX_FAILED_LOGINS):
        at = sign_in(at, "yos_upload", "wrong password!")
    assert auth.load_users(upload_env)["yos_upload"].locked
    assert "locked" in at.error[0].value
    at = sign_in(app(), "yos_upload", PASSWORD)  # a new session (as after a restart): the right password fails
    assert "locked" in at.error[0].value and len(at.file_uploader) == 0
    assert not at.session_state["authentication_status"]
    auth.add_or_update_user("yos_upload", "supplier", PASSWORD + "x", "yos", path=upload_env)  # the admin
    at = sign_in(app(), "yos_upload", PASSWORD + "x")
    assert len(at.file_uploader) == 1


def test_sign_out_returns_to_the_form(upload_env):
    at = sign_in(app(), "yos_upload", PASSWORD)
    at.button(key="sign_out").click()
    at.run()
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert len(at.file_uploader) == 0


def test_other_roles_are_told_this_app_is_for_suppliers(upload_env):
    at = sign_in(app(), "ana", ANALYST_PASSWORD)
    assert "This app is for data suppliers" in at.warning[0].value
    assert len(at.file_uploader) == 0 and len(at.dataframe) == 0


def test_supplier_without_an_agreement_sees_nothing_to_upload(upload_env):
    auth.add_or_update_user("new_supplier", "supplier", PASSWORD, "newco", path=upload_env)
    at = sign_in(app(), "new_supplier", PASSWORD)
    assert "no Data Specification Agreement" in at.warning[0].value
    assert len(at.file_uploader) == 0


# ---------------------------------------------------------------- what a supplier sees
def test_supplier_sees_only_its_own_datasets_and_history(upload_env):
    at = sign_in(app(), "yos_upload", PASSWORD)
    assert not at.exception
    page = texts(at)
    assert "Youth justice disposals" in page and "Sam Taylor" in page and YOS["supplier"] in page
    assert "ncmp" not in page and LCHS["datasets"][0]["title"] not in page and LCHS["supplier"] not in page
    assert len(at.file_uploader) == 1
    h = history(at)
    assert h["Dataset"].to_list() == ["yjs_disposals"] and h["Period"].to_list() == ["2022/23"]
    at2 = sign_in(app(), "lchs_upload", OTHER_PASSWORD)  # and the other way round
    page2 = texts(at2)
    assert "National Child Measurement Programme" in page2 and "yjs_disposals" not in page2


def upload(at: AppTest, data: bytes, period: str = "2023-24", name: str = "export.csv") -> AppTest:
    at.selectbox(key="period_yjs_disposals").set_value(period)
    at.run()
    at.file_uploader[0].upload(name, data, "text/csv")
    at.run()
    assert not at.exception, at.exception
    return at


def test_good_csv_is_checked_then_loaded_and_appears_in_history(upload_env):
    at = upload(sign_in(app(), "yos_upload", PASSWORD), GOOD_2023)
    assert any("No errors: 2 rows ready to load for 2023/24" in s.value for s in at.success)
    with RestrictedStore() as s:
        yos = s.supplies().filter(pl.col("supplier_code") == "yos")
        assert yos["period"].to_list() == ["2022/23"]  # nothing stored before the button
    at.button(key="load_yjs_disposals").click()
    at.run()
    assert not at.exception, at.exception
    assert any("Loaded yjs_disposals_2023-24.csv: 2 rows stored for 2023/24" in unescape(s.value) for s in at.success)
    h = history(at)
    assert sorted(h["Period"].to_list()) == ["2022/23", "2023/24"]
    assert "yjs_disposals_2023-24.csv" in h["File"].to_list()
    with RestrictedStore() as s:
        sup = s.supplies().filter((pl.col("period") == "2023/24") & (pl.col("dataset") == "yjs_disposals"))
        assert sup["supplier_code"].to_list() == ["yos"] and sup["rows"].to_list() == [2]
    last = audit_log.entries()[-1]
    assert last["action"] == "load" and last["actor"] == "yos_upload" and last["period"] == "2023/24"
    assert len(at.file_uploader) == 1 and at.file_uploader[0].value is None  # the uploader was cleared


def test_bad_csv_shows_masked_errors_and_changes_nothing(upload_env):
    before = store_snapshot()
    at = upload(sign_in(app(), "yos_upload", PASSWORD), BAD_2023)
    assert "3 errors: this file cannot be loaded. Nothing has been stored." in at.error[0].value
    report = pl.from_pandas(at.dataframe[0].value)
    assert report.columns == ["Row", "Field", "Problem", "Value (masked)"]
    assert set(report["Field"]) == {"gender", "ethnicity", "disposal_date"}
    assert set(report["Row"]) == {3}
    shown = " ".join(report["Value (masked)"].to_list())
    assert "33" not in shown and "31/13/2023" not in shown and "**/**/****" in shown
    assert not [b for b in at.button if b.label == "Load this supply"]
    assert store_snapshot() == before
    last = audit_log.entries()[-1]
    assert last["action"] == "reject" and last["actor"] == "yos_upload" and last["rows"] == 0
    assert "33" not in (last["detail"] or "")


def test_file_named_for_another_period_is_refused(upload_env):
    at = upload(sign_in(app(), "yos_upload", PASSWORD), GOOD_2023, period="2024-25",
                name="yjs_disposals_2023-24.csv")
    assert "named for period 2023-24 but you chose 2024-25" in unescape(at.error[0].value)
    assert not [b for b in at.button if b.label == "Load this supply"]


# ---------------------------------------------------------------- server-side checks
def test_a_supplier_can_never_name_another_suppliers_dataset(upload_env):
    yos = service.supplier_agreement("yos")
    with pytest.raises(service.UploadRefused, match="not one of your datasets"):
        service.check_supply_name(yos, "ncmp_2023-24.csv")
    with pytest.raises(service.UploadRefused, match="not one of your datasets"):
        service.supply_name(yos, "ncmp", "2023-24", "ncmp_2023-24.csv")
    with pytest.raises(service.UploadRefused, match="named for dataset"):
        service.supply_name(yos, "yjs_disposals", "2023-24", "ncmp_2023-24.csv")
    before = store_snapshot()
    with pytest.raises(service.UploadRefused):
        service.load(yos, "ncmp_2023-24.csv", b"child_id\n1\n", actor="yos_upload")
    with pytest.raises(service.UploadRefused):
        service.load(yos, "../lchs/ncmp_2023-24.csv", b"x", actor="yos_upload")
    assert store_snapshot() == before


def test_names_periods_and_size(upload_env):
    yos = service.supplier_agreement("yos")
    ds = yos.datasets[0]
    assert service.supply_name(yos, "yjs_disposals", "2023-24", "Export (3).CSV") == "yjs_disposals_2023-24.csv"
    with pytest.raises(service.UploadRefused, match="CSV"):
        service.supply_name(yos, "yjs_disposals", "2023-24", "export.xls")
    import datetime as dt

    assert service.period_options(ds, dt.date(2025, 3, 31))[:2] == ["2024-25", "2023-24"]
    assert service.period_options(ds, dt.date(2025, 4, 1))[0] == "2025-26"
    assert service.describe_period(ds, "2024-25") == "2024/25 (1 April 2024 to 31 March 2025)"
    with pytest.raises(service.UploadRefused, match="larger than"):
        service.validate(yos, "yjs_disposals_2023-24.csv", b"x" * (service.MAX_UPLOAD_BYTES + 1))


def test_report_csv_never_runs_a_formula():
    from pipelines.ingest import Problem, SupplyResult

    result = SupplyResult("yos", "yjs_disposals", "2023/24", "yjs_disposals_2023-24.csv", 0, "rejected",
                          [Problem("f", 2, "=cmd", "=HYPERLINK(1)", "+**")])
    text = service.report_csv(result).decode("utf-8-sig")
    assert "'=cmd" in text and "'=HYPERLINK(1)" in text and "'+**" in text


def test_names_from_the_file_are_shown_as_text(upload_env):
    at = upload(sign_in(app(), "yos_upload", PASSWORD), GOOD_2023, name="*x*[y](e.invalid)_2023-24.csv")
    message = at.error[0].value
    assert "named for dataset" in message and r"\*x\*\[y\]\(e\.invalid\)" in message
    assert service.plain("*a* :red[b] $c$ <i>") == r"\*a\* \:red\[b\] \$c\$ \<i\>"


def test_cli_users_add_warns_about_a_supplier_without_an_agreement(upload_env, monkeypatch, capsys):
    import io
    import sys

    from pipelines import cli

    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["users", "add", "newco_upload", "--role", "supplier", "--supplier", "newco",
                     "--password-stdin"]) == 0
    err = capsys.readouterr().err
    assert "no agreement for supplier 'newco'" in err and "lchs, yos" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["users", "add", "yos2", "--role", "supplier", "--supplier", "yos", "--password-stdin"]) == 0
    assert capsys.readouterr().err == ""


def test_load_refuses_when_the_agreement_changed_meanwhile(upload_env):
    import yaml

    yos = service.supplier_agreement("yos")
    newer = yos.model_copy(update={"contact": "new@example.org"})
    with RestrictedStore() as s:
        s.save_agreement(newer, yaml.safe_dump(newer.model_dump(mode="json"), sort_keys=False))
    before = store_snapshot()
    with pytest.raises(service.UploadRefused, match="agreement was updated"):
        service.load(yos, "yjs_disposals_2023-24.csv", GOOD_2023, actor="yos_upload")
    assert store_snapshot() == before
    assert service.supplier_agreement("yos") == newer  # the older agreement was not saved over it
