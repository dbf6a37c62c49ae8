"""The dashboard pages under streamlit.testing (AppTest): what a reader sees, and no exceptions."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

import fixture_release as fx

APP = "../dashboard/app.py"  # AppTest paths are relative to this file
SCORECARD = "../dashboard/pages/scorecard.py"
MAP = "../dashboard/pages/map.py"
PROFILE = "../dashboard/pages/profile.py"
INDICATOR = "../dashboard/pages/indicator.py"
EXCEPTIONS = "../dashboard/pages/exceptions.py"
METHODS = "../dashboard/pages/methods.py"
TIMEOUT = 60


def run(script: str, **params: str) -> AppTest:
    at = AppTest.from_file(script, default_timeout=TIMEOUT)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def tables(at: AppTest) -> dict[str, dict]:
    """Indicator id -> its scorecard row (column name -> shown text)."""
    rows = {}
    for table in at.table:
        frame = table.value
        if "Indicator" in frame.columns:
            for row in frame.to_dict("records"):
                rows[row["Indicator"]] = row
    return rows


def test_scorecard_shows_values_and_withheld(fixture_release):
    at = run(SCORECARD, area="LCP01")
    rows = tables(at)
    assert set(rows) == {"NI 55", "NI 111"}
    ni55, ni111 = rows["NI 55"], rows["NI 111"]
    want = fx.expected("NI 55", "2023/24", "LCP01")
    assert ni55["Value"] == f"{want['value']:.1f}" == "10.6"
    assert ni55["Period"] == "2023/24"
    assert ni55["95% confidence interval"] == f"{want['lower_95']:.1f} to {want['upper_95']:.1f}"
    assert ni55["RAG"] == "◆ Amber"
    assert ni55["Direction of travel"] == "► No significant change"
    assert ni55["Quartile (1 = best)"] == "1 (best)"
    assert ni55["England"] == "9.6"
    assert ni55["vs England"] == "Similar"
    # NI 111 is withheld for Boston LCP in 2023/24: c, and nothing derived from it.
    assert ni111["Value"] == "c"
    assert ni111["95% confidence interval"] == "c"
    assert ni111["RAG"] == ni111["Direction of travel"] == ni111["Quartile (1 = best)"] == "–"
    # Grouped by Every Child Matters outcome, with the key to the symbols under the tables.
    assert [s.value for s in at.subheader] == ["Summary", "Be healthy", "Make a positive contribution"]
    legend = " ".join(m.value for m in at.markdown)
    assert "c = withheld: fewer than 11 children, or a figure that would reveal one" in legend
    assert "● Green" in legend and "► No significant change" in legend and "1 = best" in legend
    assert at.query_params["area"] == "LCP01"


def test_scorecard_county_and_period_from_url(fixture_release):
    at = run(SCORECARD, area="E10000019", period="2022/23")
    rows = tables(at)
    assert rows["NI 55"]["Value"] == f"{fx.expected('NI 55', '2022/23', 'E10000019')['value']:.1f}"
    assert rows["NI 111"]["Value"] == "853.1"
    assert rows["NI 111"]["Period"] == "2022/23"
    assert at.selectbox(key="url_area").value == "E10000019"


def test_scorecard_change_area_updates_url(fixture_release):
    at = run(SCORECARD)
    assert at.query_params["area"] == "E10000019"  # the county by default
    at.selectbox(key="url_area").select("LCP03").run()
    assert not at.exception
    assert at.query_params["area"] == "LCP03"
    assert tables(at)["NI 55"]["Value"] == "14.0"


def test_unknown_url_values_fall_back(fixture_release):
    at = run(SCORECARD, area="LCP99", period="1999/00")
    assert at.selectbox(key="url_area").value == "E10000019"
    assert at.query_params["period"] == "latest"


def _figure(at: AppTest) -> dict:
    (chart,) = at.get("plotly_chart")
    return json.loads(chart.proto.spec)


def test_map_page(fixture_release):
    at = run(MAP, area="LCP01", indicator="NI 55", period="2023/24", colour="rag")
    fig = _figure(at)
    traces = {t["meta"]["role"]: t for t in fig["data"] if t.get("meta", {}).get("role") != "rag"}
    rag = [t for t in fig["data"] if t.get("meta", {}).get("role") == "rag"]
    assert sorted(traces["withheld"]["locations"]) == ["E05009622", "E05009623"]
    assert traces["withheld"]["name"] == "withheld (c)"
    assert sorted(traces["highlight"]["locations"]) == sorted(w for w, v in fx.WARDS.items() if v[2] == "LCP01")
    assert sum(len(t["locations"]) for t in rag) == 4
    assert "NI 55" in fig["layout"]["title"]["text"] and "2023/24" in fig["layout"]["title"]["text"]
    withheld = at.table[0].value
    assert withheld.to_dict("records")[-1] == {"Area": "Total", "Wards": 6, "Withheld (c)": 2}
    assert at.radio(key="url_colour").value == "rag"
    assert dict(at.query_params) == {
        "area": "LCP01", "indicator": "NI 55", "period": "2023/24", "colour": "rag", "view": "county", "level": "ward"
    }


def test_map_defaults_and_value_colouring(fixture_release):
    at = run(MAP, indicator="NI 111")
    fig = _figure(at)
    roles = [t.get("meta", {}).get("role") for t in fig["data"]]
    assert "highlight" not in roles  # the whole county: nothing outlined
    # Every NI 111 ward is withheld in 2023/24 (the latest, chosen by default): no value trace at all.
    assert "value" not in roles
    assert at.query_params["period"] == "2023/24"
    at.selectbox(key="url_period").select("2022/23").run()
    assert not at.exception
    assert at.query_params["period"] == "2022/23"


def test_app_navigation_and_footer(fixture_release):
    at = run(APP, area="LCP01")
    footer = " ".join(c.value for c in at.sidebar.caption)
    assert fx.RELEASE_ID in footer and "30 June 2025" in footer
    assert "10 or fewer children are withheld" in footer
    assert tables(at)["NI 111"]["Value"] == "c"  # the default page is the scorecard
    at.switch_page("pages/map.py").run()
    assert not at.exception
    assert at.get("plotly_chart")


def test_no_release_is_a_friendly_error(fixture_release, tmp_path, monkeypatch):
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path))
    for script in (APP, SCORECARD, MAP, PROFILE, INDICATOR, EXCEPTIONS, METHODS):
        at = AppTest.from_file(script, default_timeout=TIMEOUT).run()
        assert not at.exception
        assert "No published release at" in at.error[0].value
        assert "lcp build" in at.error[0].value


def test_pages_yaml_is_valid_and_checked(tmp_path):
    from dashboard.common import load_pages

    pages = load_pages()
    assert [(p.file, p.title, p.url_path) for p in pages][:7] == [
        ("scorecard.py", "Overview", "overview"), ("map.py", "Map", "map"),
        ("profile.py", "Locality profile", "profile"), ("indicator.py", "Indicator detail", "indicator"),
        ("exceptions.py", "Exceptions", "exceptions"), ("plan.py", "Local plan", "plan"),
        ("methods.py", "Data and methods", "methods"),
    ]
    assert pages[0].default
    assert ("changes.py", "Corrections and changes", "changes") in [(p.file, p.title, p.url_path) for p in pages]
    assert all(p.path.is_file() for p in pages)
    bad = tmp_path / "pages.yaml"
    bad.write_text("- {file: nope.py, title: X, url_path: x}\n")
    with pytest.raises(ValueError, match=r"page 1: field file"):
        load_pages(bad)
    bad.write_text("- {file: map.py, title: X, url_path: Bad Path}\n")
    with pytest.raises(ValueError, match=r"page 1: field url_path"):
        load_pages(bad)
    bad.write_text("- {file: map.py, title: A, url_path: a}\n- {file: map.py, title: B, url_path: b}\n")
    with pytest.raises(ValueError, match="share a file"):
        load_pages(bad)


# ---------------------------------------------------------------- issue 8: the new pages
def _download(at: AppTest, name: str):
    """(table, notes) a page's download buttons write, and the CSV / XLSX bytes made from them."""
    from pipelines import downloads

    table, notes = at.session_state["downloads"][name]
    return table, notes, downloads.csv_bytes(table, notes), downloads.xlsx_bytes(table, notes, sheet_title="t")


