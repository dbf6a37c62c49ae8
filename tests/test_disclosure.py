"""Disclosure control on hand-made linked tables.

Each known attack is shown twice: it succeeds against a naive pattern (the independent attacker in
tests/sdc_attack.py recovers or bounds the count), and it fails against what `suppress` withholds.
Property tests: on random hierarchical tables, after suppression the audit always passes and no
published count is 10 or less.
"""
from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sdc_attack
from pipelines import sdc_audit, sdc_system
from pipelines.disclosure import suppress, suppress_with_report
from sdc_tables import HIER, QUARTERS, T, YEAR, hidden, hierarchy, meta, table, withhold

ETH = {"ethnicity": ["Asian", "White"]}
SEX_ETH = {"sex": ["F", "M"], "ethnicity": ["Asian", "White"]}


def attack(out: pl.DataFrame, hier: pl.DataFrame = HIER, value: str = "numerator"):
    return sdc_attack.attack(out, hier, T, value)


def failing_keys(out, hier=HIER):
    return {v.key[1:] for v in attack(out, hier)}


def audit(out: pl.DataFrame, kind: str = "population", sensitive: bool = False, hier: pl.DataFrame = HIER):
    return sdc_audit.audit_values(out, meta(kind, sensitive), hier, T, "test")


def assert_safe(out: pl.DataFrame, kind: str = "population", sensitive: bool = False, hier=HIER) -> None:
    published = out.filter(~pl.col("suppressed"))
    assert published.filter(pl.col("numerator") <= T).height == 0
    if kind == "client":
        assert published.filter(pl.col("denominator") <= T).height == 0
    report = audit(out, kind, sensitive, hier)
    assert report.ok, report.summary_lines()
    assert attack(out, hier) == []


# ----------------------------------------------------------------------------------- known attacks
def test_lone_suppressed_child_is_recovered_from_its_parent_unless_a_complement_is_withheld():
    cells = {("W1", None, "F"): 3, ("W2", None, "F"): 20, ("W3", None, "F"): 30,
             ("W4", None, "F"): 40, ("W5", None, "F"): 25, ("W6", None, "F"): 33}
    for w in ("W1", "W2", "W3", "W4", "W5", "W6"):
        cells[(w, None, "M")] = 30
    rows = table(cells)
    naive = withhold(rows, [("W1", "sex=F")])
    found = {v.key[1:]: v for v in attack(naive)}
    assert found[(YEAR, "W1", "sex=F")].lo == found[(YEAR, "W1", "sex=F")].hi == 3  # total minus the rest
    out = suppress(rows, meta(), HIER, T)
    assert (YEAR, "W1", "sex=F") in hidden(out)
    assert_safe(out)


def test_a_pair_summing_to_ten_or_less_gets_a_third_cell():
    cells = {("W1", None): 3, ("W2", None): 4, ("W3", None): 50, ("W4", None): 40, ("W5", None): 25,
             ("W6", None): 33}
    rows = table(cells, dims={})
    naive = withhold(rows, [("W1", "all"), ("W2", "all")])
    found = {v.key[1:]: v for v in attack(naive)}
    assert found[(YEAR, "W1", "all")].hi == 7 and found[(YEAR, "W2", "all")].hi == 7  # "7 in these two wards"
    out = suppress(rows, meta(), HIER, T)
    assert {(YEAR, "W1", "all"), (YEAR, "W2", "all"), (YEAR, "W3", "all")} <= hidden(out)
    assert_safe(out)


BRIDGE_HIER = hierarchy({"D1": ["W1", "W2", "W3", "W4"], "D2": ["W5", "W6"]})
BRIDGE_DIMS = {"ethnicity": ["A", "B", "C", "D"]}
BRIDGE = {  # ward x group in D1; two suppression cycles joined by W1/C
    "W1": {"A": 2, "B": 3, "C": 4, "D": 30},
    "W2": {"A": 3, "B": 2, "C": 40, "D": 30},
    "W3": {"A": 30, "B": 30, "C": 3, "D": 2},
    "W4": {"A": 30, "B": 30, "C": 2, "D": 3},
    "W5": {"A": 30, "B": 30, "C": 30, "D": 30},
    "W6": {"A": 30, "B": 30, "C": 30, "D": 30},
}


