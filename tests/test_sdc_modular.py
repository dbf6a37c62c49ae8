"""Disclosure control by sub-tables for large geographies (pipelines/sdc_modular.py, issue 10).

The split is forced onto small hand-made tables (LCP_SDC_MODULAR_WARDS=0) and its result is checked
with the whole linked system: the exact audit and the independent attacker (tests/sdc_attack.py)."""
from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sdc_attack
from pipelines import sdc_audit, sdc_modular
from pipelines.disclosure import geography_of, suppress, suppress_with_report
from pipelines.sdc_system import build_system
from sdc_tables import T, YEAR, hidden, hierarchy, meta, table, withhold

H3 = hierarchy({"D1": ["W1", "W2", "W3"], "D2": ["W4", "W5", "W6"], "D3": ["W7", "W8"]})
WARDS = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"]


@pytest.fixture
def split(monkeypatch):
    """Every geography split into sub-tables (as a national one is)."""
    monkeypatch.setenv("LCP_SDC_MODULAR_WARDS", "0")


def whole_audit(out: pl.DataFrame, hier: pl.DataFrame, kind: str = "population", sensitive: bool = False):
    """The exact audit over the whole linked system, whatever LCP_SDC_MODULAR_WARDS says."""
    mp = pytest.MonkeyPatch()
    mp.setattr(sdc_modular, "modular_wards", lambda: 10**9)
    try:
        return sdc_audit.audit_values(out, meta(kind, sensitive), hier, T, "test")
    finally:
        mp.undo()


def ward_totals_only(rows: pl.DataFrame) -> pl.DataFrame:
    """The layout measures publishes: wards for `all` and the year only."""
    return rows.filter((pl.col("area_level") != "ward") | ((pl.col("breakdown") == "all") & (pl.col("period") == YEAR)))


def assert_safe(out: pl.DataFrame, hier: pl.DataFrame, kind: str = "population", sensitive: bool = False) -> None:
    published = out.filter(~pl.col("suppressed"))
    assert published.filter(pl.col("numerator") <= T).height == 0
    report = whole_audit(out, hier, kind, sensitive)
    assert report.ok, report.summary_lines()
    assert sdc_attack.attack(out, hier, T, "numerator") == []


def test_the_split_has_a_top_and_one_part_per_district():
    geo = geography_of(H3)
    assert sdc_modular.modular_of(geo, limit=8) is None  # 8 wards: one linked system
    mod = sdc_modular.modular_of(geo, limit=7)
    assert mod is not None
    assert mod.top.wards == ["D1\x1fP1", "D2\x1fP2", "D3\x1fP3"]
    assert [p.wards for p in mod.parts] == [["W1", "W2", "W3"], ["W4", "W5", "W6"], ["W7", "W8"]]
    assert mod.part_of_area["W5"] == mod.part_of_area["D2"] == mod.part_of_area["P2"] == 1
    rows = table({(w, None, "F"): 20 for w in WARDS} | {(w, None, "M"): 20 for w in WARDS}, hier=H3)
    keys = list(rows.select("period", "area_code", "breakdown").iter_rows())
    top, parts = sdc_modular.split_rows(keys, geo, mod)
    assert {keys[i][1] for i in top} == {"C", "D1", "D2", "D3", "P1", "P2", "P3"}
    assert [p.wards for p, _ in parts] == [m.wards for m in mod.parts]
    assert [sorted({keys[i][1] for i in rows}) for _, rows in parts] == [
        ["D1", "P1", "W1", "W2", "W3"], ["D2", "P2", "W4", "W5", "W6"], ["D3", "P3", "W7", "W8"]]
    # wards published for `all` only: a part holds its district's `all` rows, not its breakdowns
    keys = [k for k in keys if not (k[1].startswith("W") and k[2] != "all")]
    _, parts = sdc_modular.split_rows(keys, geo, mod)
    assert sorted({keys[i][2] for i in parts[0][1]}) == ["all"] and len(parts[0][1]) == 5


def test_a_partnership_across_two_districts_joins_them_in_one_part():
    hier = pl.DataFrame([("W1", "D1", "P1", "C"), ("W2", "D1", "P2", "C"), ("W3", "D2", "P2", "C"),
                         ("W4", "D3", "P3", "C")],
                        schema=["ward_code", "district_code", "partnership_code", "county_code"], orient="row")
    mod = sdc_modular.modular_of(geography_of(hier), limit=0)
    assert [p.wards for p in mod.parts] == [["W1", "W2", "W3"], ["W4"]]
    assert len(mod.top.wards) == 4  # (D1, P1), (D1, P2), (D2, P2), (D3, P3)


def test_subset_bounds_sum_disjoint_published_parts():
    rows = ward_totals_only(table({("W1", None): 45, ("W2", None): 45, ("W3", None): 5, ("W4", None): 30,
                                   ("W5", None): 30, ("W6", None): 30, ("W7", None): 12, ("W8", None): 12},
                                  hier=H3, dims={}))
    keys = list(rows.select("period", "area_code", "breakdown").iter_rows())
    s = build_system(keys, geography_of(H3))
    cell = {keys[i][1]: s.cell_of_row[i] for i in range(len(keys))}
    values = s.cell_values([float(v) for v in rows["numerator"]])
    published = [cell["W1"], cell["W2"], cell["W4"]]
    got = sdc_modular.subset_bounds(s, published, values, [cell["D1"], cell["D2"], cell["D3"], cell["C"]])
    assert got == {cell["D1"]: 90.0, cell["D2"]: 30.0, cell["C"]: 120.0}


