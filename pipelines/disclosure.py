"""Stage 2: disclosure control. "Publish on 11 or more, suppress on 10 or less" (zero included).

Per indicator and period-year (the year and its quarters), over every linked table at once: wards ->
district, wards -> partnership, districts and partnerships -> county, the parts of every breakdown
dimension -> `all`, quarters -> year (`pipelines.sdc_system` builds the linear system).

1. Primary suppression: every numerator, and every client-cohort denominator, of `threshold` or less
   (zero included); for sensitive indicators also where the complement (denominator - numerator) is
   `threshold` or less. A public population denominator of 0 with a numerator of 0 is a structural
   zero: withheld (it is a count of 10 or less) but known to everyone, so it never protects anything.
2. Complementary suppression by Gaussian elimination (Langsrud's method, as in Statistics Norway's
   GaussSuppression): candidates are taken most-wanted-published first (cells withheld last release
   last, then county, district/partnership, ward; `all` before parts; the year before its quarters;
   larger counts first; then by key); each is published unless that puts a protected cell in the
   span of the published cells and the known relations (exact integer arithmetic). Then interval
   protection: no withheld count may be bounded to `threshold` or less or left with less than one
   unit of doubt. The cheap case first, on the true counts (`relation_failures`: withheld parts of a
   published total must add up to more than `threshold`), then the LP attacker
   (`sdc_system.Attacker`, published counts only); each count it can bound is held by published
   cells (non-zero LP duals): the least wanted of them (a small ward before a total) is withheld too
   and protected, and the elimination is run again, until nothing is found.
3. Rows are withheld whole: numerator and client denominator together (a population denominator is
   public and stays). Everything derived (value, limits, RAG, ...) is computed after this stage from
   published counts only, so it is null too. Primary and complementary suppressions look the same.

Stable between releases: `previous` (the last release's withheld rows) puts those cells at the end
of the candidate order, so they are the first complements taken wherever they still protect.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from pipelines import sdc_modular, sdc_system
from pipelines.sdc_system import Attacker, Geography, build_system, gauss_secondary

MAX_ROUNDS = 60


class DisclosureError(RuntimeError):
    """Counts that disclosure control cannot protect (inconsistent input, no convergence)."""


@dataclass
class SuppressionReport:
    """What disclosure control did (never published: primary and complementary look the same)."""

    cells: int = 0  # distinct counts (merged rows) checked
    rows: int = 0
    primary: int = 0  # withheld cells, primary (including structural zeros)
    complementary: int = 0  # withheld cells, chosen by the elimination or forced by the LP check
    forced: int = 0  # of which forced by the interval check
    rounds: int = 0
    kept_from_previous: int = 0  # complementary cells also withheld last release
    lps: int = 0
    seconds: float = 0.0
    blocks: int = 0
    block_seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"disclosure: {self.cells} counts in {self.blocks} blocks, {self.primary} primary and "
            f"{self.complementary} complementary suppressions ({self.forced} from the interval check, "
            f"{self.kept_from_previous} kept from the last release), {self.lps} LPs, {self.seconds:.1f}s"
        )


def geography_of(hierarchy: pl.DataFrame) -> Geography:
    return Geography.from_lookup(
        hierarchy.select("ward_code", "district_code", "partnership_code", "county_code").iter_rows()
    )


@dataclass
class Block:
    """One indicator x period-year as the suppression and the audit see it."""

    indicator_id: str
    year: str
    rows: np.ndarray  # row positions in the frame
    system: sdc_system.LinkedSystem


@dataclass
class BlockIndex:
    """Where every indicator x period-year block's rows are, without materialising their keys."""

    ordered: pl.DataFrame  # _row, period, area_code, breakdown: rows in block order, keys sorted in a block
    groups: list[tuple[str, str, int, int]]  # (indicator_id, year, start, end) into `ordered`

    def rows(self, g: int) -> np.ndarray:
        _, _, start, end = self.groups[g]
        return self.ordered["_row"][start:end].to_numpy()

    def keys(self, g: int) -> list[tuple[str, str, str]]:
        _, _, start, end = self.groups[g]
        part = self.ordered.slice(start, end - start)
        return list(zip(part["period"].to_list(), part["area_code"].to_list(), part["breakdown"].to_list(), strict=True))


