"""Disclosure control of a large geography by linked sub-tables (issue 10; docs/methods.md).

One block (an indicator and a period-year) over the whole geography is one linked system: at national
scale (7,000 wards) that is half a million inner cells and an LP and elimination far beyond one
machine's minutes. Above `modular_wards()` wards the block is split, as tau-argus's modular (HiTaS)
method splits a hierarchical table, into:

- the top sub-table: the county (or England), districts and partnerships, with the wards of each
  (district, partnership) pair lumped into one unit (no ward is published in it);
- one sub-table per part: the wards linked by a district or partnership (one district's wards where
  partnerships follow districts), with that district's and partnership's counts.

The top is protected first; each part then keeps the top's decisions on its district and partnership
counts (withheld ones are protected again in the part; published ones are the last complements taken).
Two additions make the split as safe as the whole system for what measures publishes:

- downwards: a part is also attacked as if its withheld district counts were known exactly, so a ward
  is protected whatever the top lets an attacker learn about its district (conservative);
- upwards: a part's published wards tell an attacker that their district's count is at least their sum
  (`subset_bounds`); the top is attacked again with those bounds, and protected further if needed,
  until the top and the parts agree. Wards are published for `all` and the year only, so their sum is
  all that the wards say about a district's counts: the top's attack is then the joint one.

Withholding more never helps an attacker, so the union of what the top and the parts withhold is the
release's pattern.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pipelines.sdc_system import Geography, LinkedSystem

#: A geography with more wards than this is split into sub-tables (Lincolnshire: 155 wards, one system).
MODULAR_WARDS = 1000
#: The code standing for a part's top in its own lookup (never an area: no relation is formed with it).
PART_TOP = "\x00part"


def modular_wards() -> int:
    """LCP_SDC_MODULAR_WARDS, else MODULAR_WARDS: the most wards protected as one linked system."""
    env = os.environ.get("LCP_SDC_MODULAR_WARDS")
    return int(env) if env else MODULAR_WARDS


@dataclass
class Modular:
    """The sub-tables of a geography: the top (units = wards of one district and partnership) and parts."""

    top: Geography
    parts: list[Geography]
    #: ward, district and partnership code -> its part
    part_of_area: dict[str, int]


def modular_of(geo: Geography, limit: int | None = None) -> Modular | None:
    """The split of `geo`, or None when it has `limit` (modular_wards()) wards or fewer."""
    limit = modular_wards() if limit is None else limit
    if len(geo.wards) <= limit:
        return None
    parent = {w: w for w, *_ in geo.lookup}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_of: dict[str, str] = {}
    for w, d, p, _ in geo.lookup:
        for area in (d, p):
            other = first_of.setdefault(area, w)
            ra, rb = find(w), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[tuple[str, str, str, str]]] = {}
    for row in geo.lookup:
        groups.setdefault(find(row[0]), []).append(row)
    parts: list[Geography] = []
    part_of_area: dict[str, int] = {}
    for root in sorted(groups):
        rows = groups[root]
        i = len(parts)
        parts.append(Geography.from_lookup([(w, d, p, PART_TOP) for w, d, p, _ in rows]))
        for w, d, p, _ in rows:
            part_of_area[w] = part_of_area[d] = part_of_area[p] = i
    units = sorted({(f"{d}\x1f{p}", d, p, c) for _, d, p, c in geo.lookup})
    return Modular(Geography.from_lookup(units), parts, part_of_area)


def split_rows(keys: Sequence[tuple[str, str, str]], geo: Geography,
               mod: Modular) -> tuple[list[int], list[tuple[Geography, list[int]]]]:
    """Row positions of the top sub-table, and (geography, row positions) of every part that has ward rows. A part holds its wards'
    rows and its district's and partnership's rows for the same periods and breakdowns as those (the
    year and `all` where wards are published for those only): the district's other rows (breakdowns,
    quarters) say nothing about how its wards' totals are made up that any split of the wards could not
    meet, and they are the top's. A row for an area not in the lookup goes to the top, where building
    the system reports it."""
    top: list[int] = []
    wards: dict[int, list[int]] = {}
    shared: dict[int, list[int]] = {}
    kinds: dict[int, set[tuple[str, str]]] = {}
    for i, (period, area, breakdown) in enumerate(keys):
        level = geo.area_level.get(area)
        part = mod.part_of_area.get(area)
        if level != "ward":
            top.append(i)
            if part is not None and level in ("district", "partnership"):
                shared.setdefault(part, []).append(i)
        elif part is not None:
            wards.setdefault(part, []).append(i)
            kinds.setdefault(part, set()).add((period, breakdown))
    out = []
    for p in sorted(wards):
        linked = [i for i in shared.get(p, []) if (keys[i][0], keys[i][2]) in kinds[p]]
        out.append((mod.parts[p], sorted(wards[p] + linked)))
    return top, out


def subset_bounds(system: LinkedSystem, published: Iterable[int], values: Sequence[float | None],
                  targets: Iterable[int]) -> dict[int, float]:
    """target cell -> the sum of disjoint published cells inside it: what a part's published counts say
    about a withheld count of the top (at least that much). Only targets with a positive bound."""
    pub = [c for c in published if values[c] is not None and values[c] > 0]
    pub.sort(key=lambda c: -len(system.cell_vars[c]))
    out: dict[int, float] = {}
    for t in targets:
        tv = system.cell_vars[t]
        taken = np.zeros(0, dtype=np.int64)
        total = 0.0
        for c in pub:
            cv = system.cell_vars[c]
            if c == t or len(cv) >= len(tv) or not np.isin(cv, tv, assume_unique=True).all():
                continue
            if len(taken) and np.isin(cv, taken, assume_unique=True).any():
                continue
            taken = np.concatenate([taken, cv])
            total += float(values[c])
        if total > 0:
            out[t] = total
    return out
