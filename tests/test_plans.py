"""Priorities and local plans (issue 13, pipelines.plans, `lcp plan`): the rules on hand-made dates, the
movement of indicators against hand-made releases, the append-only history, import validation (every
problem by row and field, all or nothing), and exports read back with text shown as typed."""
from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest

import fixture_release as fx
from pipelines import cli, plans
from pipelines.release import ReleaseReader, open_release
from pipelines.working_store import WorkingStore

D = dt.date
NASTY = '=HYPERLINK("http://x","click") **bold** <b>html</b> [link](http://x) @SUM(A1)'
HEADER = ",".join(plans.CSV_COLUMNS)


@pytest.fixture()
def data_dir(fixture_release, tmp_path, monkeypatch) -> Path:
    """A private LCP_DATA_DIR holding a copy of the fixture release (its own, empty working store)."""
    d = tmp_path / "data"
    (d / "published").mkdir(parents=True)
    shutil.copy(fixture_release, d / "published" / "scorecard.duckdb")
    monkeypatch.setenv("LCP_DATA_DIR", str(d))
    return d


def _action(**kw) -> dict:
    base = {"area_code": "LCP03", "code": "LP-01", "title": "Healthy schools", "indicator_ids": "NI 55",
            "lead": "School nursing team", "start_date": D(2022, 9, 1), "due_date": D(2025, 3, 31), "rating": "green"}
    return base | kw


# ---------------------------------------------------------------- rules on hand-made dates
@pytest.mark.parametrize("rating, due, release, want_overdue, want_status", [
    ("green", D(2025, 3, 31), D(2025, 4, 1), True, "overdue"),     # a day past due
    ("green", D(2025, 3, 31), D(2025, 3, 31), False, "green"),     # due on the release date: not yet
    ("green", D(2025, 3, 31), D(2025, 3, 30), False, "green"),
    ("complete", D(2020, 1, 1), D(2025, 6, 30), False, "complete"),  # complete is never overdue
    ("on hold", D(2024, 1, 1), D(2025, 6, 30), True, "overdue"),   # on hold past due is overdue
    ("delayed", D(2026, 1, 1), D(2025, 6, 30), False, "delayed"),
    ("amber", D(2026, 1, 1), None, False, "amber"),                # no release: nothing is overdue
])
def test_overdue_and_status(rating, due, release, want_overdue, want_status):
    a = _action(rating=rating, due_date=due)
    assert plans.overdue(a, release) is want_overdue
    assert plans.status(a, release) == want_status
    assert plans.needs_report(a, release) is (want_status in ("red", "delayed", "overdue"))


def test_status_label_is_symbol_and_word_and_counts_as_rag():
    when = dt.datetime(2025, 6, 30, 9, 30)  # a release's built_at
    assert plans.status_label(_action(rating="green", due_date=D(2025, 3, 31)), when) == \
        "■ Overdue (due 31/03/2025; rated Green)"
    assert plans.status_label(_action(rating="on hold", due_date=D(2026, 3, 31)), when) == "◆ On hold"
    assert plans.status_label(_action(rating="complete"), when) == "✓ Complete"
    assert {s: plans.STATUS_RAG[s] for s in ("complete", "green", "amber", "on hold", "red", "delayed", "overdue")} == {
        "complete": "green", "green": "green", "amber": "amber", "on hold": "amber", "red": "red", "delayed": "red",
        "overdue": "red"}


def test_periods_and_quarters_of_dates():
    assert plans.period_of(D(2023, 3, 31)) == "2022/23" and plans.period_of(D(2023, 4, 1)) == "2023/24"
    assert plans.period_of(D(2023, 8, 31), "academic_year") == "2022/23"
    assert plans.period_of(D(2023, 9, 1), "academic_year") == "2023/24"
    assert plans.period_of(D(1999, 5, 1)) == "1999/00"
    assert [plans.quarter_of(D(2024, m, 15)) for m in (4, 7, 10, 1)] == ["2024/25 Q1", "2024/25 Q2", "2024/25 Q3",
                                                                         "2023/24 Q4"]