def block_index(frame: pl.DataFrame) -> BlockIndex:
    """The blocks of rows (indicator_id, period, area_code, breakdown, ...), in (indicator, year) order."""
    ordered = (
        frame.select("indicator_id", "period", "area_code", "breakdown").with_row_index("_row")
        .with_columns(pl.col("period").str.split(" ").list.first().alias("_year"))
        .sort("indicator_id", "_year", "period", "area_code", "breakdown")
    )
    sizes = ordered.group_by("indicator_id", "_year", maintain_order=True).agg(pl.len().alias("n"))
    groups, start = [], 0
    for ind, year, n in sizes.iter_rows():
        groups.append((ind, year, start, start + n))
        start += n
    return BlockIndex(ordered.select("_row", "period", "area_code", "breakdown"), groups)


def block_rows(frame: pl.DataFrame) -> list[tuple[str, str, np.ndarray, list[tuple[str, str, str]]]]:
    """(indicator_id, year, row positions, row keys (period, area_code, breakdown)) of every indicator x
    period-year block, in (indicator, year) order; the keys sorted."""
    index = block_index(frame)
    return [(ind, year, index.rows(g), index.keys(g)) for g, (ind, year, _, _) in enumerate(index.groups)]


def previous_flags(frame: pl.DataFrame, previous: pl.DataFrame | None) -> np.ndarray:
    """Per row of `frame`: withheld in the last release (an indicator id `X #...` matches `X`)."""
    if previous is None or not previous.height:
        return np.zeros(frame.height, dtype=bool)
    prev = previous.filter(pl.col("suppressed").fill_null(False)).select(
        pl.col("indicator_id").alias("_base"), "period", "area_code", "breakdown").unique()
    flags = (
        frame.select("indicator_id", "period", "area_code", "breakdown").with_row_index("_row")
        .with_columns(pl.col("indicator_id").str.split(" #").list.first().alias("_base"))
        .join(prev.with_columns(pl.lit(True).alias("_prev")), on=["_base", "period", "area_code", "breakdown"],
              how="left")
        .sort("_row")["_prev"].fill_null(False)
    )
    return flags.to_numpy()


def build_block(indicator_id: str, year: str, rows: np.ndarray, keys, geo: Geography) -> Block:
    try:
        return Block(indicator_id, year, rows, build_system(keys, geo))
    except sdc_system.LinkedSystemError as e:
        raise DisclosureError(f"{indicator_id} {year}: {e}") from None


def blocks_of(frame: pl.DataFrame, geo: Geography) -> list[Block]:
    """Split rows (indicator_id, period, area_code, breakdown, ...) into indicator x period-year blocks."""
    return [build_block(ind, year, rows, keys, geo) for ind, year, rows, keys in block_rows(frame)]


def _candidate_order(system: sdc_system.LinkedSystem, cells: list[int], weight: list[float],
                     previous: set[int], first: frozenset[int] = frozenset()) -> list[int]:
    """Most wanted published first; the end of the list is where complements are taken. `first`: cells
    published by the sub-table above (sdc_modular), wanted most."""

    def key(c: int):
        first_key = min(system.keys[r] for r in system.cell_rows[c])
        return (c not in first, c in previous, system.cell_level[c], not system.cell_is_total[c],
                not system.cell_is_year[c], -weight[c], first_key)

    return sorted(cells, key=key)


def _force_choice(duals: np.ndarray, order_rank: dict[int, int], published: list[int]) -> int | None:
    """The published cell holding a failing cell (non-zero LP dual) that is least wanted published."""
    holding = [published[j] for j in np.flatnonzero(duals > 1e-9) if published[j] in order_rank]
    if not holding:  # nothing published holds it (should not happen): take the least wanted published cell
        holding = [c for c in published if c in order_rank]
    if not holding:
        return None
    return max(holding, key=lambda c: order_rank[c])


def relation_failures(system: sdc_system.LinkedSystem, withheld: set[int], value_systems: list[list[float]],
                      threshold: int, rank: dict[int, int]) -> set[int]:
    """The cheap interval check on the true counts: in every relation whose total is published, the
    withheld parts' sum is derivable (total minus the published parts), so it must exceed
    `threshold`; where it does not, the published part least wanted published is returned to force."""
    forced: set[int] = set()
    for total, parts in system.relations:
        if total in withheld:
            continue
        hidden = [p for p in parts if p in withheld]
        if not hidden:
            continue
        for values in value_systems:
            if sum(values[p] for p in hidden) <= threshold:
                published = [p for p in parts if p not in withheld and p in rank]
                if published:
                    forced.add(max(published, key=rank.__getitem__))
                break
    return forced


