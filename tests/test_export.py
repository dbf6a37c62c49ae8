"""`lcp export`: open-data files read back equal to the release, with metadata and attribution."""
from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from pipelines import cli, config
from pipelines.export import TABLES


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_reads_back_equal_to_the_release(fixture_release, tmp_path, fmt):
    out = tmp_path / f"open-{fmt}"
    assert cli.main(["export", "--format", fmt, "--out", str(out), "--release", str(fixture_release)]) == 0
    con = duckdb.connect(str(fixture_release), read_only=True)
    try:
        for name in TABLES:
            expected = con.sql(f"SELECT * FROM {name}").pl()  # noqa: S608 (fixed names)
            if fmt == "parquet":
                got = pl.read_parquet(out / f"{name}.parquet")
            else:
                got = pl.read_csv(out / f"{name}.csv", schema=expected.schema)
            key = [c for c in expected.columns if expected[c].dtype == pl.String]
            assert got.sort(key).equals(expected.sort(key)), name
    finally:
        con.close()
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["release_id"] and meta["methods_version"] and meta["built_at"]
    assert meta["licence"] == "Open Government Licence v3.0"
    assert "Crown copyright" in meta["attribution"]
    assert "10 or less" in meta["suppression_rule"]
    assert set(meta["column_descriptions"]) == set(TABLES)
    assert set(meta["column_descriptions"]["indicator_values"]) >= {"numerator", "suppressed", "value", "rag"}


def test_withheld_values_stay_empty_in_csv(fixture_release, tmp_path):
    out = tmp_path / "open"
    cli.main(["export", "--format", "csv", "--out", str(out), "--release", str(fixture_release)])
    v = pl.read_csv(out / "indicator_values.csv", infer_schema_length=0)
    withheld = v.filter(pl.col("suppressed") == "true")
    assert withheld.height > 0
    for col in ("numerator", "value", "lower_95", "upper_95", "rag", "quartile"):
        assert withheld[col].null_count() == withheld.height, col


def test_export_without_a_release_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "empty"))
    assert cli.main(["export", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lcp build" in err
    assert not (tmp_path / "x").exists()
    assert config.data_dir() == (tmp_path / "empty").resolve()