# ---------------------------------------------------------------- is it working (hand-made releases)
def _reader(path: Path) -> ReleaseReader:
    return ReleaseReader(open_release(path))


def _set_counts(path: Path, indicator: str, period: str, area: str, num: float, den: float) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("UPDATE indicator_values SET numerator = ?, denominator = ?, value = ? * 100.0 / ?, "
                    "suppressed = false WHERE indicator_id = ? AND period = ? AND area_code = ? AND breakdown = 'all'",
                    [num, den, num, den, indicator, period, area])
    finally:
        con.close()


def test_movement_on_the_fixture_release(data_dir):
    reader = _reader(data_dir / "published" / "scorecard.duckdb")
    # NI 55 is an academic-year indicator: started September 2022 = 2022/23, compared with 2023/24.
    (m,) = plans.movement(reader, _action())
    then, now = fx.expected("NI 55", "2022/23", "LCP03"), fx.expected("NI 55", "2023/24", "LCP03")
    assert (m.then_period, m.now_period) == ("2022/23", "2023/24")
    assert m.then_value == f"{then['value']:.1f}" and m.now_value == f"{now['value']:.1f}"
    assert m.then_interval == f"{then['lower_95']:.1f} to {then['upper_95']:.1f}"
    assert m.verdict == "no significant change" and abs(m.z) < 1.96
    # Started in August 2023 (still 2022/23 for an academic year) gives the same baseline.
    assert plans.movement(reader, _action(start_date=D(2023, 8, 31)))[0].then_period == "2022/23"
    # Started in 2023/24: nothing published after it yet.
    late = plans.movement(reader, _action(start_date=D(2023, 9, 1)))[0]
    assert late.verdict.startswith("too early to tell") and late.now_value == "–"
    # Started before anything was published: no baseline, no verdict.
    early = plans.movement(reader, _action(start_date=D(2020, 1, 1)))[0]
    assert early.verdict.startswith("cannot tell (no figure published") and early.then_value == "–"


def test_movement_withheld_is_cannot_tell_never_a_number(data_dir):
    reader = _reader(data_dir / "published" / "scorecard.duckdb")
    # NI 111 for Boston LCP is withheld in 2023/24.
    (m,) = plans.movement(reader, _action(area_code="LCP01", indicator_ids="NI 111", start_date=D(2022, 5, 1)))
    assert m.verdict == "cannot tell (withheld)" and m.z is None
    assert m.now_value == "c" and m.now_interval == "c"
    assert m.verdict_label == "Cannot tell (withheld)"


def test_movement_significant_worsening_and_improving(data_dir):
    path = data_dir / "published" / "scorecard.duckdb"
    # Hand-made: Lincoln LCP's NI 55 from 20 of 400 (5%) to 60 of 400 (15%): pooled z = -4.8 (lower is better).
    _set_counts(path, "NI 55", "2022/23", "LCP03", 20, 400)
    _set_counts(path, "NI 55", "2023/24", "LCP03", 60, 400)
    (m,) = plans.movement(_reader(path), _action())
    p = 80 / 800
    z = (0.15 - 0.05) / (p * (1 - p) * (2 / 400)) ** 0.5
    assert m.z == pytest.approx(z) and m.verdict == "worsening" and m.verdict_label == "▼ Worsening (significant)"
    assert (m.then_value, m.now_value) == ("5.0", "15.0")
    _set_counts(path, "NI 55", "2022/23", "LCP03", 60, 400)
    _set_counts(path, "NI 55", "2023/24", "LCP03", 20, 400)
    assert plans.movement(_reader(path), _action())[0].verdict == "improving"