def _csv_rows(data: bytes) -> list[list[str]]:
    import csv
    import io

    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return rows[rows.index([]) + 1:]


def test_overview_summary_filters_and_downloads(fixture_release, tmp_path):
    import openpyxl

    at = run(SCORECARD, area="LCP01", period="2023/24")
    summary = {r["Outcome"]: r for r in at.table[0].value.to_dict("records")}
    # Boston LCP 2023/24: NI 55 amber, similar, no change, quartile 1; NI 111 withheld (counted nowhere).
    assert summary["All outcomes"]["◆ Amber"] == "1" and summary["All outcomes"]["■ Red"] == "0"
    assert summary["Be healthy"]["Q1 (best)"] == "1" and summary["Be healthy"]["No change"] == "1"
    assert summary["Make a positive contribution"]["◆ Amber"] == "0"
    table, notes, csv_data, xlsx_data = _download(at, "scorecard_LCP01_2023-24")
    rows = _csv_rows(csv_data)
    header = rows[0]
    ni111 = dict(zip(header, next(r for r in rows if r[header.index("Indicator")] == "NI 111")))
    assert ni111["Value"] == "c" and ni111["95% confidence interval"] == "c" and ni111["Area"] == "Boston LCP"
    ni55 = dict(zip(header, next(r for r in rows if r[header.index("Indicator")] == "NI 55")))
    assert ni55["Value"] == "10.6"
    assert dict(notes)["Release"] == fx.RELEASE_ID
    path = tmp_path / "o.xlsx"
    path.write_bytes(xlsx_data)
    book = openpyxl.load_workbook(path)
    cells = [[c.value for c in r] for r in book["Data"].iter_rows(min_row=4)]
    assert cells[0] == header and ["c", "c"] == [cells[2][header.index("Value")], cells[2][header.index("95% confidence interval")]]
    assert "10 or fewer children" in {r[0].value: r[1].value for r in book["Notes"].iter_rows()}["Suppression"]
    # The RAG filter: only red rows (none for Boston LCP in 2023/24), and the filter is in the URL.
    at = run(SCORECARD, area="LCP03", period="2023/24", rag="red")
    assert set(tables(at)) == {"NI 55"} and tables(at)["NI 55"]["RAG"] == "■ Red"
    assert at.query_params["rag"] == "red"