@dataclass
class CountSystem:
    """One additive count attacked over the linked tables: its true value per cell and per row."""

    name: str
    cells: list[float]
    rows: list[float | None] | None = None


def protect_block(
    system: sdc_system.LinkedSystem,
    num: list[int],
    den: list[float | None],
    client: bool,
    sensitive: bool,
    threshold: int,
    previous: set[int] | None = None,
    num_rows: list[float | None] | None = None,
    den_rows: list[float | None] | None = None,
    mean: bool = False,
    fixed_hidden: set[int] | None = None,
    fixed_open: set[int] | None = None,
    lower_bounds: dict[str, dict[int, float]] | None = None,
) -> tuple[set[int], set[int], set[int], int, int]:
    """Withheld cells of one block: (withheld, primary, forced, rounds, lps). All cells are merged cells.

    `num`/`den`: true counts per cell; `num_rows`/`den_rows` the same per row (optional: they seed the
    attacker with the data itself, for speed). `mean`: the numerator is not a count of people (a mean's
    min(sum, n)); then the people counted, the client denominator n, is the count attacked.

    A sub-table of a split geography (`pipelines.sdc_modular`): `fixed_hidden` cells are withheld by
    the table above (protected here too, not counted as primary; the attacker is also run as if it knew
    them exactly); `fixed_open` cells are published by it (wanted most); `lower_bounds` (count name ->
    cell -> least value) is what the sub-tables below tell an attacker.
    """
    n = system.n_cells
    previous = previous or set()
    fixed_hidden = fixed_hidden or set()
    fixed_open = frozenset(fixed_open or ())
    lower_bounds = lower_bounds or {}
    t = threshold
    structural: set[int] = set()
    primary: set[int] = set()
    for c in range(n):
        d = den[c]
        if not client and d is not None and d == 0 and num[c] == 0:
            structural.add(c)  # no population, no count: known to everyone, protects nothing
            continue
        small = num[c] <= t
        if client:
            small = small or d <= t or (sensitive and not mean and d - num[c] <= t)
        elif sensitive and d is not None:
            small = small or d - num[c] <= t
        if small:
            primary.add(c)

    def rows_minus(a, b):
        if a is None or b is None:
            return None
        return [None if x is None or y is None else x - y for x, y in zip(a, b, strict=True)]

    if mean:
        attacked = [CountSystem("denominator", [float(d) for d in den], den_rows)]
    else:
        attacked = [CountSystem("numerator", [float(v) for v in num], num_rows)]
        if client and sensitive:
            attacked.append(CountSystem("complement", [float(den[c] - num[c]) for c in range(n)],
                                        rows_minus(den_rows, num_rows)))
    # the cheap relation check also covers a public-population complement (population - numerator)
    cheap_values = [a.cells for a in attacked]
    if sensitive and not client:  # a population of `t` or less is public knowledge: nothing to protect
        cheap_values.append([float(den[c] - num[c]) if den[c] is not None and den[c] > t else np.inf
                             for c in range(n)])

    weight = [float(den[c]) if client else float(num[c]) for c in range(n)]
    held = fixed_hidden - primary - structural  # withheld above: protected here as well
    candidates = _candidate_order(
        system, [c for c in range(n) if c not in primary and c not in structural and c not in held],
        weight, previous, fixed_open,
    )
    rank = {c: i for i, c in enumerate(candidates)}
    forced: set[int] = set()
    lps = 0
    # feasible points per count system, seeded with the data itself and kept between rounds: a later
    # round only withholds more, so the points stay feasible and only new doubts need new LPs
    pools: list[list[np.ndarray]] = []
    for a in attacked:
        x = sdc_system.true_point(system, a.rows) if a.rows is not None else None
        pools.append([x] if x is not None else [])
    for rounds in range(1, MAX_ROUNDS + 1):
        protect = primary | forced | held
        # cells that are a strict part of a group of interchangeable never-published wards, quarters or
        # categories can never be derived (sdc_system.lump): the elimination runs on the lumped system
        lumped = sdc_system.lump(system, protect)
        secondary = gauss_secondary(
            lumped.system, [c for c in protect if not lumped.partial[c]], [c for c in candidates if c not in forced],
            structural,
        )
        withheld = protect | secondary
        cheap = relation_failures(system, withheld, cheap_values, t, rank) - forced
        if cheap:
            forced |= cheap
            continue
        published = [c for c in range(n) if c not in withheld and c not in structural]
        hidden = sorted(withheld)
        limits = None
        if sensitive and not client:
            limits = np.array([(den[c] - t - 1) if den[c] is not None and den[c] > t else np.inf for c in hidden])
        new_forced: set[int] = set()
        # the conservative view of a sub-table: its withheld counts from above as if known exactly
        told = sorted(held & withheld)
        views = [(published, hidden, limits)]
        if told:
            keep = [i for i, c in enumerate(hidden) if c not in held]
            views.append((published + told, [hidden[i] for i in keep], None if limits is None else limits[keep]))
        for pool, a in zip(pools, attacked, strict=True):
            bounds = sorted(lower_bounds.get(a.name, {}).items())
            for view, (shown, unknown, lim) in enumerate(views):
                if not unknown:
                    continue
                attacker = Attacker(system, shown, [a.cells[c] for c in shown], unknown, t,
                                    lo_limits=lim if a.name == "numerator" else None,
                                    known_zero=sorted(structural), points=pool if view == 0 else pool[:1],
                                    lower_bounds=bounds if view == 0 else ())
                result = attacker.run(exact_failures=False)
                if view == 0:
                    pool[:] = pool[:1] + attacker.points_original()
                lps += result.lps
                for duals in result.failing_duals:
                    choice = _force_choice(duals, rank, shown)
                    if choice is not None:
                        new_forced.add(choice)
        if not new_forced:
            return withheld | structural, (primary | structural) - held, forced, rounds, lps
        forced |= new_forced
    raise DisclosureError(f"interval protection did not converge in {MAX_ROUNDS} rounds")


