"""`lcp audit`: an attacker over a published release, and the release's internal checks.

Works from what is published only (a release file, or the values `lcp build` is about to publish):

1. Contract: every table of `publish.RELEASE_TABLES` with its columns.
2. Internal consistency: no published count is `threshold` or less (numerator, client denominator,
   and for a sensitive indicator the complement); a withheld row carries nothing derived (value,
   limits, RAG, direction, quartile, comparison); limits contain the value; where a total and all its
   parts are published, the parts add up to the total (areas, breakdown parts, quarters).
3. The attacker (`sdc_system.Attacker`): for every withheld count, per indicator and period-year, the
   interval of values consistent with everything published (LP relaxation over all the linked tables:
   published counts fixed, inner cells >= 0, public population denominators known). A withheld
   count fails when it is determined (less than one unit of doubt) or shown to be `threshold` or
   less. Count systems checked: numerators; client denominators of a mean (for a proportion the
   denominator's interval is the numerator's plus the complement's, so it never fails where the
   numerator does not); complements (denominator - numerator) of sensitive indicators; the second
   group of a gap.
4. Information loss: share of cells withheld and share of the resident child population (ONS,
   `geo/population.csv`) in areas whose headline figure (`all`, year) is withheld, at every level.

`lcp build` runs `audit_values` on the release it is about to publish and refuses to publish it
unless it passes.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipelines import config, geography, publish, sdc_modular, sdc_system
from pipelines.disclosure import block_index, geography_of
from pipelines.sdc_system import build_system

LEVELS = ("ward", "district", "partnership", "county")
DERIVED = ("value", "lower_95", "upper_95", "lower_998", "upper_998", "rag", "direction", "trend", "quartile",
           "national_quartile", "vs_benchmark")
MAX_LISTED = 20


@dataclass
class LevelLoss:
    level: str
    cells: int = 0
    withheld: int = 0
    headline: int = 0  # rows with breakdown all for a year
    headline_withheld: int = 0
    population: float = 0.0  # resident children in the headline rows' areas (summed over rows)
    population_withheld: float = 0.0

    @property
    def cell_share(self) -> float:
        return self.withheld / self.cells if self.cells else 0.0

    @property
    def population_share(self) -> float:
        return self.population_withheld / self.population if self.population else 0.0


@dataclass
class Finding:
    kind: str  # contract, consistency, derived, published_small, disclosure
    message: str


@dataclass
class AuditReport:
    source: str
    rows: int = 0
    withheld: int = 0
    counts_checked: int = 0  # withheld counts the attacker examined (rows x count systems)
    lp_checks: int = 0  # distinct counts after merging interchangeable cells
    lps: int = 0
    blocks: int = 0
    primary: int | None = None
    complementary: int | None = None
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    loss: dict[str, LevelLoss] = field(default_factory=dict)
    loss_by_breakdown: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: (indicator, period, area, breakdown, system) -> (lo, hi) of every failing count
    failing: dict[tuple[str, str, str, str, str], tuple[float, float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, kind: str, message: str) -> None:
        self.findings.append(Finding(kind, message))

    def loss_lines(self) -> list[str]:
        out = ["information loss (withheld share of cells; of the resident child population in areas whose "
               "headline figure is withheld):"]
        for level in LEVELS:
            loss = self.loss.get(level)
            if loss is None or not loss.cells:
                continue
            out.append(
                f"  {level:<12} cells {loss.withheld:>6}/{loss.cells:<6} {loss.cell_share:6.1%}   "
                f"headline {loss.headline_withheld:>5}/{loss.headline:<5} population {loss.population_share:6.1%}"
            )
        if self.loss_by_breakdown:
            parts = [f"{dim} {w}/{n} ({w / n:.1%})" for dim, (n, w) in sorted(self.loss_by_breakdown.items()) if n]
            out.append("  by breakdown: " + ", ".join(parts))
        return out

    def summary_lines(self) -> list[str]:
        split = ""
        if self.primary is not None and self.complementary is not None:
            split = f" ({self.primary} primary, {self.complementary} complementary)"
        lines = [
            f"audit of {self.source}: {self.rows} values, {self.withheld} withheld{split}; "
            f"{self.counts_checked} withheld counts checked by the LP attacker ({self.lp_checks} distinct, "
            f"{self.lps} LPs, {self.blocks} indicator-years) in {self.seconds:.1f}s",
        ]
        lines += self.loss_lines()
        if self.ok:
            lines.append("audit passed: no withheld count is determined or shown to be 10 or less; "
                         "the release is consistent and keeps the contract")
        else:
            kinds = Counter(f.kind for f in self.findings)
            lines.append("audit FAILED: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
            lines += [f"  {f.kind}: {f.message}" for f in self.findings[:MAX_LISTED]]
            if len(self.findings) > MAX_LISTED:
                lines.append(f"  ... and {len(self.findings) - MAX_LISTED} more")
        return lines

    def failure_line(self) -> str:
        kinds = Counter(f.kind for f in self.findings)
        first = self.findings[0].message if self.findings else ""
        return (f"disclosure audit failed ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}), "
                f"first: {first}")


# --------------------------------------------------------------------------- checks
def check_contract(tables: dict[str, pl.DataFrame], report: AuditReport) -> None:
    for name, cols in publish.RELEASE_TABLES.items():
        if name not in tables:
            report.add("contract", f"table {name} missing")
            continue
        missing = [c for c in cols if c not in tables[name].columns]
        if missing:
            report.add("contract", f"table {name} lacks columns {missing}")


def _meta(indicators: pl.DataFrame) -> dict[str, dict]:
    out = {}
    for r in indicators.iter_rows(named=True):
        out[r["indicator_id"]] = {
            "client": r.get("denominator_kind") == "client",
            "sensitive": bool(r.get("sensitive") or False),
            "mean": r.get("ci_method") == "mean_t",
        }
    return out


def check_published(values: pl.DataFrame, meta: dict[str, dict], threshold: int, report: AuditReport) -> None:
    """Small published counts, derived values beside withheld counts, limits around values."""
    supp = pl.col("suppressed").fill_null(False)
    kinds = pl.DataFrame(
        {"indicator_id": list(meta), "_client": [m["client"] for m in meta.values()],
         "_sensitive": [m["sensitive"] for m in meta.values()], "_mean": [m["mean"] for m in meta.values()]},
        schema={"indicator_id": pl.String, "_client": pl.Boolean, "_sensitive": pl.Boolean, "_mean": pl.Boolean},
    )
    v = values.join(kinds, on="indicator_id", how="left")
    pub = v.filter(~supp)
    small = pub.filter(pl.col("numerator").is_null() | (pl.col("numerator") <= threshold))
    small = pl.concat([
        small,
        pub.filter(pl.col("_client") & (pl.col("denominator").is_null() | (pl.col("denominator") <= threshold))),
        pub.filter(pl.col("_sensitive") & ~pl.col("_mean") & pl.col("denominator").is_not_null()
                   & (pl.col("denominator") - pl.col("numerator") <= threshold)),
    ]).unique(subset=["indicator_id", "period", "area_code", "breakdown"])
    for r in small.head(MAX_LISTED).iter_rows(named=True):
        report.add("published_small", f"{_key(r)}: a published count of {threshold} or less "
                                      f"(numerator {r['numerator']}, denominator {r['denominator']})")
    if small.height > MAX_LISTED:
        report.add("published_small", f"... {small.height - MAX_LISTED} more rows publish a small count")
    withheld = v.filter(supp)
    cols = [c for c in ("numerator",) + DERIVED if c in v.columns]
    for c in cols:
        shown = withheld.filter(pl.col(c).is_not_null())
        if shown.height:
            report.add("derived", f"{shown.height} withheld rows show {c} (first {_key(shown.row(0, named=True))})")
    client_den = withheld.filter(pl.col("_client") & pl.col("denominator").is_not_null())
    if client_den.height:
        report.add("derived", f"{client_den.height} withheld rows show a client denominator")
    for lo, hi in (("lower_95", "upper_95"), ("lower_998", "upper_998")):
        if {lo, hi, "value"} <= set(v.columns):
            bad = pub.filter(
                pl.col("value").is_not_null() & pl.col(lo).is_not_null() & pl.col(hi).is_not_null()
                & ((pl.col(lo) > pl.col("value") + 1e-9) | (pl.col(hi) < pl.col("value") - 1e-9))
            )
            if bad.height:
                report.add("consistency", f"{bad.height} rows with {lo}/{hi} not around the value "
                                          f"(first {_key(bad.row(0, named=True))})")


def _key(r: dict) -> str:
    return f"{r['indicator_id']} {r['period']} {r['area_code']} {r['breakdown']}"


def check_sums(system: sdc_system.LinkedSystem, published: set[int], values: list[float | None], label: str,
               report: AuditReport) -> int:
    """Where a total and all its parts are published, the parts add up to it."""
    bad = 0
    for total, parts in system.relations:
        if total in published and all(p in published for p in parts):
            vals = [values[total]] + [values[p] for p in parts]
            if any(x is None for x in vals):
                continue
            if abs(vals[0] - sum(vals[1:])) > 1e-6 * max(1.0, abs(vals[0])):
                bad += 1
                if bad <= 3:
                    key = " ".join(system.keys[system.cell_rows[total][0]])
                    report.add("consistency", f"{label} {key}: parts add up to {sum(vals[1:]):g}, total {vals[0]:g}")
    return bad


# --------------------------------------------------------------------------- the attacker
def _systems(meta: dict, nums, dens, nums2, dens2=None) -> list[tuple[str, list[float | None], bool, bool]]:
    """(name, per-row values, attacked by LP, with the population lower limit) of the counts checked.

    A mean's numerator is a sum of scores, not a count of people: its parts are checked to add up,
    and its people (the client denominator n) are attacked instead."""
    if meta["mean"]:
        return [("denominator", dens, True, False), ("numerator", nums, False, False)]
    out: list[tuple[str, list[float | None], bool, bool]] = [("numerator", nums, True, False)]
    if meta["sensitive"]:
        if meta["client"]:
            comp = [None if n is None or d is None else d - n for n, d in zip(nums, dens, strict=True)]
            out.append(("complement", comp, True, False))
        else:
            out[0] = ("numerator", nums, True, True)
    if nums2 is not None and any(x is not None for x in nums2):
        out.append(("numerator_2", nums2, True, False))
        if meta["sensitive"] and meta["client"] and dens2 is not None:
            comp2 = [None if n is None or d is None else d - n for n, d in zip(nums2, dens2, strict=True)]
            out.append(("complement_2", comp2, True, False))
    return out


def attack_values(values: pl.DataFrame, indicators: pl.DataFrame, lookup: pl.DataFrame, threshold: int,
                  report: AuditReport, exact: bool = False) -> None:
    """Run the LP attacker over every indicator x period-year block of published values (blocks in
    worker processes when there is enough work: `sdc_system.run_jobs`)."""
    meta = _meta(indicators)
    geo = geography_of(lookup)
    modular = sdc_modular.modular_of(geo)  # None: the whole geography is one linked system
    supp = values["suppressed"].fill_null(False).to_numpy()

    def column(name: str) -> np.ndarray | None:
        return values[name].cast(pl.Float64).to_numpy() if name in values.columns else None

    nums, dens, nums2, dens2 = column("numerator"), column("denominator"), column("numerator_2"), column("denominator_2")
    index = block_index(values)
    known = [g for g, (ind, *_rest) in enumerate(index.groups) if ind in meta]
    for ind in dict.fromkeys(ind for ind, *_rest in index.groups if ind not in meta):
        report.add("consistency", f"{ind}: values for an indicator not in `indicators`")

    def part(arr: np.ndarray | None, rows: np.ndarray) -> list[float | None] | None:
        return None if arr is None else [None if np.isnan(v) else float(v) for v in arr[rows]]

    def job(k: int) -> dict:  # made when submitted (LazyJobs): a few blocks in memory at a time
        g = known[k]
        ind, year, _, _ = index.groups[g]
        rows = index.rows(g)
        return {
            "indicator_id": ind, "year": year, "keys": index.keys(g), "geo": geo, "modular": modular,
            "meta": meta[ind], "threshold": threshold, "exact": exact, "suppressed": supp[rows].tolist(),
            "num_rows": part(nums, rows), "den_rows": part(dens, rows), "num2_rows": part(nums2, rows),
            "den2_rows": part(dens2, rows),
        }

    jobs = sdc_system.LazyJobs(len(known), job)
    weights = [index.groups[g][3] - index.groups[g][2] for g in known]
    for res in sdc_system.run_jobs(audit_job, jobs, weights):
        report.blocks += 1
        report.counts_checked += res.counts_checked
        report.lp_checks += res.lp_checks
        report.lps += res.lps
        report.findings += res.findings
        report.failing.update(res.failing)


def audit_job(job: dict) -> AuditReport:
    """The attacker over one block (runs in a worker process); a partial report. A block over a split
    geography (`job["modular"]`) is attacked part by part, then at the top with what the parts' published
    counts say about their districts' (`pipelines.sdc_modular`)."""
    ind, year = job["indicator_id"], job["year"]
    report = AuditReport(f"{ind} {year}")
    mod = job.get("modular")
    if mod is None:
        _audit_rows(job, list(range(len(job["keys"]))), job["geo"], report)
        return report
    top_idx, parts = sdc_modular.split_rows(job["keys"], job["geo"], mod)
    bounds: dict[str, dict[int, float]] = {}
    linked: set[int] = set()  # withheld district and partnership rows of parts with withheld wards
    for geo, rows in parts:
        for name, by_row in _audit_rows(job, rows, geo, report, want_bounds=True).items():
            bounds.setdefault(name, {}).update(by_row)
        hidden = [r for r in rows if job["suppressed"][r]]
        if any(job["geo"].area_level.get(job["keys"][r][1]) == "ward" for r in hidden):
            linked.update(r for r in hidden if job["geo"].area_level.get(job["keys"][r][1]) != "ward")
    # the top, knowing what the parts' wards say (at least their sum); then each part again, knowing
    # what the top says about its withheld district counts (their exact intervals there)
    intervals: dict[str, dict[int, tuple[float, float]]] = {}
    _audit_rows(job, top_idx, mod.top, report, lower_bounds=bounds, intervals_for=linked, intervals=intervals)
    if intervals:
        for geo, rows in parts:
            if any(r in linked for r in rows):
                _audit_rows(job, rows, geo, report, known_intervals=intervals)
    report.findings = list({(f.kind, f.message): f for f in report.findings}.values())  # found twice: one finding
    return report


