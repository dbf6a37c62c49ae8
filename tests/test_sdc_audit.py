"""`lcp audit` and the audit behind `lcp build`: what it finds in a release, from published data only."""
from __future__ import annotations

import shutil

import duckdb
import polars as pl

from pipelines import cli, sdc_audit
from pipelines.disclosure import suppress
from sdc_tables import HIER, T, YEAR, meta, table, withhold

CELLS = {("W1", None, "F"): 3, ("W2", None, "F"): 20, ("W3", None, "F"): 30, ("W4", None, "F"): 40,
         ("W5", None, "F"): 25, ("W6", None, "F"): 33}
CELLS |= {(w, None, "M"): 30 for w in ("W1", "W2", "W3", "W4", "W5", "W6")}


def audit(values: pl.DataFrame, kind: str = "population", sensitive: bool = False) -> sdc_audit.AuditReport:
    return sdc_audit.audit_values(values, meta(kind, sensitive), HIER, T, "test")


def test_a_protected_table_passes_and_reports_its_information_loss():
    out = suppress(table(CELLS), meta(), HIER, T)
    report = audit(out)
    assert report.ok, report.summary_lines()
    assert report.withheld == int(out["suppressed"].sum()) and report.counts_checked >= report.withheld
    assert report.loss["ward"].cells == 18 and 0 < report.loss["ward"].withheld < 18
    assert report.loss["county"].withheld == 0
    text = "\n".join(report.summary_lines())
    assert "audit passed" in text and "information loss" in text and "ward" in text


def test_a_lone_withheld_cell_is_found_with_its_interval():
    report = audit(withhold(table(CELLS), [("W1", "sex=F")]))
    assert not report.ok
    assert [f.kind for f in report.findings] == ["disclosure"]
    assert report.failing[("X", YEAR, "W1", "sex=F", "numerator")] == (3.0, 3.0)
    assert "determined" in report.findings[0].message or "10 or less" in report.findings[0].message


def test_a_small_pair_is_found():
    cells = {("W1", None): 3, ("W2", None): 4, ("W3", None): 50, ("W4", None): 40, ("W5", None): 25,
             ("W6", None): 33}
    report = audit(withhold(table(cells, dims={}), [("W1", "all"), ("W2", "all")]))
    lo, hi = report.failing[("X", YEAR, "W1", "all", "numerator")]
    assert hi == 7 and lo == 0


def test_a_published_small_count_and_a_derived_value_beside_a_withheld_one_are_found():
    out = suppress(table(CELLS), meta(), HIER, T)
    leaked = out.with_columns(
        pl.when(pl.col("suppressed")).then(1.5).otherwise(2.5).alias("value"),
        pl.when((pl.col("area_code") == "W2") & (pl.col("breakdown") == "sex=F")).then(7)
        .otherwise(pl.col("numerator")).alias("numerator"),
    )
    kinds = {f.kind for f in audit(leaked).findings}
    assert {"derived", "published_small"} <= kinds


def test_parts_that_do_not_add_up_are_found():
    rows = table(CELLS).with_columns(pl.lit(False).alias("suppressed"))
    rows = rows.with_columns(
        pl.when(pl.col("area_code") == "D2").then(pl.col("numerator") + 50).otherwise(pl.col("numerator"))
        .alias("numerator"))
    report = audit(rows.filter(pl.col("numerator") > T))
    assert "consistency" in {f.kind for f in report.findings}


def test_the_sensitive_complement_is_attacked_for_client_indicators():
    cells = {(w, None, s): 40 for w in ("W1", "W2", "W3", "W4", "W5", "W6") for s in ("F", "M")}
    den = {k: 60.0 for k in cells}
    den[("W1", None, "F")] = 44.0  # 40 of 44 and 40 of 45: the complements, 4 and 5, are small
    den[("W2", None, "F")] = 45.0
    rows = table(cells, den=den)
    naive = withhold(rows, [("W1", "sex=F"), ("W1", "all"), ("W2", "sex=F"), ("W2", "all")], kind="client")
    report = audit(naive, "client", True)
    # the numerators (40 + 40) are safe; the complements are shown to add up to 9
    assert {k[4] for k in report.failing} == {"complement"}
    assert report.failing[("X", YEAR, "W1", "sex=F", "complement")][1] == 9
    assert audit(suppress(rows, meta("client", True), HIER, T), "client", True).ok


def test_lcp_audit_on_the_fixture_release(fixture_release, capsys):
    assert cli.main(["audit", str(fixture_release)]) == 0
    out = capsys.readouterr().out
    assert "audit passed" in out and "information loss" in out


def test_lcp_audit_fails_a_release_that_breaks_the_contract(fixture_release, tmp_path, capsys):
    broken = tmp_path / "broken.duckdb"
    shutil.copy(fixture_release, broken)
    con = duckdb.connect(str(broken))
    con.execute("ALTER TABLE indicators DROP COLUMN frequency")
    con.close()
    assert cli.main(["audit", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "audit FAILED" in out and "contract" in out and "frequency" in out


def test_lcp_audit_without_a_release_is_one_line(tmp_path, capsys):
    assert cli.main(["audit", str(tmp_path / "none.duckdb")]) == 1
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "lcp audit" in err


def test_the_previous_pattern_is_read_from_the_live_release(fixture_release, tmp_path):
    pattern = sdc_audit.previous_pattern(fixture_release)
    assert pattern is not None and pattern.columns == ["indicator_id", "period", "area_code", "breakdown", "suppressed"]
    assert pattern["suppressed"].sum() > 0
    assert sdc_audit.previous_pattern(tmp_path / "missing.duckdb") is None
