"""Issue 10: the synthetic England-shaped geography and `lcp demo --scale national` (tiny sizes, seconds)."""
from __future__ import annotations

import json

import polars as pl
import pytest

from pipelines import cli, config, geography
from pipelines.geography import POSTCODE_RE
from pipelines.synthetic_geo import ENGLAND, write_geography


def _ring_area(ring: list[list[float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:])) / 2


def test_synthetic_geography_shape(tmp_path):
    shape = write_geography(tmp_path / "geo", 100, seed=3)
    geo = tmp_path / "geo"
    h = pl.read_csv(geo / "hierarchy.csv", infer_schema_length=0)
    assert shape["wards"] == h.height == 100 and h["ward_code"].n_unique() == 100
    assert set(h["county_code"]) == {ENGLAND[0]}
    # wards in districts in counties: every ward in one district, every district in one county
    counties = pl.read_csv(geo / "counties.csv", infer_schema_length=0)
    assert set(h["district_code"]) == set(counties["district_code"]) and counties["district_code"].is_unique().all()
    assert shape["districts"] == h["district_code"].n_unique() == 5 and shape["counties"] == 1
    p = pl.read_csv(geo / "partnerships.csv", infer_schema_length=0)
    assert p["partnership_code"].is_unique().all() and set(p["district_code"]) == set(h["district_code"])
    assert h.join(p, on="partnership_code").filter(pl.col("district_code") != pl.col("district_code_right")).is_empty()
    codes = h["ward_code"].to_list() + p["partnership_code"].to_list() + p["district_code"].to_list()
    assert len(codes) == len(set(codes)) and all(len(c) == 9 for c in h["ward_code"])
    pop = pl.read_csv(geo / "population.csv", schema_overrides={"ward_code": pl.String})
    per_ward = pop.group_by("ward_code").agg(pl.len(), pl.col("population").sum())
    assert per_ward.height == 100 and (per_ward["len"] == 40).all() and (per_ward["population"] > 0).all()
    pcs = pl.read_csv(geo / "postcodes.csv", infer_schema_length=0)
    assert pcs["postcode"].is_unique().all() and set(pcs["ward_code"]) == set(h["ward_code"])
    assert all(POSTCODE_RE.match(pc) for pc in pcs["postcode"])
    dep = pl.read_csv(geo / "deprivation_ward.csv", infer_schema_length=0)
    assert set(dep["ward_code"]) == set(h["ward_code"]) and dep["idaci_score"].null_count() == 0
    wards = json.loads((geo / "wards.geojson").read_text())["features"]
    assert {f["properties"]["ward_code"] for f in wards} == set(h["ward_code"])
    assert all(_ring_area(f["geometry"]["coordinates"][0]) < 0 for f in wards)  # clockwise
    assert len(json.loads((geo / "districts.geojson").read_text())["features"]) == 5


def test_geography_follows_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LCP_GEO_DIR", raising=False)
    assert geography.county() == (config.COUNTY_CODE, config.COUNTY_NAME)
    county_wards = geography.hierarchy().height
    write_geography(tmp_path / "geo", 50)
    assert config.geo_dir() == tmp_path / "geo"
    assert geography.hierarchy().height == 50 and geography.county() == ENGLAND
    areas = geography.areas()
    top = areas.filter(pl.col("area_level") == "county")
    assert top.rows() == [(ENGLAND[0], ENGLAND[1], "county", None)]
    assert areas.filter(pl.col("area_level") == "district")["parent_code"].unique().to_list() == [ENGLAND[0]]
    pc = pl.read_csv(tmp_path / "geo" / "postcodes.csv", infer_schema_length=0).row(0, named=True)
    assert geography.find_postcode(pc["postcode"].replace(" ", "").lower())["ward_code"] == pc["ward_code"]
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "elsewhere"))
    assert geography.hierarchy().height == county_wards and geography.county()[1] == "Lincolnshire"