def test_profile_partnership_spine_and_neighbours(fixture_release):
    at = run(PROFILE, area="LCP01")
    rows = {r["Indicator"]: r for t in at.table for r in t.value.to_dict("records") if "Indicator" in t.value.columns}
    want = fx.expected("NI 55", "2023/24", "LCP01")
    assert rows["NI 55"]["Value"] == f"{want['value']:.1f}" == "10.6"
    assert rows["NI 55"]["Lincolnshire"] == f"{fx.expected('NI 55', '2023/24', 'E10000019')['value']:.1f}"
    assert rows["NI 55"]["England"] == "9.6" and rows["NI 55"]["RAG"] == "◆ Amber"
    assert rows["NI 55"]["Quartile (1 = best)"] == "1 (best)"
    assert rows["NI 111"]["Value"] == "c" and rows["NI 111"]["RAG"] == "–"
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    roles = {t.get("meta", {}).get("role") for f in figs for t in f["data"]}
    assert {"range", "county", "area", "withheld", "sparkline"} <= roles
    withheld = [t for f in figs for t in f["data"] if t.get("meta", {}).get("role") == "withheld"]
    assert withheld[0]["text"] == ["c (withheld)"]
    assert "y" in withheld[0] and "x" in withheld[0]  # drawn at the centre, no value
    text = " ".join(m.value for m in at.markdown)
    assert "Lincoln LCP" in text  # the other partnership area to compare with
    assert at.query_params["area"] == "LCP01"


