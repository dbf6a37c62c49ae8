"""An independent LP attacker for tests, written apart from pipelines.sdc_system.

It models the full cross-classification (ward x period x sex x ethnicity x age ..., every combination
of the categories a block publishes) rather than the margins the production code uses, solves with
plain `scipy.optimize.linprog(method="highs")`, and lumps nothing: for each withheld count it asks
for the least and the greatest value consistent with every published count of its block (published
counts fixed, cells >= 0). A count fails when the greatest is 10 or less (shown to be small) or the
interval is less than one wide (determined).
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.optimize import linprog

YEAR = re.compile(r"^\d{4}/\d{2}")


@dataclass
class Verdict:
    key: tuple[str, str, str, str]  # indicator_id, period, area_code, breakdown
    lo: float
    hi: float

    def fails(self, threshold: int = 10) -> bool:
        return self.hi < threshold + 1 - 1e-6 or self.hi - self.lo < 1 - 1e-6


def _block_key(period: str) -> str:
    m = YEAR.match(period)
    return m.group(0) if m else period


class Block:
    """One indicator and period-year as a full cube."""

    def __init__(self, rows: pl.DataFrame, lookup: pl.DataFrame, value: str = "numerator"):
        self.rows = rows
        wards = sorted(lookup["ward_code"].to_list())
        members: dict[str, list[str]] = {w: [w] for w in wards}
        for col in ("district_code", "partnership_code", "county_code"):
            for code, grp in lookup.group_by(col):
                members[code[0]] = sorted(grp["ward_code"].to_list())
        periods = sorted(set(rows["period"].to_list()))
        year = [p for p in periods if " " not in p or not YEAR.match(p)]
        quarters = [p for p in periods if YEAR.match(p) and " " in p]
        inner = quarters if quarters else periods
        if quarters and len(quarters) < 4 and year:
            inner = quarters + ["rest"]
        dims: dict[str, set[str]] = {}
        for b in set(rows["breakdown"].to_list()):
            if b != "all":
                d, c = b.split("=", 1)
                dims.setdefault(d, set()).add(c)
        self.dim_names = sorted(dims)
        combos = list(itertools.product(*[sorted(dims[d]) for d in self.dim_names])) or [()]
        self.index = {
            (w, q, combo): i
            for i, (w, q, combo) in enumerate(itertools.product(wards, inner, combos))
        }
        self.n = len(self.index)
        data_rows, data_cols = [], []
        for r, (period, area, breakdown) in enumerate(rows.select("period", "area_code", "breakdown").iter_rows()):
            qs = [period] if period in inner else inner
            fix = None
            if breakdown != "all":
                d, c = breakdown.split("=", 1)
                fix = (self.dim_names.index(d), c)
            for w in members[area]:
                for q in qs:
                    for combo in combos:
                        if fix is None or combo[fix[0]] == fix[1]:
                            data_rows.append(r)
                            data_cols.append(self.index[(w, q, combo)])
        self.matrix = sp.csr_matrix((np.ones(len(data_rows)), (data_rows, data_cols)), shape=(rows.height, self.n))
        supp = rows["suppressed"].fill_null(False).to_numpy()
        self.published = np.flatnonzero(~supp)
        self.withheld = np.flatnonzero(supp)
        vals = rows[value].to_numpy()
        self.a_eq = self.matrix[self.published]
        self.b_eq = vals[self.published].astype(float)

    def interval(self, r: int) -> tuple[float, float]:
        c = np.asarray(self.matrix[r].todense()).ravel()
        lo = linprog(c, A_eq=self.a_eq, b_eq=self.b_eq, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=self.a_eq, b_eq=self.b_eq, bounds=(0, None), method="highs")
        assert lo.status == 0 and hi.status in (0, 3), (lo.message, hi.message)
        return lo.fun, (np.inf if hi.status == 3 else -hi.fun)  # 3: unbounded, nothing published limits it

    def verdict(self, r: int) -> Verdict:
        lo, hi = self.interval(r)
        row = self.rows.row(int(r), named=True)
        return Verdict((row["indicator_id"], row["period"], row["area_code"], row["breakdown"]), lo, hi)


def blocks(values: pl.DataFrame, lookup: pl.DataFrame, value: str = "numerator", keep=None) -> list[Block]:
    """One Block per indicator and period-year (a 12-month window on its own); `keep(indicator_id,
    block_key)` chooses which to build."""
    v = values.with_columns(pl.col("period").map_elements(_block_key, return_dtype=pl.String).alias("_block"))
    out = []
    for (ind, key), grp in v.group_by("indicator_id", "_block", maintain_order=True):
        if keep is None or keep(ind, key):
            out.append(Block(grp.drop("_block"), lookup, value))
    return out


def attack(values: pl.DataFrame, lookup: pl.DataFrame, threshold: int = 10, value: str = "numerator",
           only=None) -> list[Verdict]:
    """Every failing withheld count (all of them, or those whose key satisfies `only(row)`)."""
    failures = []
    for block in blocks(values, lookup, value):
        for r in block.withheld:
            if only is not None and not only(block.rows.row(int(r), named=True)):
                continue
            v = block.verdict(r)
            if v.fails(threshold):
                failures.append(v)
    return failures