def test_what_the_wards_say_about_their_district_is_attacked_at_the_top(split):
    """County 100 = D1 95 + D2 5, D1's wards 45 + 45 + 5: publishing the county and W1, W2 shows that
    D1 is at least 90, so D2 is at most 10 (and then W3, W4, W5 too). The modular audit finds all of
    it, as the whole system's audit does; modular suppression withholds one more ward of D1."""
    hier = hierarchy({"D1": ["W1", "W2", "W3"], "D2": ["W4", "W5"]})
    rows = table({("W1", None): 45, ("W2", None): 45, ("W3", None): 5, ("W4", None): 3, ("W5", None): 2},
                 hier=hier, dims={})
    naive = withhold(rows, [("D1", "all"), ("P1", "all"), ("D2", "all"), ("P2", "all"), ("W3", "all"),
                            ("W4", "all"), ("W5", "all")])
    modular = sdc_audit.audit_values(naive, meta(), hier, T, "test")
    whole = whole_audit(naive, hier)
    found = {k[2] for k in modular.failing}
    assert found == {"D2", "P2", "W3", "W4", "W5"}  # P2 is D2 (the same wards): one count
    assert {k[2] for k in whole.failing} - {"P2"} == found - {"P2"}
    out = suppress(rows, meta(), hier, T)
    assert {"W1", "W2"} & {a for _, a, _ in hidden(out)}  # a second ward of D1 withheld
    assert_safe(out, hier)
    assert sdc_audit.audit_values(out, meta(), hier, T, "test").ok


def test_a_ward_is_protected_whatever_the_top_says_about_its_district(split):
    """D1 (14) is withheld at the top as D2's complement; W1 (3) is primary; with D1 treated as known
    in D1's part, the wards there are protected as if D1 were published (W1 is not left alone)."""
    hier = hierarchy({"D1": ["W1", "W2", "W3"], "D2": ["W4", "W5", "W6"]})
    rows = table({("W1", None): 3, ("W2", None): 5, ("W3", None): 6, ("W4", None): 2, ("W5", None): 40,
                  ("W6", None): 50}, hier=hier, dims={})
    out = suppress(rows, meta(), hier, T)
    assert (YEAR, "W1", "all") in hidden(out)
    assert_safe(out, hier)


@st.composite
def national_shaped(draw):
    """Three districts; districts and the county by sex (and quarters), wards for `all` and the year."""
    quarters = draw(st.booleans())
    qs = (1, 2, 3, 4) if quarters else (None,)
    cells = {(w, q, s): draw(st.integers(0, 14)) for w in WARDS for q in qs for s in ("F", "M")}
    return ward_totals_only(table(cells, hier=H3, quarters=quarters))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(national_shaped())
def test_modular_suppression_passes_the_whole_systems_audit(split, rows):
    out, report = suppress_with_report(rows, meta(), H3, T)
    assert report.blocks == 1
    assert_safe(out, H3)
    assert sdc_audit.audit_values(out, meta(), H3, T, "test").ok  # and the modular audit agrees


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=8, max_size=8), st.booleans())
def test_modular_client_tables_numerators_and_complements(split, pairs, sensitive):
    cells, den = {}, {}
    for w, (a, b) in zip(WARDS, pairs, strict=True):
        for s, extra in (("F", 0), ("M", 3)):
            cells[(w, None, s)] = min(a, b)
            den[(w, None, s)] = max(a, b) + extra
    rows = ward_totals_only(table(cells, hier=H3, den=den))
    out = suppress(rows, meta("client", sensitive), H3, T)
    assert out.filter(~pl.col("suppressed") & (pl.col("denominator") <= T)).height == 0
    assert_safe(out, H3, "client", sensitive)


def test_small_geographies_are_one_linked_system_and_unchanged(monkeypatch):
    """Lincolnshire's 155 wards are under the limit: the split is not used, the pattern is the whole
    system's (the same as with the limit raised out of reach)."""
    cells = {(w, q, s): (3 * i + q + (s == "F")) % 15 for i, w in enumerate(WARDS) for q in (1, 2, 3, 4)
             for s in ("F", "M")}
    rows = ward_totals_only(table(cells, hier=H3, quarters=True))
    assert sdc_modular.modular_wards() == sdc_modular.MODULAR_WARDS > 155
    default = suppress(rows, meta(), H3, T)
    monkeypatch.setenv("LCP_SDC_MODULAR_WARDS", "0")
    split_out = suppress(rows, meta(), H3, T)
    monkeypatch.setenv("LCP_SDC_MODULAR_WARDS", "1000000")
    assert suppress(rows, meta(), H3, T).equals(default)
    assert_safe(default, H3)
    assert_safe(split_out, H3)