def test_profile_ward_shows_withheld_as_c(fixture_release):
    at = run(PROFILE, area="E05009622")  # Fenside: NI 55 withheld in 2023/24
    rows = {r["Indicator"]: r for t in at.table for r in t.value.to_dict("records") if "Indicator" in t.value.columns}
    assert rows["NI 55"]["Value"] == "c" and rows["NI 55"]["95% confidence interval"] == "c"
    table, _, csv_data, _ = _download(at, "profile_E05009622")
    assert "c" in table["Value"].to_list()
    assert "8" not in [r[3] for r in _csv_rows(csv_data)[1:]]  # never Fenside's withheld count
    assert "Fishtoft" in " ".join(m.value for m in at.markdown)  # a neighbouring ward in Boston LCP


def test_indicator_detail(fixture_release):
    at = run(INDICATOR, indicator="NI 55", area="LCP01", period="2023/24", level="ward")
    trend = at.table[0].value.to_dict("records")
    assert [r["Period"] for r in trend] == ["2022/23", "2023/24"]
    assert trend[1]["Value"] == "10.6" and trend[1]["England"] == "9.6"
    figs = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    ranked = figs["ranked"]
    withheld = next(t for t in ranked["data"] if t.get("meta", {}).get("role") == "withheld")
    assert sorted(withheld["y"]) == ["<b>▶ Fenside</b>", "<b>▶ Fishtoft</b>"] and withheld["text"] == ["c", "c"]
    bars = next(t for t in ranked["data"] if t.get("meta", {}).get("role") == "bars")
    assert len(bars["x"]) == 4
    funnel = figs["funnel"]
    assert sum(len(t["x"]) for t in funnel["data"] if t.get("meta", {}).get("role") == "areas") == 4
    table, _, csv_data, _ = _download(at, "ranked")
    values = dict(zip(table["Area"].to_list(), table["Value"].to_list()))
    assert values["Fenside"] == "c" and values["Fishtoft"] == "c"
    # every chart has its own print-resolution PNG download (trend, funnel, ranked, each breakdown)
    pngs = [b.proto for b in at.get("download_button") if b.proto.label == "Download chart (PNG)"]
    assert len(pngs) == 3 + len([k for k in figs if k.startswith("bd_")])
    assert values["Coastal"] == f"{fx.expected('NI 55', '2023/24', 'E05009621')['value']:.1f}"
    at = run(INDICATOR, indicator="NI 55", area="E10000019", period="2023/24")
    groups = {r["Group"]: r for t in at.table for r in t.value.to_dict("records") if "Group" in t.value.columns}
    assert groups["Female"]["Value"] == f"{fx.expected('NI 55', '2023/24', 'E10000019', 'sex=F')['value']:.1f}"
    definition = " ".join(str(v) for t in at.table for v in t.value.to_numpy().ravel())
    assert "Reception-year children with BMI at or above the 95th centile" in definition


def test_exceptions_lists_red_first(fixture_release):
    at = run(EXCEPTIONS)
    table = at.table[0].value.to_dict("records")
    assert {(r["Indicator"], r["Area"]) for r in table} == {("NI 55", "Lincoln LCP"), ("NI 111", "Lincolnshire"),
                                                             ("NI 55", "Lincolnshire")}
    assert all(r["Priority"] == "■ Red" for r in table)
    at = run(EXCEPTIONS, area="LCP03")
    (row,) = at.table[0].value.to_dict("records")
    assert row["Value"] == "14.0" and row["England"] == "9.6"


def test_exceptions_commentary_is_plain_text(fixture_release, monkeypatch, tmp_path):
    import shutil

    from pipelines import commentary

    # its own data directory: the commentary written here must not reach other tests' briefs
    (tmp_path / "data" / "published").mkdir(parents=True)
    shutil.copy(fixture_release, tmp_path / "data" / "published" / "scorecard.duckdb")
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LCP_EDIT", "1")
    at = run(EXCEPTIONS, area="LCP03")
    at.text_area[0].input("**bold** <script>alert(1)</script>")
    at.text_input[0].input("Ana")
    at.button[0].click().run()
    assert not at.exception
    shown = at.table[0].value.to_dict("records")[0]["Commentary"]
    assert shown.startswith("**bold** <script>alert(1)</script> (Ana")
    assert "<script>" not in " ".join(m.value for m in at.markdown)
    assert commentary.current("LCP03")["text"].to_list() == ["**bold** <script>alert(1)</script>"]