def test_a_bridge_cell_between_two_suppression_cycles_is_determined_despite_two_per_row_and_column():
    cells = {(w, None, g): n for w, row in BRIDGE.items() for g, n in row.items()}
    rows = table(cells, hier=BRIDGE_HIER, dims=BRIDGE_DIMS)
    small = [(w, f"ethnicity={g}") for w, row in BRIDGE.items() for g, n in row.items() if n <= T]
    naive = withhold(rows, small)  # every row and column of the ward x group table has 2 or more withheld
    per_ward = pl.DataFrame(small, schema=["w", "b"], orient="row").group_by("w").len()
    assert per_ward["len"].min() >= 2
    found = {v.key[1:]: v for v in attack(naive, BRIDGE_HIER)}
    bridge = found[(YEAR, "W1", "ethnicity=C")]
    assert bridge.lo == bridge.hi == 4  # recovered exactly
    out = suppress(rows, meta(), BRIDGE_HIER, T)
    assert_safe(out, hier=BRIDGE_HIER)


def test_linked_tables_a_sex_breakdown_undoes_an_ethnicity_one():
    cells = {("W1", None, "F", "White"): 10, ("W1", None, "M", "White"): 13, ("W1", None, "F", "Asian"): 2,
             ("W1", None, "M", "Asian"): 1}
    for w in ("W2", "W3", "W4", "W5", "W6"):
        cells |= {(w, None, "F", "White"): 20, (w, None, "M", "White"): 21, (w, None, "F", "Asian"): 6,
                  (w, None, "M", "Asian"): 7}
    rows = table(cells, dims=SEX_ETH)
    # protected as if the ethnicity table stood alone: W1 Asian (3) behind a cycle through the totals
    naive = withhold(rows, [(a, b) for a in ("W1", "D1", "P1", "C") for b in ("all", "ethnicity=Asian")])
    assert attack(withhold(rows.filter(~pl.col("breakdown").str.starts_with("sex")),
                           [(a, b) for a in ("W1", "D1", "P1", "C") for b in ("all", "ethnicity=Asian")])) == []
    found = {v.key[1:]: v for v in attack(naive)}
    assert found[(YEAR, "W1", "ethnicity=Asian")].lo == found[(YEAR, "W1", "ethnicity=Asian")].hi == 3  # F + M - White
    out = suppress(rows, meta(), HIER, T)
    assert_safe(out)


def test_quarters_against_their_year():
    cells = {("W1", 1, "F"): 3, ("W1", 2, "F"): 12, ("W1", 3, "F"): 13, ("W1", 4, "F"): 14}
    for w in ("W2", "W3", "W4", "W5", "W6"):
        cells |= {(w, q, "F"): 15 for q in (1, 2, 3, 4)}
    for w in ("W1", "W2", "W3", "W4", "W5", "W6"):
        cells |= {(w, q, "M"): 20 for q in (1, 2, 3, 4)}
    rows = table(cells, quarters=True)
    naive = withhold(rows, [(QUARTERS[0], "W1", "sex=F")])
    found = {v.key[1:]: v for v in attack(naive)}
    assert found[(QUARTERS[0], "W1", "sex=F")].lo == found[(QUARTERS[0], "W1", "sex=F")].hi == 3  # year - Q2..Q4
    out = suppress(rows, meta(), HIER, T)
    assert (QUARTERS[0], "W1", "sex=F") in hidden(out)
    assert_safe(out)