def _audit_rows(job: dict, idx: list[int], geo: sdc_system.Geography, report: AuditReport,
                lower_bounds: dict[str, dict[int, float]] | None = None,
                want_bounds: bool = False, intervals_for: set[int] | None = None,
                intervals: dict[str, dict[int, tuple[float, float]]] | None = None,
                known_intervals: dict[str, dict[int, tuple[float, float]]] | None = None,
                ) -> dict[str, dict[int, float]]:
    """Attack the rows `idx` of a job (all, or one sub-table) over `geo`, into `report`. `lower_bounds`:
    count name -> row -> least value known from below; `want_bounds`: return the same for this
    sub-table's withheld district and partnership counts, from its published counts. `intervals_for`:
    withheld rows whose exact interval goes into `intervals` (name -> row -> (lo, hi));
    `known_intervals`: intervals the attacker knows (from the table above)."""
    ind, year, threshold, m = job["indicator_id"], job["year"], job["threshold"], job["meta"]
    sub = {k: (None if job[k] is None else [job[k][i] for i in idx])
           for k in ("suppressed", "num_rows", "den_rows", "num2_rows", "den2_rows")}
    up: dict[str, dict[int, float]] = {}
    try:
        s = build_system([job["keys"][i] for i in idx], geo)
    except sdc_system.LinkedSystemError as e:
        report.add("consistency", f"{ind} {year}: {e}")
        return up
    job = {**job, **sub}
    local = {r: i for i, r in enumerate(idx)}
    # rows merged into one cell (the same count under two names) must share their status
    hidden_rows = job["suppressed"]
    cell_hidden = [False] * s.n_cells
    for i, c in enumerate(s.cell_of_row):
        cell_hidden[c] = cell_hidden[c] or hidden_rows[i]
    for c in range(s.n_cells):
        if len({hidden_rows[i] for i in s.cell_rows[c]}) > 1:
            keys = [" ".join(s.keys[i]) for i in s.cell_rows[c]]
            report.add("disclosure", f"{ind}: the same count is withheld and published: {keys}")
    den_rows = job["den_rows"]
    structural: set[int] = set()
    den_cells = None
    if not m["client"]:
        try:
            den_cells = s.cell_values([None if d is None else float(d) for d in den_rows], "denominator")
        except sdc_system.LinkedSystemError as e:
            report.add("consistency", f"{ind} {year}: {e}")
            return up
        structural = {c for c in range(s.n_cells) if cell_hidden[c] and den_cells[c] == 0}
    withheld = [c for c in range(s.n_cells) if cell_hidden[c] and c not in structural]
    published = [c for c in range(s.n_cells) if not cell_hidden[c]]
    for name, row_vals, attack, with_limit in _systems(m, job["num_rows"], den_rows, job["num2_rows"],
                                                       job["den2_rows"]):
        try:
            cell_vals = s.cell_values([None if x is None else float(x) for x in row_vals], name)
        except sdc_system.LinkedSystemError as e:
            report.add("consistency", f"{ind} {year}: {e}")
            continue
        check_sums(s, set(published), cell_vals, f"{ind} {name}", report)
        missing = [c for c in published if cell_vals[c] is None]
        if missing:
            if name in ("numerator", "denominator"):
                key = " ".join(s.keys[s.cell_rows[missing[0]][0]])
                report.add("consistency", f"{ind} {key}: published row without its {name}")
            continue
        if not withheld or not attack:
            continue
        if want_bounds:
            tops = [c for c in withheld if s.cell_level[c] < sdc_system.LEVEL_RANK["ward"]]
            for c, v in sdc_modular.subset_bounds(s, published, cell_vals, tops).items():
                for i in s.cell_rows[c]:
                    up.setdefault(name, {})[idx[i]] = v
        bounds: dict[int, float] = {}
        uppers: dict[int, float] = {}
        for r, v in (lower_bounds or {}).get(name, {}).items():
            if r in local:
                c = s.cell_of_row[local[r]]
                bounds[c] = max(v, bounds.get(c, 0.0))
        for r, (lo, hi) in (known_intervals or {}).get(name, {}).items():
            if r in local:
                c = s.cell_of_row[local[r]]
                bounds[c] = max(lo, bounds.get(c, 0.0))
                uppers[c] = min(hi, uppers.get(c, np.inf))
        limits = None
        if with_limit and den_cells is not None:
            limits = [den_cells[c] - threshold - 1 if den_cells[c] is not None and den_cells[c] > threshold
                      else np.inf for c in withheld]  # a population of 10 or less is public knowledge
        try:
            attacker = sdc_system.Attacker(s, published, [cell_vals[c] for c in published], withheld, threshold,
                                           lo_limits=limits, known_zero=sorted(structural),
                                           lower_bounds=sorted(bounds.items()), upper_bounds=sorted(uppers.items()))
            result = attacker.run(exact_all=job["exact"])
            if intervals_for and intervals is not None:
                position = {c: i for i, c in enumerate(attacker.withheld)}
                for r in sorted(intervals_for):
                    c = s.cell_of_row[local[r]] if r in local else None
                    if c is not None and c in position and not attacker.lumped.partial[c]:
                        intervals.setdefault(name, {})[r] = attacker.exact_interval(attacker.check_of[position[c]])
        except sdc_system.LinkedSystemError as e:
            report.add("consistency", f"{ind} {year} {name}: {e}")
            continue
        report.counts_checked += sum(len(s.cell_rows[c]) for c in withheld)
        report.lp_checks += attacker.k
        report.lps += result.lps
        for cell in result.failures:
            chk = result.checks[cell]
            for i in s.cell_rows[cell]:
                period, area, breakdown = s.keys[i]
                report.failing[(ind, period, area, breakdown, name)] = (chk.lo, chk.hi)
            period, area, breakdown = s.keys[s.cell_rows[cell][0]]
            why = ("determined" if chk.hi - chk.lo < 1 - 1e-6 and chk.hi >= threshold + 1 - 1e-6
                   else f"shown to be {threshold} or less" if chk.hi < threshold + 1 - 1e-6
                   else "complement shown to be small")
            report.add("disclosure", f"{ind} {period} {area} {breakdown}: withheld {name} {why} "
                                     f"(feasible {chk.lo:g} to {chk.hi:g})")
    return up


