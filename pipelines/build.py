"""The build runner: restricted store -> measures -> disclosure -> statistics -> assessment -> release.

The only place that collects frames and writes. Stages are pure functions in their own modules.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from pipelines import (
    assessment, disclosure, export, failpoints, geography, judgements, measures, publish, sdc_audit, stats,
)
from pipelines.config import METHODS_VERSION, draft_release_path, release_path, suppression_threshold
from pipelines.restricted_store import CLIENT_COLUMNS, RestrictedStore
from pipelines.specs import IndicatorSpec, load_benchmarks, load_indicators, load_quartile_thresholds


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
    disclosure: list[str] = field(default_factory=list)  # suppression and audit lines (sdc_audit)
    #: indicator id -> why its dataset's stored records cannot feed it (a field the definition reads is missing)
    missing_fields: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        share = self.suppressed / self.rows if self.rows else 0
        text = (
            f"release {self.release_id}: {self.indicators} indicators, {self.rows} values, "
            f"{self.suppressed} withheld ({share:.1%}), built in {self.seconds:.1f}s -> {self.path}"
        )
        if self.skipped:
            text += f"; no data for {', '.join(self.skipped)}"
        for ind, why in self.missing_fields.items():
            text += f"\n{ind} not built: the stored {why}"
        return "\n".join([text, *self.disclosure])


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
                "rag_rule": s.effective_rag_rule,
                "rag_rule_text": assessment.rag_rule_text(
                    s.effective_rag_rule, s.polarity, s.unit, s.target.value if s.target else None,
                    s.target.tolerance if s.target else None,
                ),
            }
            for s in specs
        ],
        schema_overrides={"target_value": pl.Float64, "target_tolerance": pl.Float64, "rag_rule": pl.String},
    )


def count_all(
    records_by_dataset: Mapping[str, pl.LazyFrame | Callable[[], pl.LazyFrame]],
    specs: list[IndicatorSpec],
    hierarchy: pl.DataFrame,
    population: pl.DataFrame,
    reports: dict | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """Stage 1 for every indicator: (counts, ids skipped for want of data).

    `records_by_dataset`: a dataset's records, or a function returning them (read when its indicators
    are counted, so that one dataset's records are in memory at a time, docs/scaling.md); each
    indicator's counts are collected on their own, for the same reason."""
    parts, skipped = [], []
    by_dataset: dict[str, list[IndicatorSpec]] = {}
    for spec in specs:
        if spec.dataset not in records_by_dataset:
            skipped.append(spec.id)
        else:
            by_dataset.setdefault(spec.dataset, []).append(spec)
    for dataset, group in by_dataset.items():
        source = records_by_dataset[dataset]
        records = source() if callable(source) else source
        names = set(records.collect_schema().names())
        for spec in group:
            missing = sorted(spec.fields_used() - names)
            if missing:  # supplied under an older agreement without a field the definition reads
                skipped.append(spec.id)
                if reports is not None:
                    reports.setdefault("missing_fields", {})[spec.id] = f"{spec.dataset} lacks {', '.join(missing)}"
                continue
            try:  # client records or an aggregate supply, as the indicator's record_level says
                parts.append(measures.counts_for(records, spec, hierarchy, population.lazy()).collect())
            except ValueError as e:
                raise BuildError(str(e)) from None
        del records
    if not parts:
        raise BuildError("the restricted store holds no data for any indicator: run `lcp ingest DIR` first")
    order = {s.id: i for i, s in enumerate(specs)}
    counts = pl.concat(parts).sort(pl.col("indicator_id").replace_strict(order, default=len(order)), maintain_order=True)
    return counts, skipped