def suppress_with_report(
    counts: pl.DataFrame,
    indicators: pl.DataFrame,
    hierarchy: pl.DataFrame,
    threshold: int,
    previous: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, SuppressionReport]:
    """counts (measures.OUTPUT_SCHEMA) -> the same rows with withheld counts nulled and `suppressed`.

    `indicators` gives per indicator_id: denominator_kind ('client'|'population'), sensitive (bool) and
    optionally ci_method ('mean_t': the numerator is min(sum, n), the denominator n is the people).
    `previous`: the last release's withheld pattern (indicator_id, period, area_code, breakdown,
    suppressed), or None; an indicator id `X #...` (a component measures made) matches `X`.
    """
    started = time.perf_counter()
    report = SuppressionReport(rows=counts.height)
    meta = {r["indicator_id"]: r for r in indicators.iter_rows(named=True)}
    geo = geography_of(hierarchy)
    modular = sdc_modular.modular_of(geo)  # None: the whole geography is one linked system
    suppressed = np.zeros(counts.height, dtype=bool)
    nums = counts["numerator"].cast(pl.Float64).to_numpy()
    dens = counts["denominator"].cast(pl.Float64).to_numpy()
    was = previous_flags(counts, previous)
    index = block_index(counts)

    def job(g: int) -> dict:  # made when submitted (LazyJobs): a few blocks in memory at a time
        ind, year, _, _ = index.groups[g]
        rows = index.rows(g)
        m = meta[ind]
        client = m["denominator_kind"] == "client"
        num = [None if np.isnan(v) else float(v) for v in nums[rows]]
        den = [None if np.isnan(v) else float(round(v) if client else v) for v in dens[rows]]
        return {
            "indicator_id": ind, "year": year, "keys": index.keys(g), "geo": geo, "modular": modular,
            "threshold": threshold, "client": client, "sensitive": bool(m.get("sensitive") or False),
            "mean": m.get("ci_method") == "mean_t", "num_rows": num, "den_rows": den,
            "previous": was[rows].tolist(),
        }

    jobs = sdc_system.LazyJobs(len(index.groups), job)
    results = sdc_system.run_jobs(protect_job, jobs, [end - start for _, _, start, end in index.groups])
    for g, res in enumerate(results):
        ind, year, _, _ = index.groups[g]
        rows = index.rows(g)
        suppressed[rows[res["withheld_rows"]]] = True
        report.cells += res["cells"]
        report.primary += res["primary"]
        report.complementary += res["complementary"]
        report.forced += res["forced"]
        report.kept_from_previous += res["kept"]
        report.rounds = max(report.rounds, res["rounds"])
        report.lps += res["lps"]
        report.blocks += 1
        report.block_seconds[f"{ind} {year}"] = res["seconds"]
    kinds = indicators.select("indicator_id", "denominator_kind")
    out = (
        counts.with_columns(pl.Series("suppressed", suppressed))
        .join(kinds, on="indicator_id", how="left")
        .with_columns(
            pl.when(pl.col("suppressed")).then(None).otherwise(pl.col("numerator")).alias("numerator"),
            pl.when(pl.col("suppressed") & (pl.col("denominator_kind") == "client"))
            .then(None)
            .otherwise(pl.col("denominator"))
            .alias("denominator"),
        )
        .drop("denominator_kind")
    )
    report.seconds = time.perf_counter() - started
    return out, report