def test_methods_page(fixture_release):
    at = run(METHODS)
    text = " ".join(str(v) for t in at.table for v in t.value.to_numpy().ravel())
    assert fx.RELEASE_ID in text and "10 or fewer" in text
    assert "Obesity among primary school age children in Reception Year" in text
    sources = next(t.value for t in at.table if "Next refresh" in t.value.columns).to_dict("records")
    ncmp = next(r for r in sources if r["Dataset"] == "ncmp")
    assert ncmp["Date provided"] == "10/01/2025" and ncmp["Next refresh"] == "10/01/2026"
    assert ncmp["Periods"] == "2022/23 to 2023/24"
    # Both fixture sources were due in early 2026: overdue today, with a warning each.
    assert ncmp["Status"] == "⚠ Overdue"
    assert len([w for w in at.warning if "overdue" in w.value]) == 2
    # every method with its formula and reference, from docs/methods.md
    titles = [e.label for e in at.expander]
    assert {"Confidence limits (95% and 99.8%)", "Disclosure control", "Judgements"} <= set(titles)
    shown = " ".join(m.value for m in at.markdown)
    assert "Wilson score interval" in shown and "(2x + z² ± z·√(z² + 4x(1 − x/n))) / (2(n + z²))" in shown
    assert "Byar's method" in shown and "Breslow & Day 1987" in shown


def test_map_levels_and_colours(fixture_release):
    at = run(MAP, indicator="NI 55", period="2023/24", level="partnership", colour="quartile")
    fig = _figure(at)
    quartile = [t for t in fig["data"] if t.get("meta", {}).get("role") == "quartile"]
    assert sorted(loc for t in quartile for loc in t["locations"]) == ["LCP01", "LCP03"]
    names = [t["name"] for t in fig["data"] if t.get("meta", {}).get("role") == "legend"]
    assert "Quartile 1 (best)" in names and "withheld (c)" in names
    at = run(MAP, indicator="NI 111", period="2023/24", level="district", colour="vs_benchmark")
    fig = _figure(at)
    withheld = next(t for t in fig["data"] if t.get("meta", {}).get("role") == "withheld")
    assert sorted(withheld["locations"]) == ["E07000136", "E07000138"]
    table, _, _, _ = _download(at, "map_NI_111_2023_24_district")
    assert table["Value"].to_list() == ["c", "c"]


def test_postcode_search_in_the_sidebar(fixture_release):
    at = run(APP)
    at.sidebar.text_input(key="postcode").input("pe218dx").run()
    assert not at.exception
    assert "**PE21 8DX**" in [c.value for c in at.sidebar.caption]
    links = [(e.proto.label, e.proto.page) for e in at.sidebar.get("page_link")]
    assert [label for label, _ in links] == ["Fenside (ward)", "Boston LCP (partnership area)"], links
    at.sidebar.text_input(key="postcode").input("not a postcode").run()
    assert "not a valid postcode" in " ".join(c.value for c in at.sidebar.caption)


# ---------------------------------------------------------------- issue 13: the local plan
PLAN = "../dashboard/pages/plan.py"
TYPED = "**bold** <script>alert(1)</script> =SUM(A1)"


@pytest.fixture()
def plan_data(fixture_release, tmp_path, monkeypatch):
    """A private LCP_DATA_DIR with a copy of the fixture release and a small plan for Lincoln LCP (LCP03)."""
    import datetime as dt
    import shutil

    from pipelines import plans

    d = tmp_path / "data"
    (d / "published").mkdir(parents=True)
    shutil.copy(fixture_release, d / "published" / "scorecard.duckdb")
    monkeypatch.setenv("LCP_DATA_DIR", str(d))
    monkeypatch.delenv("LCP_EDIT", raising=False)
    aid = plans.save_action({"area_code": "LCP03", "code": "LP-01", "title": TYPED, "indicator_ids": "NI 55",
                             "lead": "School nurses", "start_date": dt.date(2022, 9, 1),
                             "due_date": dt.date(2025, 3, 31), "rating": "green"}, actor="ana")
    plans.add_progress(aid, "2024/25 Q4", TYPED, "green", actor="ana")
    plans.set_priority("LCP03", "2023/24", "NI 55", "laa", actor="ana")
    return d