def test_demo_national_tiny(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LCP_DEMO_WARDS", "24")
    monkeypatch.delenv("LCP_GEO_DIR", raising=False)
    out = tmp_path / "supplies"
    assert cli.main(["demo", "--scale", "national", "--out", str(out)]) == 0
    assert "24 wards in 2 districts in 1 counties, top area England" in capsys.readouterr().out
    files = sorted(out.rglob("*.csv"))
    assert len(files) == 105 and not list(out.rglob("*.xlsx"))
    postcodes = set(pl.read_csv(tmp_path / "data" / "geo" / "postcodes.csv", infer_schema_length=0)["postcode"])
    ncmp = pl.read_csv(out / "lchs" / "ncmp_2023-24.csv", infer_schema_length=0)
    assert ncmp.height > 100 and ncmp["child_id"].is_unique().all() and ncmp["child_id"][0].startswith("C000-NCMP-")
    assert set(ncmp["postcode"]) <= postcodes
    road = pl.read_csv(out / "lrsp" / "road_casualties_2023-24.csv", infer_schema_length=0)
    assert road["area_code"].n_unique() == 2  # one row set per synthetic district
    assert "format: csv" in (out / "lchs" / "agreement.yaml").read_text()
    monkeypatch.delenv("LCP_GEO_DIR", raising=False)  # the demo set it for its own process
    assert cli.main(["demo", "--out", str(tmp_path / "county")]) == 1
    assert "synthetic geography" in capsys.readouterr().err


def test_national_shaped_release_end_to_end(tmp_path, monkeypatch, capsys):
    """A tiny England-shaped run: demo, ingest, a build with disclosure control split into sub-tables
    (as at national scale), then `lcp audit` over the whole linked system finds nothing, and the
    dashboard's top area is England, read from the release."""
    from streamlit.testing.v1 import AppTest

    from pipelines.release import ReleaseReader, open_release

    data = tmp_path / "data"
    monkeypatch.setenv("LCP_DATA_DIR", str(data))
    monkeypatch.setenv("LCP_DEMO_WARDS", "48")
    monkeypatch.delenv("LCP_GEO_DIR", raising=False)
    assert cli.main(["demo", "--scale", "national", "--out", str(tmp_path / "supplies")]) == 0
    monkeypatch.delenv("LCP_GEO_DIR", raising=False)  # the geography is found in the data folder
    assert cli.main(["ingest", str(tmp_path / "supplies")]) == 0
    monkeypatch.setenv("LCP_SDC_MODULAR_WARDS", "0")
    assert cli.main(["build"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("LCP_SDC_MODULAR_WARDS", "1000000")  # the audit: one linked system per block
    assert cli.main(["audit"]) == 0
    assert "audit passed: no withheld count is determined" in capsys.readouterr().out
    con = open_release(data / "published" / "scorecard.duckdb")
    try:
        reader = ReleaseReader(con)
        assert reader.top_area() == ENGLAND[0]
        assert reader.areas("ward").height == 48
    finally:
        con.close()
    at = AppTest.from_file("../dashboard/pages/scorecard.py", default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    picker = at.selectbox[0]
    assert picker.value == ENGLAND[0] and picker.format_func(picker.value) == "England (all areas)"


def test_the_build_reads_a_dataset_in_batches_with_categorical_wards(tmp_path, monkeypatch):
    """`scan(..., for_measures=True)`: no pseudonym, only the columns asked for, ward and sex as
    categoricals, read in batches; the same rows as a plain scan."""
    from pipelines import restricted_store
    from pipelines.restricted_store import RestrictedStore

    monkeypatch.setattr(restricted_store, "SCAN_BATCH_ROWS", 7)  # 50 rows: 8 batches
    with RestrictedStore(tmp_path / "store.duckdb") as store:
        store.con.execute("CREATE TABLE ds_test (supply_id VARCHAR, person_key VARCHAR, ward_code VARCHAR, "
                          "sex VARCHAR, age_at_event INTEGER, phase VARCHAR)")
        store.con.executemany("INSERT INTO ds_test VALUES (?, ?, ?, ?, ?, ?)",
                              [["s1", f"p{i}", f"E0500{i % 5:04d}", "FM"[i % 2], i % 19, "primary"] for i in range(50)])
        plain = store.scan("test")
        lean = store.scan("test", for_measures=True, columns={"ward_code", "sex", "age_at_event", "person_key"})
    assert lean.columns == ["ward_code", "sex", "age_at_event"]  # never the pseudonym
    assert lean.schema["ward_code"] == pl.Categorical and lean.schema["sex"] == pl.Categorical
    assert lean.with_columns(pl.col("ward_code", "sex").cast(pl.String)).equals(plain.select(lean.columns))
    assert lean.height == 50


def test_jobs_are_made_when_submitted_and_results_keep_their_order(monkeypatch):
    from pipelines import sdc_system

    made: list[int] = []

    def make(i: int) -> int:
        made.append(i)
        return i

    jobs = sdc_system.LazyJobs(5, make)
    assert made == [] and len(jobs) == 5
    monkeypatch.setenv("LCP_SDC_WORKERS", "1")
    assert sdc_system.run_jobs(abs, jobs, [1, 5, 2, 4, 3]) == [0, 1, 2, 3, 4]
    assert made == [0, 1, 2, 3, 4]
    monkeypatch.setenv("LCP_SDC_WORKERS", "2")  # two spawned workers, largest first, at most 4 queued
    assert sdc_system.run_jobs(abs, sdc_system.LazyJobs(6, lambda i: -i), [1, 6, 2, 5, 3, 4], min_work=0) == [
        0, 1, 2, 3, 4, 5]
    with pytest.raises(IndexError):
        jobs[5]