def protect_job(job: dict) -> dict:
    """One block, self-contained (runs in a worker process): the withheld rows and the counts. A block
    over a split geography (`job["modular"]`) is protected sub-table by sub-table (`sdc_modular`)."""
    t0 = time.perf_counter()
    if job.get("modular") is not None:
        out = _protect_modular(job, job["modular"])
    else:
        out = _protect_rows(job, list(range(len(job["keys"]))), job["geo"])
    out["seconds"] = time.perf_counter() - t0
    return out


def _protect_rows(job: dict, idx: list[int], geo: Geography, fixed_hidden: Iterable[int] = (),
                  fixed_open: Iterable[int] = (), forced: Iterable[int] = (),
                  lower_bounds: dict[str, dict[int, float]] | None = None, want_bounds: bool = False) -> dict:
    """Protect the rows `idx` of a job (all of them, or one sub-table) over `geo`. Row arguments are
    positions in the job: `fixed_hidden`/`fixed_open` withheld/published by the table above, `forced`
    withheld by a table below, `lower_bounds` count name -> row -> least value. `want_bounds`: also
    return what this sub-table's published counts say about its `fixed_hidden` rows."""
    ind, year = job["indicator_id"], job["year"]
    keys = [job["keys"][i] for i in idx]
    local = {r: i for i, r in enumerate(idx)}
    block = build_block(ind, year, np.arange(len(keys)), keys, geo)
    system = block.system
    client = job["client"]
    num_rows = [job["num_rows"][i] for i in idx]
    den_rows = [job["den_rows"][i] for i in idx]

    def cells_of(rows: Iterable[int]) -> set[int]:
        return {system.cell_of_row[local[r]] for r in rows if r in local}

    try:
        num = [int(v) for v in system.cell_values(num_rows, "numerator")]
        den = system.cell_values(den_rows, "denominator")
        if client and any(d is None for d in den):
            raise sdc_system.LinkedSystemError("a client denominator is missing")
        prev_cells = {system.cell_of_row[i] for i, r in enumerate(idx) if job["previous"][r]}
        held = cells_of(fixed_hidden) | cells_of(forced)
        bounds: dict[str, dict[int, float]] = {}
        for name, by_row in (lower_bounds or {}).items():
            for r, v in by_row.items():
                if r in local:
                    c = system.cell_of_row[local[r]]
                    bounds.setdefault(name, {})[c] = max(v, bounds.get(name, {}).get(c, 0.0))
        withheld, primary, forced_cells, rounds, lps = protect_block(
            system, num, den, client, job["sensitive"], job["threshold"], prev_cells, num_rows, den_rows,
            job["mean"], fixed_hidden=held, fixed_open=cells_of(fixed_open) - held, lower_bounds=bounds,
        )
    except (TypeError, sdc_system.LinkedSystemError) as e:
        raise DisclosureError(f"{ind} {year}: {e}") from None
    out = {
        "withheld_rows": sorted(idx[i] for c in withheld for i in system.cell_rows[c]),
        "cells": system.n_cells, "primary": len(primary), "complementary": len(withheld - primary - held),
        "forced": len(forced_cells), "kept": len((withheld - primary) & prev_cells), "rounds": rounds, "lps": lps,
    }
    if want_bounds:
        out["bounds"] = _bounds_up(system, idx, withheld, cells_of(fixed_hidden), num, den, client,
                                   job["sensitive"], job["mean"])
    return out