def test_plan_page_shows_priorities_actions_and_movement(plan_data):
    at = run(PLAN, area="LCP03")
    shown = {tuple(t.value.columns): t.value.to_dict("records") for t in at.table}
    (pri,) = [rows for cols, rows in shown.items() if "Plan" in cols]
    assert pri == [{"Indicator": "NI 55", "Title": "Obesity among primary school age children in Reception Year",
                    "Plan": "Local Area Agreement", "Period": "2023/24", "Chosen by": "ana"}]
    (acts,) = [rows for cols, rows in shown.items() if "Lead" in cols]
    # Past its due date at the release's date (30 June 2025): overdue, shown as symbol and word.
    assert acts[0]["Status"] == "■ Overdue (due 31/03/2025; rated Green)"
    assert acts[0]["Action"] == TYPED and acts[0]["Latest progress"] == f"2024/25 Q4: {TYPED}"  # as typed
    (working,) = [rows for cols, rows in shown.items() if "Working?" in cols]
    assert working[0]["Value then"] == f"{fx.expected('NI 55', '2022/23', 'LCP03')['value']:.1f}"
    assert working[0]["Working?"] == "► No significant change"
    (off,) = [rows for cols, rows in shown.items() if "Analysis" in cols]
    assert off[0]["Analysis"] == "– (exception report needed)"
    assert "<script>" not in " ".join(m.value for m in at.markdown)
    assert "Edit the plan (analysts)" not in [s.value for s in at.subheader]  # read-only: no LCP_EDIT
    assert not at.text_area and not at.button
    table, _ = at.session_state["downloads"]["plan_LCP03"]
    assert table["title"].to_list() == [TYPED]