# --------------------------------------------------------------------------- information loss
def area_population() -> dict[str, float]:
    """Resident population aged 0-19 (ONS mid-2020, geo/population.csv) of every area code."""
    pop = geography.population().group_by("ward_code").agg(pl.col("population").sum())
    h = geography.hierarchy()
    joined = pop.join(h, on="ward_code")
    out: dict[str, float] = dict(zip(joined["ward_code"].to_list(), joined["population"].to_list(), strict=True))
    for col in ("district_code", "partnership_code", "county_code"):
        agg = joined.group_by(col).agg(pl.col("population").sum())
        out.update(zip(agg[col].to_list(), agg["population"].to_list(), strict=True))
    return out


def information_loss(values: pl.DataFrame, report: AuditReport) -> None:
    pop = area_population()
    v = values.select("period", "area_code", "area_level", "breakdown",
                      pl.col("suppressed").fill_null(False).alias("suppressed"))
    for r in v.group_by("area_level").agg(pl.len().alias("n"), pl.col("suppressed").sum().alias("w")).iter_rows():
        loss = report.loss.setdefault(r[0], LevelLoss(r[0]))
        loss.cells, loss.withheld = int(r[1]), int(r[2])
    head = v.filter((pl.col("breakdown") == "all") & ~pl.col("period").str.contains(" "))
    head = head.with_columns(pl.col("area_code").replace_strict(pop, default=0.0, return_dtype=pl.Float64).alias("_pop"))
    for r in head.group_by("area_level").agg(
        pl.len().alias("n"), pl.col("suppressed").sum().alias("w"), pl.col("_pop").sum().alias("p"),
        pl.col("_pop").filter(pl.col("suppressed")).sum().alias("pw"),
    ).iter_rows():
        loss = report.loss.setdefault(r[0], LevelLoss(r[0]))
        loss.headline, loss.headline_withheld, loss.population, loss.population_withheld = int(r[1]), int(r[2]), r[3], r[4]
    dims = v.with_columns(pl.col("breakdown").str.split("=").list.first().alias("_dim"))
    for r in dims.group_by("_dim").agg(pl.len().alias("n"), pl.col("suppressed").sum().alias("w")).iter_rows():
        report.loss_by_breakdown[r[0]] = (int(r[1]), int(r[2]))


