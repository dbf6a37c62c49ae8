"""The dashboard pages under streamlit.testing (AppTest): what a reader sees, and no exceptions."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

import fixture_release as fx

APP = "../dashboard/app.py"  # AppTest paths are relative to this file
SCORECARD = "../dashboard/pages/scorecard.py"
MAP = "../dashboard/pages/map.py"
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
    assert [s.value for s in at.subheader] == ["Be healthy", "Make a positive contribution"]
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
        "area": "LCP01", "indicator": "NI 55", "period": "2023/24", "colour": "rag", "view": "county"
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
    for script in (APP, SCORECARD, MAP):
        at = AppTest.from_file(script, default_timeout=TIMEOUT).run()
        assert not at.exception
        assert "No published release at" in at.error[0].value
        assert "lcp build" in at.error[0].value


def test_pages_yaml_is_valid_and_checked(tmp_path):
    from dashboard.common import load_pages

    pages = load_pages()
    assert [(p.file, p.title, p.url_path) for p in pages][:2] == [
        ("scorecard.py", "Scorecard", "scorecard"), ("map.py", "Map", "map")
    ]
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