def _bounds_up(system: sdc_system.LinkedSystem, idx: list[int], withheld: set[int], targets: set[int],
               num: list[int], den: list[float | None], client: bool, sensitive: bool,
               mean: bool) -> dict[str, dict[int, float]]:
    """count name -> job row -> least value of a withheld count above, from this sub-table's published counts."""
    published = [c for c in range(system.n_cells) if c not in withheld]
    systems: dict[str, list[float | None]] = {}
    if mean:
        systems["denominator"] = [None if d is None else float(d) for d in den]
    else:
        systems["numerator"] = [float(v) for v in num]
        if client and sensitive:
            systems["complement"] = [None if d is None else float(d) - v for v, d in zip(num, den, strict=True)]
    out: dict[str, dict[int, float]] = {}
    for name, values in systems.items():
        for c, v in sdc_modular.subset_bounds(system, published, values, sorted(targets & withheld)).items():
            for i in system.cell_rows[c]:
                out.setdefault(name, {})[idx[i]] = v
    return out


def _small(job: dict, r: int) -> bool:
    """Row r of a job is a primary suppression (as `protect_block` decides for its cell)."""
    t, num, den = job["threshold"], job["num_rows"][r], job["den_rows"][r]
    if num is None or num <= t:
        return True
    if job["client"]:
        return den is None or den <= t or (job["sensitive"] and not job["mean"] and den - num <= t)
    return bool(job["sensitive"] and den is not None and den - num <= t)


#: Rounds between the top sub-table and its parts before giving up (they agree after one or two).
MAX_MODULAR_ROUNDS = 8


def _protect_modular(job: dict, mod: sdc_modular.Modular) -> dict:
    """Top sub-table, then each part with the top's decisions; again with what the parts add (withheld
    district counts, their least values) until nothing changes (`pipelines.sdc_modular`)."""
    keys = job["keys"]
    top_idx, parts = sdc_modular.split_rows(keys, job["geo"], mod)
    top_set = set(top_idx)
    bounds: dict[str, dict[int, float]] = {}
    extra: set[int] = set()
    done: dict[tuple[int, frozenset[int]], dict] = {}
    for _ in range(MAX_MODULAR_ROUNDS):
        top = _protect_rows(job, top_idx, mod.top, forced=extra, lower_bounds=bounds)
        top_withheld = set(top["withheld_rows"]) | extra
        withheld = set(top_withheld)
        new_bounds: dict[str, dict[int, float]] = {}
        stats = dict(top)
        for p, (geo, rows) in enumerate(parts):
            hidden = frozenset(r for r in rows if r in top_withheld)
            key = (p, hidden)
            if key not in done and not hidden and not any(_small(job, r) for r in rows):
                done[key] = {"withheld_rows": [], "bounds": {}, "cells": 0, "primary": 0, "complementary": 0,
                             "forced": 0, "kept": 0, "rounds": 0, "lps": 0}  # nothing to protect here
            if key not in done:
                done[key] = _protect_rows(job, rows, geo, fixed_hidden=hidden,
                                          fixed_open=[r for r in rows if r in top_set and r not in hidden],
                                          want_bounds=True)
            res = done[key]
            withheld.update(res["withheld_rows"])
            for name, by_row in res["bounds"].items():
                new_bounds.setdefault(name, {}).update(by_row)
            for k in ("cells", "primary", "complementary", "forced", "kept", "lps"):
                stats[k] += res[k]
            stats["rounds"] = max(stats["rounds"], res["rounds"])
        more = (withheld & top_set) - top_withheld
        grown = any(v > bounds.get(name, {}).get(r, 0.0) + 1e-9
                    for name, by_row in new_bounds.items() for r, v in by_row.items())
        if not more and not grown:
            stats["withheld_rows"] = sorted(withheld)
            return stats
        extra |= more
        for name, by_row in new_bounds.items():
            for r, v in by_row.items():
                bounds.setdefault(name, {})[r] = max(v, bounds.get(name, {}).get(r, 0.0))
    raise DisclosureError(f"{job['indicator_id']} {job['year']}: the top sub-table and its parts did not agree "
                          f"in {MAX_MODULAR_ROUNDS} rounds")


def suppress(
    counts: pl.DataFrame,
    indicators: pl.DataFrame,
    hierarchy: pl.DataFrame,
    threshold: int,
    previous: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`suppress_with_report` without the report."""
    return suppress_with_report(counts, indicators, hierarchy, threshold, previous)[0]