# ----------------------------------------------------------------------------------- the rules
def test_withheld_rows_carry_no_counts_but_keep_a_population_denominator():
    cells = {(w, None, s): n for w, n in zip(["W1", "W2", "W3", "W4", "W5", "W6"], [2, 15, 20, 30, 40, 33],
                                             strict=True) for s in ("F", "M")}
    out = suppress(table(cells), meta(), HIER, T)
    sup = out.filter(pl.col("suppressed"))
    assert sup.height and sup["numerator"].null_count() == sup.height
    assert sup["denominator"].null_count() == 0
    assert_safe(out)


def test_client_denominators_and_the_sensitive_complement():
    # W3: 40 of 45 -> complement 5: withheld only for a sensitive indicator
    cells, den = {}, {}
    for w, (n, d) in {"W1": (20, 50), "W2": (30, 50), "W3": (20, 22), "W4": (25, 50), "W5": (26, 50),
                      "W6": (27, 50)}.items():
        for s in ("F", "M"):
            cells[(w, None, s)] = n
            den[(w, None, s)] = d + (1 if s == "M" else 0) + (0 if w == "W3" else 0)
    rows = table(cells, den=den)
    plain = suppress(rows, meta("client", False), HIER, T)
    assert (YEAR, "W3", "all") not in hidden(plain)
    sens = suppress(rows, meta("client", True), HIER, T)
    assert (YEAR, "W3", "all") in hidden(sens)
    sup = sens.filter(pl.col("suppressed"))
    assert sup["denominator"].null_count() == sup.height  # client denominators go with the row
    assert_safe(sens, "client", True)
    comp = sens.with_columns((pl.col("denominator") - pl.col("numerator")).alias("complement"))
    assert sdc_attack.attack(comp, HIER, T, "complement") == []


def test_coterminous_partnership_and_district_are_one_count():
    cells = {(w, None, s): 1 for w in ("W1", "W2", "W3") for s in ("F", "M")}
    cells |= {(w, None, s): 30 for w in ("W4", "W5", "W6") for s in ("F", "M")}
    out = suppress(table(cells), meta(), HIER, T)
    h = hidden(out)
    for b in ("all", "sex=F", "sex=M"):
        assert ((YEAR, "D1", b) in h) == ((YEAR, "P1", b) in h)
        assert ((YEAR, "D2", b) in h) == ((YEAR, "P2", b) in h)
    assert_safe(out)


def test_a_structural_zero_is_withheld_and_never_protects():
    cells = {(w, None, s): 25 for w in ("W1", "W2", "W3", "W4", "W5", "W6") for s in ("F", "M")}
    cells[("W1", None, "M")] = 0
    rows = table(cells).with_columns(  # nobody lives there: population 0 beside a count of 0
        pl.when((pl.col("area_code") == "W1") & (pl.col("breakdown") == "sex=M")).then(0.0)
        .otherwise(pl.col("denominator")).alias("denominator")
    )
    out = suppress(rows, meta(), HIER, T)
    assert (YEAR, "W1", "sex=M") in hidden(out)
    assert audit(out).ok
    assert out.filter(~pl.col("suppressed") & (pl.col("numerator") <= T)).height == 0


def test_deterministic_and_stable_from_one_release_to_the_next():
    cells = {("W1", None): 3, ("W2", None): 20, ("W3", None): 20, ("W4", None): 40, ("W5", None): 25,
             ("W6", None): 33}
    rows = table(cells, dims={})
    first = suppress(rows, meta(), HIER, T)
    assert first.equals(suppress(rows, meta(), HIER, T))
    assert hidden(first) == {(YEAR, "W1", "all"), (YEAR, "W3", "all")}  # a tie: the later code goes
    # last release withheld W2 instead: it still protects W1, so it is kept
    previous = withhold(rows, [("W1", "all"), ("W2", "all")]).with_columns(pl.lit("X").alias("indicator_id"))
    again, report = suppress_with_report(rows, meta(), HIER, T, previous=previous)
    assert hidden(again) == {(YEAR, "W1", "all"), (YEAR, "W2", "all")}
    assert report.kept_from_previous == 1
    assert_safe(again)