# --------------------------------------------------------------------------- entry points
def audit_values(values: pl.DataFrame, indicators: pl.DataFrame, lookup: pl.DataFrame, threshold: int,
                 source: str = "the new release", exact: bool = False) -> AuditReport:
    """Audit `indicator_values` as published (withheld counts already NULL)."""
    started = time.perf_counter()
    report = AuditReport(source, rows=values.height, withheld=int(values["suppressed"].fill_null(False).sum()))
    meta = _meta(indicators)
    check_published(values, meta, threshold, report)
    attack_values(values, indicators, lookup, threshold, report, exact=exact)
    information_loss(values, report)
    report.seconds = time.perf_counter() - started
    return report


def read_release(path: Path) -> dict[str, pl.DataFrame]:
    from pipelines.release import ReleaseReader, open_release  # noqa: PLC0415 (reader only when auditing a file)

    con = open_release(path)
    try:
        reader = ReleaseReader(con)
        return {name: reader.table(name) for name in publish.RELEASE_TABLES}
    finally:
        con.close()


def audit_release(path: Path | None = None, exact: bool = False) -> AuditReport:
    """Audit a published release file (default: the live one)."""
    path = Path(path) if path is not None else config.release_path()
    started = time.perf_counter()
    tables = read_release(path)
    report = AuditReport(str(path))
    check_contract(tables, report)
    if not report.ok:
        return report
    values = tables["indicator_values"]
    info = tables["release"].row(0, named=True) if tables["release"].height else {}
    threshold = int(info.get("suppression_threshold") or config.suppression_threshold())
    inner = audit_values(values, tables["indicators"], tables["area_lookup"], threshold, str(path), exact=exact)
    inner.findings = report.findings + inner.findings
    for col in ("primary_suppressions", "complementary_suppressions"):
        if info.get(col) is not None:
            setattr(inner, col.split("_")[0], int(info[col]))
    inner.seconds = time.perf_counter() - started
    return inner


def previous_pattern(path: Path) -> pl.DataFrame | None:
    """The live release's withheld pattern (indicator_id, period, area_code, breakdown, suppressed),
    read before it is replaced; None if there is no readable release."""
    from pipelines.release import ReleaseMissing, ReleaseReader, open_release  # noqa: PLC0415

    if not Path(path).exists():
        return None
    try:
        con = open_release(path)
    except ReleaseMissing:
        return None
    try:
        return ReleaseReader(con).published_values().select(
            "indicator_id", "period", "area_code", "breakdown", pl.col("suppressed").fill_null(False)
        )
    except Exception:  # noqa: BLE001 (an unreadable old release only loses stability, never safety)
        return None
    finally:
        con.close()

