"""The build runner: restricted store -> measures -> disclosure -> statistics -> assessment -> release.

The only place that collects frames and writes. Stages are pure functions in their own modules.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines import assessment, disclosure, export, geography, measures, publish, stats
from pipelines.config import METHODS_VERSION, release_path, suppression_threshold
from pipelines.restricted_store import RestrictedStore
from pipelines.specs import IndicatorSpec, load_benchmarks, load_indicators


class BuildError(RuntimeError):
    pass


@dataclass
class BuildReport:
    release_id: str
    path: Path
    indicators: int
    rows: int
    suppressed: int
    seconds: float
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        share = self.suppressed / self.rows if self.rows else 0
        text = (
            f"release {self.release_id}: {self.indicators} indicators, {self.rows} values, "
            f"{self.suppressed} withheld ({share:.1%}), built in {self.seconds:.1f}s -> {self.path}"
        )
        if self.skipped:
            text += f"; no data for {', '.join(self.skipped)}"
        return text


def indicators_table(specs: list[IndicatorSpec]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "indicator_id": s.id, "title": s.title, "ecm_outcome": s.ecm_outcome, "unit": s.unit,
                "multiplier": s.multiplier, "polarity": s.polarity, "ci_method": s.ci_method,
                "numerator_definition": s.numerator_definition,
                "denominator_definition": s.denominator_definition, "denominator_kind": s.denominator_kind,
                "supplier": s.supplier, "frequency": s.frequency, "dataset": s.dataset,
                "period_basis": s.period_basis, "sensitive": s.sensitive, "local": s.local,
                "target_value": s.target.value if s.target else None,
                "target_tolerance": s.target.tolerance if s.target else None,
                "notes": s.notes,
            }
            for s in specs
        ],
        schema_overrides={"target_value": pl.Float64, "target_tolerance": pl.Float64},
    )


def compute_values(
    records_by_dataset: dict[str, pl.LazyFrame],
    specs: list[IndicatorSpec],
    hierarchy: pl.DataFrame,
    population: pl.DataFrame,
    benchmarks: pl.DataFrame,
    threshold: int,
) -> tuple[pl.DataFrame, list[str]]:
    """The whole computation, from minimised records to assessed `indicator_values`."""
    frames, skipped = [], []
    for spec in specs:
        records = records_by_dataset.get(spec.dataset)
        if records is None:
            skipped.append(spec.id)
            continue
        periods = sorted(
            records.select(measures.period_expr(spec.period_basis)).unique().collect()["period"].drop_nulls()
        )
        frames.append(measures.indicator_counts(records, spec, hierarchy, population.lazy(), periods))
    if not frames:
        raise BuildError("the restricted store holds no data for any indicator: run `lcp ingest DIR` first")
    counts = pl.concat(frames).collect()
    ind = indicators_table(specs)
    protected = disclosure.suppress(counts, ind, hierarchy, threshold)
    with_meta = protected.lazy().join(
        ind.lazy().select("indicator_id", "multiplier", "ci_method", "polarity", "target_value", "target_tolerance"),
        on="indicator_id",
    )
    assessed = assessment.assess(stats.add_confidence_limits(with_meta), benchmarks.lazy())
    values = (
        assessed.drop("multiplier", "ci_method", "polarity", "target_value", "target_tolerance", strict=False)
        .sort("indicator_id", "period", "area_level", "area_code", "breakdown")
        .collect()
    )
    return values, skipped


def build(target: Path | None = None, store: RestrictedStore | None = None) -> BuildReport:
    started = time.perf_counter()
    target = target or release_path()
    threshold = suppression_threshold()
    specs = load_indicators()
    own_store = store is None
    store = store or RestrictedStore()
    try:
        records = {d: store.scan(d).lazy() for d in store.datasets()}
        supplies = store.supplies()
    finally:
        if own_store:
            store.close()
    hierarchy = geography.hierarchy()
    benchmarks = load_benchmarks()
    values, skipped = compute_values(records, specs, hierarchy, geography.population(), benchmarks, threshold)

    built_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    digest = hashlib.sha256(values.write_csv().encode()).hexdigest()[:8]
    release_id = f"{built_at:%Y%m%dT%H%M%SZ}-{digest}"
    used = {s.dataset for s in specs if s.id not in skipped}
    sources = supplies.filter(pl.col("dataset").is_in(sorted(used))).select(
        "supplier", "dataset", "record_level", "period", "date_provided", "refresh_date", "loaded_at"
    ).sort("supplier", "dataset", "period")
    tables = {
        "areas": geography.areas(),
        "area_lookup": hierarchy,
        "indicators": indicators_table(specs),
        "indicator_values": values,
        "benchmarks": benchmarks.filter(pl.col("indicator_id").is_in([s.id for s in specs])),
        "release": pl.DataFrame(
            {
                "release_id": [release_id], "built_at": [built_at.replace(tzinfo=None)],
                "suppression_threshold": [threshold], "methods_version": [METHODS_VERSION],
            }
        ),
        "sources": sources,
    }
    publish.write_release(tables, target)
    for fmt in export.FORMATS:  # open data beside the release, made from the published file only
        export.export_release(target.parent / "open-data" / fmt, fmt, target)
    return BuildReport(
        release_id=release_id, path=target, indicators=values["indicator_id"].n_unique(), rows=values.height,
        suppressed=int(values["suppressed"].sum()), seconds=time.perf_counter() - started, skipped=skipped,
    )