def test_report_counts_primary_and_complementary():
    cells = {("W1", None): 3, ("W2", None): 4, ("W3", None): 50, ("W4", None): 40, ("W5", None): 25,
             ("W6", None): 33}
    out, report = suppress_with_report(table(cells, dims={}), meta(), HIER, T)
    assert report.primary == 2 and report.complementary == 1 and report.blocks == 1
    assert "2 primary and 1 complementary" in report.summary()


# ----------------------------------------------------------------------------------- the machinery
def test_echelon_basis_is_exact():
    b = sdc_system.EchelonBasis()
    assert b.add({0: 1, 1: 1, 2: 1})
    assert b.add({0: 1, 1: -1})
    assert not b.add({0: 2, 1: 0, 2: 1})  # = 1.5*(1,1,1) + 0.5*(1,-1,0)... over the rationals
    r = b.reduce({2: 2})
    assert r and sdc_system.canonical(r) == sdc_system.canonical({k: -v for k, v in r.items()})


def test_lumping_is_exact_for_interchangeable_wards():
    cells = {(w, None, s): n for w, n in zip(["W1", "W2", "W3", "W4", "W5", "W6"], [2, 3, 4, 30, 40, 50],
                                             strict=True) for s in ("F", "M")}
    rows = table(cells)
    naive = withhold(rows, [(w, b) for w in ("W1", "W2", "W3") for b in ("all", "sex=F", "sex=M")])
    report = audit(naive)
    independent = failing_keys(naive)
    assert {(k[2], k[3]) for k in report.failing} == {(k[1], k[2]) for k in independent}


# ----------------------------------------------------------------------------------- properties
small = st.integers(0, 14)


@st.composite
def linked_tables(draw):
    quarters = draw(st.booleans())
    qs = (1, 2, 3, 4) if quarters else (None,)
    cells = {(w, q, s, e): draw(small) for w in ("W1", "W2", "W3", "W4", "W5", "W6") for q in qs
             for s in ("F", "M") for e in ("Asian", "White")}
    return table(cells, dims=SEX_ETH, quarters=quarters)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linked_tables())
def test_after_suppression_the_audit_always_passes(rows):
    out = suppress(rows, meta(), HIER, T)
    assert out.filter(~pl.col("suppressed") & (pl.col("numerator") <= T)).height == 0
    report = audit(out)
    assert report.ok, report.summary_lines()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linked_tables())
def test_after_suppression_the_independent_attacker_finds_nothing(rows):
    out = suppress(rows, meta(), HIER, T)
    assert attack(out) == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["W1", "W2", "W3", "W4", "W5", "W6"]),
                       st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=6, max_size=6),
       st.booleans())
def test_client_tables_are_protected_for_numerators_and_complements(wards, sensitive):
    cells, den = {}, {}
    for w, (a, b) in wards.items():
        for s, extra in (("F", 0), ("M", 3)):
            cells[(w, None, s)] = min(a, b)
            den[(w, None, s)] = max(a, b) + extra
    rows = table(cells, den=den)
    out = suppress(rows, meta("client", sensitive), HIER, T)
    assert_safe(out, "client", sensitive)


@pytest.mark.parametrize("threshold", [3, 10])
def test_the_threshold_is_configurable(threshold):
    cells = {(w, None): n for w, n in zip(["W1", "W2", "W3", "W4", "W5", "W6"], [2, 5, 9, 30, 40, 50], strict=True)}
    out = suppress(table(cells, dims={}), meta(), HIER, threshold)
    assert out.filter(~pl.col("suppressed") & (pl.col("numerator") <= threshold)).height == 0
    assert (YEAR, "W3", "all") in hidden(out) if threshold == 10 else (YEAR, "W3", "all") not in hidden(out)
