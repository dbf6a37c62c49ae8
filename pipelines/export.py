"""Open data: a published release written as files people can take away.

Made only from the published release (through `pipelines.release`), never from the restricted store:
`indicator_values`, `indicators`, `areas` and `benchmarks` as Parquet or CSV, and `metadata.json`
(release id, built at, methods version, licence and attribution, the suppression rule, column
descriptions). Withheld values are empty (null) with `suppressed` true, exactly as in the release.
The folder is written beside the target and renamed into place, so a reader never sees half of it.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import polars as pl

from pipelines import config
from pipelines.release import ReleaseReader, open_release

TABLES = ("indicator_values", "indicators", "areas", "benchmarks")
FORMATS = ("parquet", "csv")

COLUMN_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "indicator_values": {
        "indicator_id": "National Indicator (e.g. 'NI 55') or local indicator id",
        "period": "financial or academic year ('2024/25'), or a quarter ('2024/25 Q3')",
        "area_code": "ONS code of a ward or district, the project's code of a partnership area (LCP01-LCP07), "
                     "or E10000019 for Lincolnshire",
        "area_level": "ward, district, partnership or county",
        "breakdown": "'all', or one part of a breakdown: 'sex=F', 'sex=M', ...; the parts of a breakdown add up to 'all'",
        "numerator": "count of children or events; empty where withheld",
        "denominator": "client cohort count (empty where withheld) or ONS population estimate",
        "value": "the measure in the indicator's unit (times its multiplier); empty where withheld",
        "lower_95": "lower 95% confidence limit", "upper_95": "upper 95% confidence limit",
        "lower_998": "lower 99.8% confidence limit", "upper_998": "upper 99.8% confidence limit",
        "suppressed": "true where a count of the row is withheld (10 or fewer children, or could reveal such a count)",
        "rag": "red, amber or green against England (see methods); empty where not judged or withheld",
        "direction": "improving, worsening or no_change (significance-based) against the previous period",
        "trend": "improving, worsening or no_change by a test for trend over the last 5 periods of the same kind "
                 "(see methods); empty with fewer than 5 published points or where withheld",
        "quartile": "1 (best) to 4 (worst) among areas of the same level",
        "national_quartile": "districts: 1 (best) to 4 (worst) against England's quartile thresholds, where shipped",
        "vs_benchmark": "better, similar or worse than England by the 95% interval",
        "benchmark_value": "the England value used for the comparison",
    },
    "indicators": {
        "indicator_id": "indicator id", "title": "indicator title", "ecm_outcome": "Every Child Matters outcome",
        "unit": "unit of the value", "multiplier": "multiplier applied to the ratio",
        "polarity": "higher_better, lower_better or no_judgement", "ci_method": "confidence interval method",
        "numerator_definition": "what is counted", "denominator_definition": "out of what",
        "denominator_kind": "client (a counted cohort) or population (ONS estimate)",
        "supplier": "who supplies the data", "frequency": "how often it is updated",
        "rag_rule": "benchmark, target or target_and_benchmark: how the RAG is decided (see methods)",
        "rag_rule_text": "the RAG rule in words, shown beside every RAG",
    },
    "areas": {
        "area_code": "area code", "area_name": "area name", "area_level": "ward, district, partnership or county",
        "parent_code": "district for a ward, county for a district or partnership",
    },
    "benchmarks": {
        "indicator_id": "indicator id", "period": "period", "benchmark": "England, East Midlands, ...",
        "value": "benchmark value", "lower_95": "lower 95% limit", "upper_95": "upper 95% limit",
        "source": "where the figure comes from (demo values are labelled so)",
    },
}


def _jsonable(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


def export_release(out: Path, fmt: str = "parquet", release: Path | None = None) -> dict:
    """Write the open-data files for `release` (default: the published one) into `out`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use parquet or csv")
    con = open_release(release)
    try:
        reader = ReleaseReader(con)
        info = {k: _jsonable(v) for k, v in reader.release_info().items()}
        frames = {name: reader.table(name) for name in TABLES}
        supplies = reader.sources()
    finally:
        con.close()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.{os.getpid()}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    files = {}
    for name, frame in frames.items():
        path = staging / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.write_parquet(path)
        else:
            frame.write_csv(path)
        files[name] = {"file": path.name, "rows": frame.height, "columns": frame.columns}
    metadata = {
        "title": "LCP Scorecard: children's indicators for Lincolnshire's Locality Children's Partnerships",
        "release_id": info.get("release_id"),
        "built_at": info.get("built_at"),
        "methods_version": info.get("methods_version"),
        "suppression_rule": (
            f"Counts of {info.get('suppression_threshold', config.DEFAULT_SUPPRESSION_THRESHOLD)} or less (zero "
            "included) are withheld, with complementary suppression so that no withheld count can be worked out; "
            "everything derived from a withheld count is withheld too (empty, with suppressed = true)."
        ),
        "licence": config.LICENCE,
        "attribution": config.ATTRIBUTION,
        # who supplied the data: per supplier and dataset, client records or aggregate counts, and the periods
        "sources": [
            {"supplier": r["supplier"], "dataset": r["dataset"], "record_level": r["record_level"],
             "periods": sorted(r["periods"])}
            for r in supplies.group_by("supplier", "dataset", "record_level").agg(
                pl.col("period").unique().alias("periods")).sort("supplier", "dataset").iter_rows(named=True)
        ],
        "format": fmt,
        "tables": files,
        "column_descriptions": {name: COLUMN_DESCRIPTIONS[name] for name in TABLES},
    }
    (staging / "metadata.json").write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
    if out.exists():
        old = out.with_name(f".{out.name}.{os.getpid()}.old")
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)
    return metadata
