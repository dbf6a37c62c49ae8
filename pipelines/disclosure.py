"""Stage 2: disclosure control. "Publish on 11 or more, suppress on 10 or less" (zero included).

1. Primary suppression: every numerator, and every client-cohort denominator, of `threshold` or less;
   for sensitive indicators also the complement (denominator - numerator) of `threshold` or less.
2. Complementary suppression over the linked constraints of one indicator and period:
   ward -> district, ward -> partnership, district -> county, partnership -> county, breakdown parts
   (sex=F + sex=M) -> all at every area, and coterminous areas (a partnership equal to a district) as
   one cell. Repeated until nothing changes, in every constraint:
   - never exactly one withheld member (it would be total minus the rest);
   - where the total is published, the withheld parts must together be more than `threshold`
     (otherwise the published figures prove them all small);
   the complement chosen is the smallest published part (ties by area/breakdown code): least
   information lost, deterministic.
3. A row with any withheld count is `suppressed`; its counts are nulled (a population denominator
   stays, as it is public). Everything derived (value, limits, RAG, ...) is computed after this stage
   from published counts only, so it is null too.

This is a sound heuristic for the hierarchy above; the exact linear-algebra/LP guarantee and
`lcp audit` come with issue 6.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import polars as pl

KEY = ("indicator_id", "period", "area_code", "breakdown")


@dataclass(frozen=True)
class Constraint:
    total: tuple[str, str]  # (area_code, breakdown)
    parts: tuple[tuple[str, str], ...]


def linked_constraints(hierarchy: pl.DataFrame, breakdowns: list[str], area_codes: set[str]) -> list[Constraint]:
    """Every additive relation between published cells of one indicator and period."""
    out: list[Constraint] = []
    parents: dict[str, list[str]] = defaultdict(list)
    ward_sets: dict[str, frozenset[str]] = {}
    for level in ("district_code", "partnership_code"):
        for parent, group in hierarchy.group_by(level, maintain_order=True):
            code = parent[0]
            parents[code] = sorted(group["ward_code"].to_list())
            ward_sets[code] = frozenset(parents[code])
    for level in ("district_code", "partnership_code"):
        for county, group in hierarchy.group_by("county_code", maintain_order=True):
            parents[f"{county[0]}|{level}"] = sorted(group[level].unique().to_list())
    for b in breakdowns:
        for total, children in parents.items():
            total_code = total.split("|")[0]
            out.append(Constraint((total_code, b), tuple((c, b) for c in children)))
    # coterminous areas (e.g. a partnership equal to a district) are one cell under two codes
    by_set: dict[frozenset[str], list[str]] = defaultdict(list)
    for code, wards in ward_sets.items():
        by_set[wards].append(code)
    for codes in by_set.values():
        for other in codes[1:]:
            for b in breakdowns:
                out.append(Constraint((codes[0], b), ((other, b),)))
    # breakdown parts add up to all, at every area
    parts_of = defaultdict(list)
    for b in breakdowns:
        if b != "all":
            parts_of[b.split("=")[0]].append(b)
    for code in sorted(area_codes):
        for dim, bs in parts_of.items():
            out.append(Constraint((code, "all"), tuple((code, b) for b in sorted(bs))))
    return [c for c in out if c.total[0] in area_codes and all(p[0] in area_codes for p in c.parts)]


def protect_counts(values: dict[tuple[str, str], int], primary: set[tuple[str, str]],
                   constraints: list[Constraint], threshold: int) -> set[tuple[str, str]]:
    """Return the withheld cells: primary plus complements, until every constraint is protected."""
    withheld = set(primary)
    changed = True
    while changed:
        changed = False
        for c in constraints:
            members = (c.total,) + c.parts
            hidden = [m for m in members if m in withheld]
            if not hidden:
                continue
            hidden_parts = [p for p in c.parts if p in withheld]
            total_published = c.total not in withheld
            needs = len(hidden) == 1 or (
                total_published and hidden_parts and sum(values[p] for p in hidden_parts) <= threshold
            )
            if not needs:
                continue
            candidates = sorted((values[p], p) for p in c.parts if p not in withheld)
            if candidates:
                withheld.add(candidates[0][1])
            elif total_published:
                withheld.add(c.total)
            else:
                continue
            changed = True
    return withheld


def suppress(counts: pl.DataFrame, indicators: pl.DataFrame, hierarchy: pl.DataFrame, threshold: int) -> pl.DataFrame:
    """counts (measures.OUTPUT_SCHEMA) -> the same rows with withheld counts nulled and `suppressed`.

    `indicators` gives per indicator_id: denominator_kind ('client'|'population') and sensitive (bool).
    """
    meta = {r["indicator_id"]: r for r in indicators.iter_rows(named=True)}
    withheld_rows: set[tuple] = set()
    for (ind, period), group in counts.group_by("indicator_id", "period", maintain_order=True):
        kind = meta[ind]["denominator_kind"]
        sensitive = bool(meta[ind]["sensitive"])
        area_codes = set(group["area_code"].to_list())
        constraints = linked_constraints(hierarchy, sorted(set(group["breakdown"].to_list())), area_codes)
        rows = group.select("area_code", "breakdown", "numerator", "denominator").rows()
        num = {(a, b): n for a, b, n, _ in rows}
        den = {(a, b): d for a, b, _, d in rows}
        withheld = {k for k, n in num.items() if n <= threshold}
        if kind == "client":
            dens = {k: int(round(v)) for k, v in den.items()}
            withheld |= {k for k, d in dens.items() if d <= threshold}
            if sensitive:
                withheld |= {k for k in num if dens[k] - num[k] <= threshold}
            # rows are withheld whole (numerator and client denominator), so both count systems must
            # hold against subtraction with the same set of withheld rows
            while True:
                grown = protect_counts(dens, protect_counts(num, withheld, constraints, threshold),
                                       constraints, threshold)
                if grown == withheld:
                    break
                withheld = grown
        else:
            withheld = protect_counts(num, withheld, constraints, threshold)
        withheld_rows |= {(ind, period, a, b) for a, b in withheld}
    flags = pl.DataFrame(
        [(*k, True) for k in withheld_rows],
        schema={"indicator_id": pl.String, "period": pl.String, "area_code": pl.String,
                "breakdown": pl.String, "suppressed": pl.Boolean},
        orient="row",
    )
    kinds = indicators.select("indicator_id", "denominator_kind")
    out = (
        counts.join(flags, on=list(KEY), how="left")
        .join(kinds, on="indicator_id", how="left")
        .with_columns(pl.col("suppressed").fill_null(False))
        .with_columns(
            pl.when(pl.col("suppressed")).then(None).otherwise(pl.col("numerator")).alias("numerator"),
            pl.when(pl.col("suppressed") & (pl.col("denominator_kind") == "client"))
            .then(None)
            .otherwise(pl.col("denominator"))
            .alias("denominator"),
        )
        .drop("denominator_kind")
    )
    return out