# ---------------------------------------------------------------- writing and history
def test_history_keeps_every_change(data_dir):
    pid = plans.set_priority("LCP03", "2023/24", "NI 55", "laa", actor="ana")
    assert plans.set_priority("LCP03", "2023/24", "NI 55", "cypp", actor="bob") == pid  # same priority, new plan
    aid = plans.save_action(_action(title=NASTY), actor="ana")
    plans.save_action({"rating": "delayed"}, actor="bob", action_id=aid)
    plans.add_progress(aid, "2024/25 Q3", "Half the schools signed up", "amber", actor="ana")
    plans.save_report(aid, "Schools slow to sign up", "Ask the heads' forum", actor="ana")
    plans.remove_priority(pid, actor="cy")
    assert plans.priorities("LCP03").is_empty()  # removed, but its history stays
    assert plans.action(aid)["rating"] == "amber"  # the progress note's rating is the action's now
    assert plans.action(aid)["title"] == NASTY  # stored exactly as typed
    hist = plans.history("LCP03")
    assert hist.select("actor", "kind", "action").rows() == [
        ("ana", "priority", "add"), ("bob", "priority", "update"), ("ana", "action", "add"),
        ("bob", "action", "update"), ("ana", "progress note", "add"), ("ana", "action", "rate"),
        ("ana", "exception report", "add"), ("cy", "priority", "remove")]
    assert '"plan": "laa"' in hist["data"][0] and '"plan": "cypp"' in hist["data"][1]  # earlier states kept
    assert plans.history("LCP01").is_empty()


def test_editing_checks(data_dir):
    aid = plans.save_action(_action(), actor="ana")
    with pytest.raises(plans.PlanError, match="already an action of LCP03"):
        plans.save_action(_action(title="Another"), actor="ana")
    with pytest.raises(plans.PlanError, match="due_date is before start_date"):
        plans.save_action({"due_date": D(2020, 1, 1)}, actor="ana", action_id=aid)
    with pytest.raises(plans.PlanError, match="rating"):
        plans.save_action({"rating": "overdue"}, actor="ana", action_id=aid)  # overdue is never typed
    with pytest.raises(plans.PlanError, match="quarter"):
        plans.add_progress(aid, "Q3", "x", "green", actor="ana")
    with pytest.raises(plans.PlanError, match="actor"):
        plans.set_priority("LCP03", "2023/24", "NI 55", "laa", actor=" ")
    with pytest.raises(plans.PlanError, match="plan"):
        plans.set_priority("LCP03", "2023/24", "NI 55", "national", actor="ana")


def test_plans_survive_a_rebuild_of_the_release(data_dir):
    aid = plans.save_action(_action(), actor="ana")
    plans.set_priority("LCP03", "2023/24", "NI 55", "laa", actor="ana")
    release = data_dir / "published" / "scorecard.duckdb"
    release.unlink()
    fx.write_fixture_release(release)  # a new release replaces the old one whole
    assert plans.action(aid)["code"] == "LP-01"
    assert plans.priorities("LCP03")["indicator_id"].to_list() == ["NI 55"]
    assert not any("plan" in t for t in _tables(release))  # and nothing of the plan is in the release


