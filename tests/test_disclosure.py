"""Primary and complementary suppression on small hand-made tables."""
from __future__ import annotations

import itertools

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.disclosure import linked_constraints, protect_counts, suppress

T = 10
HIER = pl.DataFrame(
    {
        "ward_code": ["W1", "W2", "W3", "W4", "W5", "W6"],
        "district_code": ["D1", "D1", "D1", "D2", "D2", "D2"],
        "partnership_code": ["P1", "P1", "P1", "P2", "P2", "P2"],
        "county_code": ["C"] * 6,
    }
)


def table(ward_values: dict[str, tuple[int, int]], indicator="X", period="2024/25", den=None):
    """Rows for every level and breakdown from ward (F, M) numerators; client denominators if given."""
    rows = []
    lookup = {r["ward_code"]: r for r in HIER.iter_rows(named=True)}
    cells: dict[tuple[str, str, str], list[float]] = {}
    for ward, (f, m) in ward_values.items():
        d = den[ward] if den else (1000.0, 1000.0)
        for level, code in (("ward", ward), ("district", lookup[ward]["district_code"]),
                            ("partnership", lookup[ward]["partnership_code"]), ("county", "C")):
            for b, n, dd in (("all", f + m, d[0] + d[1]), ("sex=F", f, d[0]), ("sex=M", m, d[1])):
                acc = cells.setdefault((level, code, b), [0, 0.0])
                acc[0] += n
                acc[1] += dd
    for (level, code, b), (n, d) in cells.items():
        rows.append((indicator, period, code, level, b, n, float(d)))
    return pl.DataFrame(rows, schema={"indicator_id": pl.String, "period": pl.String, "area_code": pl.String,
                                      "area_level": pl.String, "breakdown": pl.String, "numerator": pl.Int64,
                                      "denominator": pl.Float64}, orient="row")


def meta(kind="population", sensitive=False):
    return pl.DataFrame({"indicator_id": ["X"], "denominator_kind": [kind], "sensitive": [sensitive]})


def hidden(out: pl.DataFrame) -> set[tuple[str, str]]:
    return {(r["area_code"], r["breakdown"]) for r in out.filter(pl.col("suppressed")).iter_rows(named=True)}


def test_lone_suppressed_ward_gets_smallest_sibling_as_complement():
    values = {("W1", "all"): 3, ("W2", "all"): 20, ("W3", "all"): 30, ("D1", "all"): 53}
    cons = linked_constraints(HIER.filter(pl.col("district_code") == "D1").with_columns(
        pl.lit("C").alias("county_code")), ["all"], {"W1", "W2", "W3", "D1"})
    out = protect_counts(values, {("W1", "all")}, cons, T)
    assert out == {("W1", "all"), ("W2", "all")}


def test_pair_summing_to_ten_or_less_is_protected_by_a_third_cell():
    values = {("W1", "all"): 3, ("W2", "all"): 4, ("W3", "all"): 50, ("D1", "all"): 57}
    cons = linked_constraints(HIER.filter(pl.col("ward_code").is_in(["W1", "W2", "W3"])), ["all"],
                              {"W1", "W2", "W3", "D1"})
    out = protect_counts(values, {("W1", "all"), ("W2", "all")}, cons, T)
    assert out == {("W1", "all"), ("W2", "all"), ("W3", "all")}


def test_suppress_nulls_counts_keeps_population_denominator_and_protects_every_constraint():
    t = table({"W1": (2, 1), "W2": (15, 12), "W3": (20, 25), "W4": (30, 31), "W5": (40, 2), "W6": (33, 35)})
    out = suppress(t, meta(), HIER, T)
    assert out.height == t.height
    h = hidden(out)
    # primary: W1 all (3), W1 F (2), W1 M (1), W5 M (2)
    assert {("W1", "all"), ("W1", "sex=F"), ("W1", "sex=M"), ("W5", "sex=M")} <= h
    # W5 sex=M hidden alone at W5 -> W5 sex=F also hidden (the only other part)
    assert ("W5", "sex=F") in h
    # withheld rows have no numerator; population denominators stay
    sup = out.filter(pl.col("suppressed"))
    assert sup["numerator"].null_count() == sup.height
    assert sup["denominator"].null_count() == 0
    assert_protected(out, t)


def test_client_denominator_and_sensitive_complement():
    # W3 numerator 40 of 45: complement 5 <= 10 -> withheld for a sensitive indicator
    den = {w: (50.0, 50.0) for w in ["W1", "W2", "W4", "W5", "W6"]}
    den["W3"] = (20.0, 25.0)
    t = table({"W1": (20, 20), "W2": (30, 30), "W3": (20, 20), "W4": (25, 25), "W5": (26, 26), "W6": (27, 27)},
              den=den)
    plain = hidden(suppress(t, meta("client", False), HIER, T))
    assert ("W3", "all") not in plain
    sens = suppress(t, meta("client", True), HIER, T)
    assert ("W3", "all") in hidden(sens)
    sup = sens.filter(pl.col("suppressed"))
    assert sup["denominator"].null_count() == sup.height  # client denominators are withheld with the row
    assert_protected(sens, t, client=True)


def assert_protected(out: pl.DataFrame, original: pl.DataFrame, client: bool = False) -> None:
    """No published count <= T; no constraint with exactly one withheld cell; withheld parts under a
    published total sum to more than T."""
    published = out.filter(~pl.col("suppressed"))
    assert published.filter(pl.col("numerator") <= T).height == 0
    if client:
        assert published.filter(pl.col("denominator") <= T).height == 0
    areas = set(original["area_code"].to_list())
    cons = linked_constraints(HIER, sorted(set(original["breakdown"].to_list())), areas)
    for (ind, period), grp in original.group_by("indicator_id", "period"):
        vals = {(r["area_code"], r["breakdown"]): r["numerator"] for r in grp.iter_rows(named=True)}
        h = hidden(out.filter((pl.col("indicator_id") == ind) & (pl.col("period") == period)))
        for c in cons:
            members = (c.total,) + c.parts
            n_hidden = sum(m in h for m in members)
            assert n_hidden != 1, (c, h)
            if c.total not in h:
                parts = [p for p in c.parts if p in h]
                if parts:
                    assert sum(vals[p] for p in parts) > T, c


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=6, max_size=6))
def test_random_tables_are_always_protected(wards):
    t = table(dict(zip(["W1", "W2", "W3", "W4", "W5", "W6"], wards)))
    out = suppress(t, meta(), HIER, T)
    assert_protected(out, t)


def test_coterminous_partnership_and_district_share_suppression():
    t = table({"W1": (1, 1), "W2": (1, 1), "W3": (1, 1), "W4": (30, 31), "W5": (40, 22), "W6": (33, 35)})
    out = suppress(t, meta(), HIER, T)
    h = hidden(out)
    for b in ("all", "sex=F", "sex=M"):
        assert (("D1", b) in h) == (("P1", b) in h)
        assert (("D2", b) in h) == (("P2", b) in h)
    # D1 total is 6: primary; the county can then not be published with only D1 withheld
    assert ("D1", "all") in h and ("D2", "all") in h or ("C", "all") in h
