"""Writes a release: the only module with SQL that writes `published/scorecard.duckdb`.

The new release is built in a temporary file beside the live one, checkpointed, closed and then
renamed over it (`os.replace`, atomic on POSIX): a reader sees the old release or the new, never half.
"""
from __future__ import annotations

import os
from pathlib import Path

import duckdb
import polars as pl

from pipelines import failpoints

#: Contract tables and the columns others rely on, in order (extra columns follow).
RELEASE_TABLES: dict[str, list[str]] = {
    "areas": ["area_code", "area_name", "area_level", "parent_code"],
    "area_lookup": ["ward_code", "district_code", "partnership_code", "county_code"],
    "indicators": [
        "indicator_id", "title", "ecm_outcome", "unit", "multiplier", "polarity", "ci_method",
        "numerator_definition", "denominator_definition", "denominator_kind", "supplier", "frequency",
    ],
    "indicator_values": [
        "indicator_id", "period", "area_code", "area_level", "breakdown", "numerator", "denominator",
        "value", "lower_95", "upper_95", "lower_998", "upper_998", "suppressed", "rag", "direction",
        "quartile", "vs_benchmark",
    ],
    "benchmarks": ["indicator_id", "period", "benchmark", "value", "lower_95", "upper_95", "source"],
    "release": ["release_id", "built_at", "suppression_threshold", "methods_version"],
    "sources": ["supplier", "dataset", "record_level", "period", "date_provided", "refresh_date"],
}


#: Tables beyond the contract's, optional (an older release may lack them), with their leading columns.
EXTRA_TABLES: dict[str, list[str]] = {
    "corrections": ["id", "supplier", "indicator_id", "area_code", "period", "description", "reported_on",
                    "deadline", "status", "closed_in_release"],
    "changes": ["indicator_id", "period", "area_code", "breakdown", "previous_value", "value",
                "previous_suppressed", "suppressed", "change"],
    # judgements (docs/methods.md, Judgements)
    "summary_counts": ["area_code", "period_basis", "ecm_outcome", "measure", "category", "n_indicators"],
    "funnel": ["indicator_id", "period", "area_level", "centre_kind", "centre", "denominator", "lower_998",
               "lower_95", "upper_95", "upper_998"],
    "quartile_thresholds": ["indicator_id", "period", "benchmark", "area_level", "lower_quartile", "median",
                            "upper_quartile", "source"],
}


class ReleaseContractError(ValueError):
    pass


def check_contract(tables: dict[str, pl.DataFrame]) -> None:
    """Every contract table present with its contract columns first."""
    for name, cols in RELEASE_TABLES.items():
        if name not in tables:
            raise ReleaseContractError(f"release table {name} missing")
        have = tables[name].columns
        missing = [c for c in cols if c not in have]
        if missing:
            raise ReleaseContractError(f"release table {name} lacks columns {missing}")


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete half-written release files (`.<name>.<pid>.tmp`) left by a build that was killed, i.e.
    whose process no longer runs; a running build's file is left alone. Returns what was removed."""
    removed = []
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        pid = tmp.name[len(target.name) + 2:-len(".tmp")]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # someone else's process
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def write_release(tables: dict[str, pl.DataFrame], target: Path) -> Path:
    """Write all tables to a new DuckDB file and atomically replace `target` with it."""
    check_contract(tables)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp))
        try:
            for name, frame in tables.items():
                leading = RELEASE_TABLES.get(name, EXTRA_TABLES.get(name))
                if leading is None:
                    raise ReleaseContractError(f"unknown release table {name}")
                ordered = leading + [c for c in frame.columns if c not in leading]
                con.register("incoming", frame.select(ordered).to_arrow())
                con.execute("CREATE TABLE " + name + " AS SELECT * FROM incoming")  # name from the allowlist
                con.unregister("incoming")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.chmod(tmp, 0o644)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        failpoints.reach("publish:written")
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)
    return target