def compute_values(
    records_by_dataset: Mapping[str, pl.LazyFrame | Callable[[], pl.LazyFrame]],
    specs: list[IndicatorSpec],
    hierarchy: pl.DataFrame,
    population: pl.DataFrame,
    benchmarks: pl.DataFrame,
    threshold: int,
    previous: pl.DataFrame | None = None,
    reports: dict | None = None,
    quartile_thresholds: pl.DataFrame | None = None,
    counted: tuple[pl.DataFrame, list[str]] | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """The whole computation, from minimised records to assessed `indicator_values`.

    `records_by_dataset`: as `count_all` takes them, or `counted`: what `count_all` returned.
    `previous`: the live release's withheld pattern (kept where it still protects); `reports`, if
    given, receives the disclosure stage's report under "disclosure"."""
    counts, skipped = counted or count_all(records_by_dataset, specs, hierarchy, population, reports)
    ind = indicators_table(specs)
    cells, cell_ind = measures.disclosure_view(counts, ind, threshold)  # means and gaps as counts of people
    suppressed, disclosure_report = disclosure.suppress_with_report(cells, cell_ind, hierarchy, threshold, previous)
    if reports is not None:
        reports["disclosure"] = disclosure_report
    protected = measures.apply_disclosure(counts, suppressed, ind)
    with_meta = protected.lazy().join(
        ind.lazy().select("indicator_id", "multiplier", "ci_method", "polarity", "target_value", "target_tolerance",
                          "rag_rule"),
        on="indicator_id",
    )
    assessed = assessment.assess(stats.add_confidence_limits(with_meta), benchmarks.lazy(),
                                 quartile_thresholds=quartile_thresholds)
    values = (
        assessed.drop("multiplier", "ci_method", "polarity", "target_value", "target_tolerance", "rag_rule",
                      strict=False)
        .sort("indicator_id", "period", "area_level", "area_code", "breakdown")
        .collect()
    )
    return values, skipped


def measure_columns(specs: list[IndicatorSpec]) -> dict[str, set[str]]:
    """dataset -> the stored columns its client-level indicators read (the client columns and every field
    their definitions use); aggregate datasets are read whole."""
    out: dict[str, set[str]] = {}
    aggregate = {s.dataset for s in specs if s.record_level == "aggregate"}
    for spec in specs:
        if spec.dataset not in aggregate:
            # area_code: an aggregate table stored under a client indicator is still recognised (measures)
            out.setdefault(spec.dataset, set(CLIENT_COLUMNS) - {"person_key"} | {"area_code"}).update(spec.fields_used())
    return out


def build(
    target: Path | None = None, store: RestrictedStore | None = None, specs_dir: Path | None = None,
    *, draft: bool = False,
) -> BuildReport:
    """Build and publish a release; `specs_dir` overrides pipelines/specs (indicators/*.yaml, benchmarks.csv).

    `draft`: a release candidate written to `draft_release_path()` (same checks, disclosure audit and
    atomic write) for analysts to review in the dashboard; the live release and its open data are not
    touched, and the live release stays the "previous" one (withheld pattern, changes)."""
    started = time.perf_counter()
    target = target or (draft_release_path() if draft else release_path())
    live = release_path() if draft else target  # what was last published: the previous release
    threshold = suppression_threshold()
    specs = load_indicators(specs_dir)
    own_store = store is None
    store = store or RestrictedStore()
    hierarchy = geography.hierarchy()
    benchmarks = load_benchmarks(specs_dir)
    thresholds = load_quartile_thresholds(specs_dir)
    reports: dict = {}
    population = geography.population()
    try:  # each dataset's records are read when its indicators are counted (one in memory at a time)
        needed = measure_columns(specs)
        records = {d: (lambda d=d: store.scan(d, for_measures=True, columns=needed.get(d)).lazy())
                   for d in store.datasets()}
        supplies = store.supplies()
        counted = count_all(records, specs, hierarchy, population, reports)
    finally:  # the store is free for ingest and uploads again while disclosure control runs
        if own_store:
            store.close()
    values, skipped = compute_values({}, specs, hierarchy, population, benchmarks, threshold,
                                     sdc_audit.previous_pattern(live), reports, thresholds, counted=counted)
    # the LP attacker over what is about to be published: refuse a release that gives a count away
    audit = sdc_audit.audit_values(values, indicators_table(specs), hierarchy, threshold)
    audit.primary, audit.complementary = reports["disclosure"].primary, reports["disclosure"].complementary
    if not audit.ok:
        raise BuildError(f"not published: {audit.failure_line()}")
    failpoints.reach("build:computed")

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
                "primary_suppressions": [audit.primary], "complementary_suppressions": [audit.complementary],
            }
        ),
        "sources": sources,
        **judgement_tables(values, indicators_table(specs), geography.areas(), benchmarks, thresholds),
        **governance_tables(live, values),
    }
    publish.write_release(tables, target)
    failpoints.reach("publish:replaced")
    if not draft:  # a draft is not published: no open data from it
        for fmt in export.FORMATS:  # open data beside the release, made from the published file only
            export.export_release(target.parent / "open-data" / fmt, fmt, target)
    return BuildReport(
        release_id=release_id, path=target, indicators=values["indicator_id"].n_unique(), rows=values.height,
        suppressed=int(values["suppressed"].sum()), seconds=time.perf_counter() - started, skipped=skipped,
        missing_fields=reports.get("missing_fields", {}),
        disclosure=[reports["disclosure"].summary(), *audit.summary_lines()],
    )