def _tables(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    finally:
        con.close()


# ---------------------------------------------------------------- import
def _csv(tmp_path: Path, *lines: str, name: str = "plan.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def _lcp(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_names_every_problem_by_row_and_field_and_changes_nothing(data_dir, tmp_path, capsys):
    path = _csv(
        tmp_path,
        "LP-01,LCP03,Good row,NI 55,Team,2024-04-01,2025-03-31,green,",
        ",LCP99,,NI 999;NI 55,,01/04/2024,2024-02-30,purple,",
        "LP-02,LCP03,Ends first,NI 55,Team,2024-04-01,2024-03-31,amber,",
        "LP-01,LCP03,Same code again,NI 55,Team,2024-04-01,2025-03-31,red,",
        "LP-03,LCP03,Too many cells,NI 55,Team,2024-04-01,2025-03-31,red,,extra",
    )
    code, out, err = _lcp(capsys, "plan", "import", str(path))
    assert code == 1 and out == ""
    for want in ["row 3, field code: is empty", "row 3, field title: is empty", "row 3, field lead: is empty",
                 "row 3, field area_code: 'LCP99' is not a partnership area",
                 "row 3, field indicator_ids: 'NI 999' is not an indicator",
                 "row 3, field start_date: '01/04/2024' is not a date as YYYY-MM-DD",
                 "row 3, field due_date: '2024-02-30' is not a date as YYYY-MM-DD",
                 "row 3, field rating: 'purple' is not one of green, amber, red, on hold, delayed, complete",
                 "row 4, field due_date: 2024-03-31 is before start_date 2024-04-01",
                 "row 5, field code: 'LP-01' is already on row 2 for LCP03",
                 "row 6, field (row): more cells than the 9 columns"]:
        assert want in err, want
    assert "nothing was imported" in err and "Traceback" not in err
    assert not WorkingStore.exists()  # all or nothing: not even the store was made


def test_import_columns_exactly_as_the_contract(data_dir, tmp_path, capsys):
    path = tmp_path / "cols.csv"
    path.write_text("code,area,title\nLP-01,LCP03,x\n", encoding="utf-8")
    code, _, err = _lcp(capsys, "plan", "import", str(path))
    assert code == 1
    assert "row 1: missing column(s) area_code, indicator_ids, lead, start_date, due_date, rating, progress" in err
    assert "row 1: unknown column(s) 'area'" in err


def test_import_then_reimport_and_all_or_nothing_on_failure(data_dir, tmp_path, capsys, monkeypatch):
    path = _csv(tmp_path,
                f'LP-01,LCP03,"{NASTY.replace(chr(34), chr(34) * 2)}",NI 55; NI 111,School nurses,2022-09-01,'
                '2024-03-31,Green,"=1+1 started, **well**"',
                "LP-02,LCP01,Youth diversion,NI 111,YOS,2022-06-01,2026-03-31,On Hold,")
    code, out, _ = _lcp(capsys, "plan", "import", str(path), "--actor", "ana")
    assert code == 0 and "2 action(s) added, 0 updated, 0 unchanged, 1 progress note(s)" in out
    a = plans.actions("LCP03").row(0, named=True)
    assert a["title"] == NASTY and a["indicator_ids"] == "NI 55; NI 111" and a["rating"] == "green"
    assert plans.actions("LCP01")["rating"].to_list() == ["on hold"]
    note = plans.latest_progress(a["id"])
    assert note["text"] == "=1+1 started, **well**" and note["quarter"] == plans.quarter_of(dt.date.today())
    code, out, _ = _lcp(capsys, "plan", "import", str(path), "--actor", "ana")
    assert "0 action(s) added, 0 updated, 2 unchanged, 0 progress note(s)" in out  # idempotent
    events = plans.history().height
    # A failure half-way through the writing rolls every row back.
    changed = _csv(tmp_path, "LP-01,LCP03,Renamed,NI 55,Team,2022-09-01,2024-03-31,red,",
                   "LP-09,LCP03,New,NI 55,Team,2022-09-01,2024-03-31,red,", name="changed.csv")
    real_add = WorkingStore.add

    def failing_add(self, kind, values, actor, action="add"):
        if kind is plans.ACTIONS:
            raise OSError("disk full")
        return real_add(self, kind, values, actor, action)

    monkeypatch.setattr(WorkingStore, "add", failing_add)
    with pytest.raises(OSError):
        plans.import_csv(changed, "ana", areas=["LCP03"], indicators=["NI 55"])
    monkeypatch.setattr(WorkingStore, "add", real_add)
    assert plans.actions("LCP03")["title"].to_list() == [NASTY]  # the update to LP-01 was rolled back too
    assert plans.history().height == events


# ---------------------------------------------------------------- export
def _make_plan() -> None:
    aid = plans.save_action(_action(title=NASTY, milestones="-1 school by <June>", due_date=D(2025, 3, 31)),
                            actor="ana")
    plans.add_progress(aid, "2024/25 Q4", "+ two schools; see [link](http://x)", "amber", actor="ana")
    plans.save_action(_action(code="LP-02", title="Done already", rating="complete", due_date=D(2024, 1, 1)),
                      actor="ana")
    plans.set_priority("LCP03", "2023/24", "NI 55", "laa", actor="ana")


def test_export_csv_text_as_typed_and_formulas_neutralised(data_dir, tmp_path, capsys):
    _make_plan()
    out = tmp_path / "plan.csv"
    code, printed, _ = _lcp(capsys, "plan", "export", "Lincoln LCP", "--out", str(out))
    assert code == 0 and "2 action(s)" in printed
    text = out.read_bytes().decode("utf-8-sig")
    notes, _, body = text.partition("\r\n\r\n")
    assert "# Overdue as at: 30/06/2025" in notes and "# Priority: NI 55 (Local Area Agreement; chosen for 2023/24)" in notes
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["code"] for r in rows] == ["LP-01", "LP-02"]
    first, done = rows
    assert first["title"] == "'" + NASTY  # starts with '=': neutralised with an apostrophe, otherwise as typed
    assert first["milestones"] == "'-1 school by <June>"
    assert first["progress"] == "'+ two schools; see [link](http://x)" and first["progress_quarter"] == "2024/25 Q4"
    assert first["rating"] == "amber"
    assert first["status"] == "■ Overdue (due 31/03/2025; rated Amber)" and first["overdue"] == "yes"
    assert done["status"] == "✓ Complete" and done["overdue"] == "no"
    assert list(rows[0])[:9] == list(plans.CSV_COLUMNS)  # the import's columns first


def test_export_xlsx_read_back(data_dir, tmp_path, capsys):
    _make_plan()
    out = tmp_path / "plan.xlsx"
    assert _lcp(capsys, "plan", "export", "LCP03", "--out", str(out))[0] == 0
    book = openpyxl.load_workbook(out)
    sheet = book["Data"]
    cells = [[c.value for c in row] for row in sheet.iter_rows(min_row=4)]
    header, first = cells[0], dict(zip(cells[0], cells[1]))
    assert header[:9] == list(plans.CSV_COLUMNS)
    assert first["title"] == "'" + NASTY and first["status"].startswith("■ Overdue")
    assert all(c.data_type == "s" for row in sheet.iter_rows(min_row=4) for c in row if c.value is not None)
    notes = {r[0].value: r[1].value for r in book["Notes"].iter_rows()}
    assert notes["Priority"] == "NI 55 (Local Area Agreement; chosen for 2023/24)"


def test_export_and_list_errors(data_dir, tmp_path, capsys):
    code, _, err = _lcp(capsys, "plan", "export", "LCP99", "--out", str(tmp_path / "x.csv"))
    assert code == 1 and "unknown partnership area 'LCP99'" in err and "Traceback" not in err
    code, _, err = _lcp(capsys, "plan", "export", "LCP03", "--out", str(tmp_path / "x.pdf"))
    assert code == 1 and "use .csv or .xlsx" in err
    _make_plan()
    code, out, _ = _lcp(capsys, "plan", "list", "LCP03")
    assert code == 0 and "NI 55 (Local Area Agreement, 2023/24)" in out and "LP-02: Done already" in out


def test_brief_plan_orders_off_track_first(data_dir):
    _make_plan()
    plans.save_action(_action(code="LP-03", title="Green one", due_date=D(2027, 1, 1)), actor="ana")
    reader = _reader(data_dir / "published" / "scorecard.duckdb")
    plan = plans.brief_plan(reader, "LCP03")
    assert [a.code for a in plan.actions] == ["LP-01", "LP-02", "LP-03"]
    assert plan.actions[0].status_rag == "red" and plan.actions[0].progress.startswith("2024/25 Q4: + two")
    assert plan.priorities[0].plan_name == "Local Area Agreement" and plan.as_at == "30/06/2025"
    assert plans.brief_plan(reader, "LCP01") is None
