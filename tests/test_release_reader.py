"""pipelines.release returns exactly what the (fixture) release holds."""
from __future__ import annotations

import math

import duckdb
import pytest

import fixture_release as fx
from pipelines import config
from pipelines.release import ReleaseMissing, ReleaseReader, open_release


@pytest.fixture(scope="module")
def reader(fixture_release):
    con = open_release()
    yield ReleaseReader(con)
    con.close()


def close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def test_default_path_is_the_fixture(fixture_release):
    assert config.release_path() == fixture_release


def test_missing_release_says_how_to_build(tmp_path):
    with pytest.raises(ReleaseMissing, match=r"No published release at .*scorecard\.duckdb: run `lcp build` \(or `make run`\)\."):
        open_release(tmp_path / "published" / "scorecard.duckdb")


def test_connection_is_read_only(reader):
    with pytest.raises(duckdb.Error):
        reader._con.cursor().execute("CREATE TABLE x (a INTEGER)")


def test_release_info(reader):
    info = reader.release_info()
    assert info["release_id"] == fx.RELEASE_ID
    assert info["built_at"] == fx.BUILT_AT
    assert info["suppression_threshold"] == 10
    assert info["methods_version"] == "2026.1"


def test_areas_and_partnerships(reader):
    assert reader.partnerships().rows() == [("LCP01", "Boston LCP"), ("LCP03", "Lincoln LCP")]
    wards = reader.areas("ward")
    assert sorted(wards["area_code"]) == sorted(fx.WARDS)
    assert dict(zip(wards["area_code"], wards["area_name"])) == {c: n for c, (n, _, _) in fx.WARDS.items()}
    everything = reader.areas()
    assert everything.height == 1 + 2 + 2 + 6
    assert everything.row(0) == ("E10000019", "Lincolnshire", "county", None)
    assert reader.area_lookup().height == 6


def test_indicators_in_ecm_then_natural_order(reader):
    inds = reader.indicators()
    assert inds["indicator_id"].to_list() == ["NI 55", "NI 111"]
    assert inds.filter(inds["indicator_id"] == "NI 111")["unit"].item() == "rate per 100,000"


def test_periods(reader):
    assert reader.periods("NI 55") == ["2022/23", "2023/24"]
    assert reader.latest_period("NI 111") == "2023/24"
    assert reader.periods("NI 999") == []
    assert reader.latest_period("NI 999") is None


@pytest.mark.parametrize("area", ["LCP01", "LCP03", "E10000019"])
@pytest.mark.parametrize("period", [None, "2022/23"])
def test_scorecard_matches_fixture(reader, area, period):
    card = reader.scorecard(area, period)
    assert card["indicator_id"].to_list() == ["NI 55", "NI 111"]
    for row in card.iter_rows(named=True):
        want = fx.expected(row["indicator_id"], period or "2023/24", area)
        assert row["period"] == (period or "2023/24")
        for col in ("numerator", "denominator", "value", "lower_95", "upper_95", "quartile"):
            assert close(row[col], want[col]), (row["indicator_id"], col)
        for col in ("suppressed", "rag", "direction", "vs_benchmark"):
            assert row[col] == want[col], (row["indicator_id"], col)
        assert row["benchmark_value"] == fx.ENGLAND[(row["indicator_id"], row["period"])]
        meta = next(i for i in fx.INDICATORS if i["indicator_id"] == row["indicator_id"])
        assert (row["title"], row["ecm_outcome"], row["unit"], row["polarity"]) == (
            meta["title"], meta["ecm_outcome"], meta["unit"], meta["polarity"]
        )


def test_scorecard_known_values(reader):
    card = {r["indicator_id"]: r for r in reader.scorecard("LCP01").iter_rows(named=True)}
    assert card["NI 55"]["value"] == pytest.approx(34 / 320 * 100)  # 10.6
    assert card["NI 55"]["suppressed"] is False
    assert card["NI 111"]["suppressed"] is True
    assert card["NI 111"]["value"] is None and card["NI 111"]["rag"] is None
    county = {r["indicator_id"]: r for r in reader.scorecard("E10000019").iter_rows(named=True)}
    assert county["NI 55"]["numerator"] == 97  # breakdown 'all', not a sex part
    assert county["NI 111"]["direction"] == "improving"


def test_scorecard_period_without_rows_is_no_data(reader):
    card = reader.scorecard("LCP01", "2019/20")
    assert card.height == 2
    assert card["value"].null_count() == 2
    assert not card["suppressed"].any()


def test_map_values_matches_fixture(reader):
    frame = reader.map_values("NI 55", "2023/24")
    assert frame.columns[:2] == ["area_code", "area_name"]
    for col in ("value", "lower_95", "upper_95", "numerator", "denominator", "suppressed", "rag", "quartile",
                "vs_benchmark", "direction", "partnership_code"):
        assert col in frame.columns
    assert frame["area_code"].to_list() == sorted(fx.WARDS)
    for row in frame.iter_rows(named=True):
        want = fx.expected("NI 55", "2023/24", row["area_code"])
        assert row["suppressed"] == want["suppressed"]
        assert close(row["value"], want["value"])
        assert close(row["upper_95"], want["upper_95"])
        assert row["rag"] == want["rag"]
        assert row["partnership_code"] == fx.WARDS[row["area_code"]][2]
    assert frame.filter(frame["suppressed"])["area_code"].to_list() == ["E05009622", "E05009623"]
    lcps = reader.map_values("NI 111", "2023/24", level="partnership")
    assert lcps["suppressed"].to_list() == [True, True]
    assert lcps["value"].null_count() == 2


def test_sources_and_benchmarks(reader):
    sources = reader.sources()
    assert sources.height == 4
    assert set(sources["dataset"]) == {"ncmp", "yjs_disposals"}
    bench = reader.benchmarks("NI 55")
    england = bench.filter(bench["benchmark"] == "England")
    assert dict(zip(england["period"], england["value"])) == {"2022/23": 9.2, "2023/24": 9.6}


def test_incomplete_release_is_reported(tmp_path):
    path = tmp_path / "scorecard.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE areas (area_code VARCHAR)")
    con.close()
    with pytest.raises(ReleaseMissing, match="incomplete"):
        open_release(path)


def test_latest_period_prefers_the_newest_year_to_its_quarters_and_windows():
    con = duckdb.connect()
    con.execute("CREATE TABLE indicator_values (indicator_id VARCHAR, period VARCHAR)")
    con.executemany("INSERT INTO indicator_values VALUES (?, ?)", [
        ("Q", "2023/24"), ("Q", "2024/25"), ("Q", "2024/25 Q3"), ("Q", "2024/25 Q4"),
        ("R", "2024/25"), ("R", "12m to 2025-03"), ("R", "12m to 2025-06"),
        ("W", "12m to 2024-12"), ("W", "12m to 2025-03"),
    ])
    reader = ReleaseReader(con)
    assert reader.latest_period("Q") == "2024/25"
    assert reader.latest_period("R") == "2024/25"
    assert reader.latest_period("W") == "12m to 2025-03"  # no year: the newest window