def judgement_tables(values: pl.DataFrame, indicators: pl.DataFrame, areas: pl.DataFrame,
                     benchmarks: pl.DataFrame, thresholds: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The release's `summary_counts`, `funnel` and `quartile_thresholds` (docs/methods.md, Judgements)."""
    ids = values["indicator_id"].unique().to_list()
    return {
        "summary_counts": judgements.summary_counts(values.lazy(), indicators.lazy(), areas.lazy()).collect(),
        "funnel": judgements.funnel(values.lazy(), indicators.lazy(), benchmarks.lazy()).collect(),
        "quartile_thresholds": thresholds.filter(pl.col("indicator_id").is_in(ids)),
    }


# ---------------------------------------------------------------- corrections and changes (docs/supplies.md)
CHANGES_SCHEMA: dict[str, pl.DataType] = {
    "indicator_id": pl.String(), "period": pl.String(), "area_code": pl.String(), "area_level": pl.String(),
    "breakdown": pl.String(), "previous_value": pl.Float64(), "value": pl.Float64(),
    "previous_suppressed": pl.Boolean(), "suppressed": pl.Boolean(), "change": pl.String(),
    "previous_release_id": pl.String(),
}
#: Values closer than this are the same figure (floating-point noise between two builds).
CHANGE_TOLERANCE = 1e-9


def release_changes(previous: pl.DataFrame | None, previous_release_id: str | None,
                    values: pl.DataFrame) -> pl.DataFrame:
    """Figures that changed since the previous release: one row per key (indicator_id, period, area_code,
    breakdown) that is new, removed, or whose published value or withheld status changed.

    Only what each release published is shown: a value withheld in a release is null here, so the
    table never holds a withheld figure. Keys withheld in both releases are not listed. Empty when
    there is no previous release.
    """
    if previous is None or previous.is_empty():
        return pl.DataFrame(schema=CHANGES_SCHEMA)
    keys = ["indicator_id", "period", "area_code", "breakdown"]

    def shown(df: pl.DataFrame) -> pl.DataFrame:
        return df.select(
            *keys, "area_level", pl.col("suppressed").fill_null(False).alias("suppressed"),
            pl.when(pl.col("suppressed").fill_null(False)).then(None).otherwise(pl.col("value"))
            .cast(pl.Float64).alias("value"),
        )

    old = shown(previous).rename({"value": "previous_value", "suppressed": "previous_suppressed",
                                  "area_level": "previous_level"})
    new = shown(values)
    both = old.join(new, on=keys, how="full", coalesce=True)
    change = (
        pl.when(pl.col("previous_suppressed").is_null()).then(pl.lit("new"))
        .when(pl.col("suppressed").is_null()).then(pl.lit("removed"))
        .when(pl.col("previous_suppressed") & pl.col("suppressed")).then(None)
        .when(pl.col("previous_suppressed") != pl.col("suppressed")).then(pl.lit("changed"))
        .when((pl.col("previous_value") - pl.col("value")).abs() > CHANGE_TOLERANCE).then(pl.lit("changed"))
        .when(pl.col("previous_value").is_null() != pl.col("value").is_null()).then(pl.lit("changed"))
        .otherwise(None)
    )
    out = both.with_columns(
        change.alias("change"),
        pl.coalesce("area_level", "previous_level").alias("area_level"),
        pl.lit(previous_release_id, dtype=pl.String).alias("previous_release_id"),
    ).filter(pl.col("change").is_not_null())
    out = out.filter(~((pl.col("change") == "new") & pl.col("suppressed")))  # nothing published, nothing to say
    out = out.filter(~((pl.col("change") == "removed") & pl.col("previous_suppressed")))
    return out.select([pl.col(c).cast(t) for c, t in CHANGES_SCHEMA.items()]).sort(keys)


def governance_tables(target: Path, values: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The release's `corrections` (open and recently closed, from the working store) and `changes`
    (against the release at `target`, read before it is replaced)."""
    from pipelines import corrections
    from pipelines.release import ReleaseMissing, ReleaseReader, open_release
    from pipelines.working_store import WorkingStore

    previous, previous_id = None, None
    if target.exists():
        try:
            con = open_release(target)
        except ReleaseMissing:
            con = None
        if con is not None:
            try:
                reader = ReleaseReader(con)
                previous, previous_id = reader.published_values(), reader.release_info().get("release_id")
            finally:
                con.close()
    if WorkingStore.exists():
        with WorkingStore(read_only=True) as ws:
            corr = corrections.for_release(ws)
    else:
        corr = corrections.for_release(None)
    return {"corrections": corr, "changes": release_changes(previous, previous_id, values)}
