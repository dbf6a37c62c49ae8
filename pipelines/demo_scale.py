"""`lcp demo --scale 10x|national`: the demo's datasets over a synthetic England-shaped geography.

1. `pipelines.synthetic_geo.write_geography` writes the geography to the data folder's own geo/
   (`<LCP_DATA_DIR>/geo/`, or `LCP_GEO_DIR`), which from then on is the geography every stage of that
   data folder reads (`config.geo_dir()`): the postcode lookup at ingest, the hierarchy, population and
   areas at build. Its top area (the release's 'county' level) is England, E92000001.
2. The supplies are generated one synthetic county (about 150 wards) at a time, by the county demo's
   own generators (`pipelines.demo`) on that county's wards, in worker processes (one per CPU, at
   most 2), each county with its own random streams; each county's rows are appended to the supply
   files as it arrives, in county order, so memory holds a couple of counties' rows, never the nation's.
   Ids are prefixed with the county ('C012-NCMP-000123') so that they stay distinct in a file.
3. Every file is CSV (the county demo writes NCMP, KS4 and CCIS as XLSX: a workbook cannot be appended
   to, nor hold more than 1,048,576 rows); the agreements say so.

Sizes: national = 7,000 wards (about 318 districts, 46 counties), 10x = 1,550 wards (10 times the
county's 155); `LCP_DEMO_WARDS` overrides the number of wards (tests use a few dozen).
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from pipelines import config, demo, geography, synthetic_geo
from pipelines.workers import main_hidden

WARDS = {"10x": 1550, "national": 7000}


def n_wards(scale: str) -> int:
    raw = os.environ.get("LCP_DEMO_WARDS")
    return int(raw) if raw else WARDS[scale]


def target_geo_dir() -> Path:
    return Path(os.environ["LCP_GEO_DIR"]).resolve() if os.environ.get("LCP_GEO_DIR") else config.data_dir() / "geo"


def _subset(g: demo._Geo, idx: np.ndarray) -> demo._Geo:
    """The demo's reference data for the wards `idx` (indices into g.wards)."""
    counts = g.pc_count[idx]
    new_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    take = np.repeat(g.pc_start[idx] - new_start, counts) + np.arange(counts.sum())
    return demo._Geo(wards=g.wards[idx], dep=g.dep[idx], pop=g.pop[idx], pc=g.pc[take], pc_start=new_start,
                     pc_count=counts, eth_cdf=g.eth_cdf[idx])


def _id_fields() -> dict[str, str]:
    return {ds["dataset"]: ds["id_field"] for a in demo._agreements().values() for ds in a["datasets"]
            if ds.get("id_field")}


def _chunk(job: tuple) -> list[tuple[str, str, str, pl.DataFrame]]:
    """One synthetic county: [(supplier folder, dataset, period, frame)] in generator order."""
    c, ward_codes, seed, only, geo_dir = job
    os.environ["LCP_GEO_DIR"] = str(geo_dir)  # a spawned worker reads the same geography
    g = demo._geo()
    idx = np.searchsorted(g.wards, np.array(ward_codes))
    sub = _subset(g, idx)
    ids = _id_fields()
    streams = np.random.SeedSequence([int(seed), 1000 + c]).spawn(len(demo.GENERATORS))
    out = []
    for ((code, dataset), fn), ss in zip(demo.GENERATORS.items(), streams):
        if only is not None and dataset not in only:
            continue
        for period, df in fn(np.random.default_rng(ss), sub).items():
            if dataset in ids:
                df = df.with_columns(pl.concat_str([pl.lit(f"C{c:03d}-"), pl.col(ids[dataset])]).alias(ids[dataset]))
            out.append((code, dataset, period, df))
    return out


def write_synthetic(out: Path, seed: int = 2026, scale: str = "national", only: set[str] | None = None) -> dict:
    """Write the synthetic geography (to the data folder) and the supplies (to `out`); the counts."""
    unknown = set(only or ()) - {d for _, d in demo.GENERATORS}
    if unknown:
        raise ValueError(f"unknown demo datasets {sorted(unknown)}")
    geo_dir = target_geo_dir()
    shape = synthetic_geo.write_geography(geo_dir, n_wards(scale), seed)
    counties = pl.read_csv(geo_dir / "counties.csv", infer_schema_length=0)
    wards_by_county = (
        geography.hierarchy().select("ward_code", "district_code")
        .join(counties.select("district_code", "county_code"), on="district_code")
        .group_by("county_code", maintain_order=True).agg(pl.col("ward_code").sort()).sort("county_code")
    )
    jobs = [(c, w, seed, only, geo_dir) for c, w in enumerate(wards_by_county["ward_code"].to_list())]

    agreements = {code: a for code, a in demo._agreements().items()
                  if any(k[0] == code and (only is None or k[1] in only) for k in demo.GENERATORS)}
    out = Path(out)
    for code, agreement in agreements.items():
        for ds in agreement["datasets"]:
            ds["format"] = "csv"
        folder = out / code
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "agreement.yaml").write_text(
            yaml.safe_dump(agreement, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
        for ds in agreement["datasets"]:  # start every file afresh: chunks are appended
            for period in demo.PERIODS:
                (folder / f"{ds['dataset']}_{demo.period_slug(period)}.csv").unlink(missing_ok=True)

    files: set[Path] = set()
    rows = 0
    workers = max(1, min(2, os.cpu_count() or 1, len(jobs)))
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        with main_hidden():  # workers start on the submits inside map
            results = pool.map(_chunk, jobs)
        for parts in results:
            for code, dataset, period, df in parts:
                path = out / code / f"{dataset}_{demo.period_slug(period)}.csv"
                with open(path, "ab") as fh:
                    df.write_csv(fh, include_header=path not in files)
                files.add(path)
                rows += df.height
    return {"suppliers": len(agreements), "files": len(files), "rows": rows, "out": str(out),
            "geo": str(geo_dir), **{f"geo_{k}": v for k, v in shape.items()}}