def test_plan_page_editing_only_when_allowed(plan_data, monkeypatch):
    from pipelines import plans

    monkeypatch.setenv("LCP_EDIT", "1")
    at = run(PLAN, area="LCP03")
    assert "Edit the plan (analysts)" in [s.value for s in at.subheader]
    # Choose a priority from the exceptions (NI 55 is red for Lincoln LCP), for the Children and Young People's Plan.
    (pick,) = [m for m in at.multiselect if "exceptions" in m.label]
    pick.set_value(["NI 55|2023/24"])
    plan_box = [s for s in at.selectbox if s.label == "The plan it serves"][0]
    plan_box.set_value("cypp")
    [t for t in at.text_input if t.key == "priority_actor"][0].input("Bea")
    [b for b in at.button if b.label == "Make priorities"][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert plans.priorities("LCP03").select("indicator_id", "plan", "updated_by").rows() == [("NI 55", "cypp", "Bea")]
    # Write the exception report of the overdue action.
    report_areas = [t for t in at.text_area if t.label.startswith(("Analysis", "Options"))]
    report_areas[0].input("Nurses off sick")
    report_areas[1].input("=Agency cover")
    [t for t in at.text_input if t.key == "report_actor"][0].input("Bea")
    [b for b in at.button if b.label == "Save report"][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    rep = plans.report(plans.actions("LCP03")["id"][0])
    assert (rep["analysis"], rep["options"], rep["updated_by"]) == ("Nurses off sick", "=Agency cover", "Bea")


def test_overview_profile_and_indicator_show_the_plan(plan_data):
    at = run(SCORECARD, area="LCP03")
    assert [s.value for s in at.subheader][:2] == ["Board priorities", "Summary"]  # priorities first
    assert at.table[0].value.to_dict("records")[0]["Plan"] == "Local Area Agreement"
    at = run(PROFILE, area="E05010784")  # a Lincoln ward: its partnership area's plan
    rows = [r for t in at.table if "Action" in t.value.columns for r in t.value.to_dict("records")]
    assert rows == [{"Indicators": "NI 55", "Action": f"LP-01: {TYPED}", "Lead": "School nurses", "Due": "31/03/2025",
                     "Status": "■ Overdue (due 31/03/2025; rated Green)"}]
    at = run(INDICATOR, indicator="NI 111", area="LCP03")
    assert "No local plan action aims to move this indicator in Lincoln LCP (partnership area)." in [
        c.value for c in at.caption]
    at = run(INDICATOR, indicator="NI 55", area="LCP03")
    rows = [r for t in at.table if "Action" in t.value.columns for r in t.value.to_dict("records")]
    assert rows[0]["Partnership area"] == "Lincoln LCP" and rows[0]["Status"].startswith("■ Overdue")


def test_plan_page_behind_the_login_analysts_edit_as_themselves(plan_data, tmp_path, monkeypatch):
    from pipelines import auth, plans

    folder = tmp_path / "auth"
    folder.mkdir(mode=0o700)
    accounts = folder / "users.yaml"
    auth.add_or_update_user("vic", "viewer", "viewer-password-1", path=accounts)
    auth.add_or_update_user("ana", "analyst", "analyst-password-1", path=accounts)
    monkeypatch.setenv("LCP_AUTH_FILE", str(accounts))
    monkeypatch.setenv("LCP_LOGIN", "1")
    monkeypatch.setenv("LCP_EDIT", "1")  # ignored behind the login: the role decides

    def as_user(name: str) -> AppTest:
        at = AppTest.from_file(PLAN, default_timeout=TIMEOUT)
        at.session_state["authentication_status"] = True
        at.session_state["username"] = name
        at.query_params["area"] = "LCP03"
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    at = as_user("vic")
    assert not at.text_area and not at.button and "Edit the plan (analysts)" not in [s.value for s in at.subheader]
    at = as_user("ana")
    assert "Your name" not in [t.label for t in at.text_input]  # the account is the actor
    report = [t for t in at.text_area if t.label.startswith(("Analysis", "Options"))]
    report[0].input("Nurses off sick")
    report[1].input("Agency cover")
    next(b for b in at.button if b.label == "Save report").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert plans.report(plans.actions("LCP03")["id"][0])["updated_by"] == "ana"


def test_a_chart_png_is_made_print_ready_only_when_clicked(fixture_release, monkeypatch):
    import io

    import plotly.graph_objects as go
    from PIL import Image

    from dashboard import common
    from pipelines import charts

    made, buttons = [], {}
    real = charts.print_ready
    monkeypatch.setattr(charts, "print_ready", lambda *a, **kw: made.append(kw) or real(*a, **kw))
    monkeypatch.setattr(common.st, "download_button",
                        lambda label, data, file_name, **kw: buttons.update({file_name: (label, data)}))
    key = (str(fixture_release), fixture_release.stat().st_mtime_ns)
    common.png_download(key, go.Figure(go.Bar(x=["a"], y=[1])), title="NI 55 Obesity", subtitle="Wards, 2023/24",
                        stem="ranked NI 55 2023/24", footnote="Source: LCHS.")
    (name, (label, data)), = buttons.items()
    assert name == "ranked_NI_55_2023_24.png" and label == "Download chart (PNG)"
    assert made == []  # nothing drawn on the page's run
    png = data()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and Image.open(io.BytesIO(png)).width >= 1000
    (kw,) = made
    assert kw["title"] == "NI 55 Obesity" and kw["subtitle"] == "Wards, 2023/24"
    assert fx.RELEASE_ID in kw["source"]
    assert kw["footnote"].startswith("Source: LCHS. Figures for 10 or fewer children are withheld")


def test_map_says_which_levels_an_indicator_has_when_the_chosen_one_has_none(fixture_release, tmp_path, monkeypatch):
    import shutil

    import duckdb

    data = tmp_path / "data"
    (data / "published").mkdir(parents=True)
    release = data / "published" / "scorecard.duckdb"
    shutil.copy(fixture_release, release)
    con = duckdb.connect(str(release))  # as a district-only aggregate supply: no ward rows
    con.execute("DELETE FROM indicator_values WHERE indicator_id = 'NI 111' AND area_level = 'ward'")
    con.close()
    monkeypatch.setenv("LCP_DATA_DIR", str(data))
    at = run(MAP, indicator="NI 111", period="2023/24", level="ward")
    assert [i.value for i in at.info] == [
        "NI 111 has no figures for wards in 2023/24: its data support districts and partnership areas. "
        "Choose them under Areas."]
    assert not at.get("plotly_chart")
    at = run(MAP, indicator="NI 111", period="2023/24", level="district")
    assert not at.info and len(at.get("plotly_chart")) == 1
