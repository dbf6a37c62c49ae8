"""The linked-table system behind disclosure control and its audit (no I/O, no polars).

One *block* is one indicator and one period-year: the year (`2024/25`) and its quarters
(`2024/25 Q1` ...) with every area and breakdown published for them. Every published count is a sum
of *inner cells*, and every count is a 0/1 vector over the inner cells:

- inner cells: ward x inner period x (breakdown dimension, category), where the inner periods are the
  quarters when the block has any (plus a `rest` period when the year is there but not all four
  quarters are) or else the year itself; the dimensions are the `dim=` parts of the breakdown labels
  (`sex`, `ethnicity`, `age`, ...). A count for area A, period P and breakdown `dim=c` is the sum of
  (w, q, dim, c) over the wards w of A and the inner periods q of P; a count for breakdown `all` is
  that sum over the categories of a reference dimension (the one with the fewest categories).
- known rows: for every ward and inner period the categories of every dimension add up to the same
  total as those of the reference dimension (`sum_c x[w,q,d,c] - sum_c x[w,q,ref,c] = 0`). They are
  public knowledge (the parts of each breakdown add up to `all`) and enter every elimination and LP.

Only one-way breakdowns (area x one dimension x period) are ever published, so this is exact: any
non-negative margins that agree on their ward x period totals come from some non-negative full cube
(ward x sex x ethnicity x age x quarter), e.g. the product of the margins divided by the total. The
attacker's feasible set for the published counts is the same in both formulations, and so is the
linear span, which is why disclosure works from the margins that measures produces.

Identical vectors are one cell (a partnership coterminous with its district, `sex=F` of an
indicator for girls only and `all`): they are published or withheld together.

`EchelonBasis` is exact integer Gaussian elimination on sparse vectors (python ints, gcd-normalised),
`Attacker` finds, by linear programming over the LP relaxation (scipy HiGHS), what an attacker can
learn about every withheld count from the published ones.
"""
from __future__ import annotations

import heapq
import itertools
import math
import multiprocessing
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from pipelines.workers import main_hidden

Vector = dict[int, int]
LEVEL_RANK = {"county": 0, "partnership": 1, "district": 1, "ward": 2}
REST = "rest"


class LinkedSystemError(ValueError):
    """Rows that cannot be placed in a linked system (unknown area, bad breakdown label)."""


def workers() -> int:
    """Worker processes for independent blocks: LCP_SDC_WORKERS, else the CPUs (at most 4)."""
    env = os.environ.get("LCP_SDC_WORKERS")
    if env:
        return max(1, int(env))
    return max(1, min(4, os.cpu_count() or 1))


class LazyJobs(Sequence):
    """Jobs made when they are taken (`make(i)`), so that a run over every indicator-year of a national
    release holds a few blocks' inputs in memory, not all of them."""

    def __init__(self, n: int, make: Callable[[int], object]):
        self.n, self.make = n, make

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.make(i)


def run_jobs(fn: Callable, jobs: Sequence, weights: Sequence[float] | None = None, min_work: float = 20_000) -> list:
    """[fn(job) for job in jobs], in worker processes when there is enough work (`weights` summing to
    `min_work` or more) and more than one worker. Spawned, not forked (polars runs threads), largest
    jobs first, at most two per worker queued at a time (each job is taken from `jobs` only when it is
    submitted: see LazyJobs); results in the order of `jobs`; an exception in a job is raised here."""
    n = workers()
    total = sum(weights) if weights is not None else len(jobs) * min_work
    if n <= 1 or len(jobs) < 2 or total < min_work:
        return [fn(j) for j in jobs]
    order = iter(sorted(range(len(jobs)), key=lambda i: -(weights[i] if weights is not None else 0)))
    results: list = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=min(n, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as ex:
        pending = {}
        try:
            with main_hidden():  # workers start on the first submits (pipelines.workers)
                for i in itertools.islice(order, 2 * n):
                    pending[ex.submit(fn, jobs[i])] = i
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    results[pending.pop(future)] = future.result()
                    nxt = next(order, None)
                    if nxt is not None:
                        pending[ex.submit(fn, jobs[nxt])] = nxt
        except BaseException:
            ex.shutdown(wait=True, cancel_futures=True)
            raise
    return results


def period_year(period: str) -> str:
    """'2024/25 Q3' -> '2024/25'; '2024/25' -> '2024/25'."""
    return period.split(" ", 1)[0]


def parse_breakdown(label: str) -> tuple[str, str] | None:
    """'all' -> None; 'sex=F' -> ('sex', 'F')."""
    if label == "all":
        return None
    if "=" not in label:
        raise LinkedSystemError(f"breakdown {label!r} is neither 'all' nor 'dimension=category'")
    dim, cat = label.split("=", 1)
    return dim, cat


@dataclass
class Geography:
    """Area code -> its wards, from the ward lookup (ward, district, partnership, county codes)."""

    wards: list[str]
    area_wards: dict[str, tuple[int, ...]]
    area_level: dict[str, str]
    #: per ward, the codes of the (non-ward) areas that contain it: wards with the same signature are
    #: interchangeable wherever all their own cells are withheld
    signature: list[tuple[str, ...]] = field(default_factory=list)
    #: parent area -> its partitions into child areas (a district into wards; the county into districts
    #: and into partnerships)
    partitions: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    #: the lookup rows (ward, district, partnership, county), sorted
    lookup: list[tuple[str, str, str, str]] = field(default_factory=list)

    @classmethod
    def from_lookup(cls, rows: Iterable[tuple[str, str, str, str]]) -> Geography:
        rows = sorted(rows)
        wards = [r[0] for r in rows]
        index = {w: i for i, w in enumerate(wards)}
        members: dict[str, list[int]] = defaultdict(list)
        level: dict[str, str] = {}
        for w, d, p, c in rows:
            members[w].append(index[w])
            level[w] = "ward"
            for code, lvl in ((d, "district"), (p, "partnership"), (c, "county")):
                members[code].append(index[w])
                level.setdefault(code, lvl)
        signature = [tuple(sorted((d, p, c))) for _, d, p, c in rows]
        kids: dict[tuple[str, str], set[str]] = defaultdict(set)
        for w, d, p, c in rows:
            kids[(d, "ward")].add(w)
            kids[(p, "ward")].add(w)
            kids[(c, "district")].add(d)
            kids[(c, "partnership")].add(p)
        partitions: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for (parent, _), children in sorted(kids.items()):
            if children != {parent}:
                partitions[parent].append(tuple(sorted(children)))
        return cls(wards, {a: tuple(sorted(m)) for a, m in members.items()}, level, signature, dict(partitions),
                   [tuple(r) for r in rows])


@dataclass
class LinkedSystem:
    """The cells of one block as sparse 0/1 vectors over its inner cells."""

    keys: list[tuple[str, str, str]]  # (period, area_code, breakdown) of every input row
    cell_of_row: list[int]  # merged cell of every row
    cell_rows: list[list[int]]  # rows of every merged cell
    cell_vars: list[np.ndarray]  # sorted inner-cell ids of every merged cell
    known: list[Vector]  # known rows (= 0)
    n_vars: int
    cell_level: list[int]  # LEVEL_RANK of the cell's area (lowest over its rows)
    cell_is_total: list[bool]  # breakdown all (for ordering)
    cell_is_year: list[bool]
    # layout of the inner cells: id = (ward * n_inner + inner period) * n_cat + category
    n_wards: int = 0
    inner: list[str] = field(default_factory=list)
    cats: list[tuple[str, str]] = field(default_factory=list)
    ref: str = ""
    row_ward: list[int] = field(default_factory=list)  # ward index of a ward-level row, else -1
    row_inner: list[int] = field(default_factory=list)  # inner period of a quarter row, else -1
    row_cat: list[int] = field(default_factory=list)  # category of a `dim=c` row, else -1
    ward_signature: list[tuple[str, ...]] = field(default_factory=list)
    #: additive relations between cells (total, parts): areas, breakdown parts, quarters -> year
    relations: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    _matrix: sp.csr_matrix | None = field(default=None, repr=False)

    @property
    def n_cells(self) -> int:
        return len(self.cell_vars)

    def vector(self, cell: int) -> Vector:
        return dict.fromkeys(self.cell_vars[cell].tolist(), 1)

    def matrix(self) -> sp.csr_matrix:
        """cells x inner cells, 0/1."""
        if self._matrix is None:
            indptr = np.zeros(self.n_cells + 1, dtype=np.int64)
            indptr[1:] = np.cumsum([len(v) for v in self.cell_vars])
            indices = np.concatenate(self.cell_vars) if self.cell_vars else np.zeros(0, dtype=np.int64)
            self._matrix = sp.csr_matrix(
                (np.ones(len(indices)), indices, indptr), shape=(self.n_cells, self.n_vars)
            )
        return self._matrix

    def known_matrix(self) -> sp.csr_matrix:
        data, rows, cols = [], [], []
        for i, row in enumerate(self.known):
            for c, v in row.items():
                rows.append(i)
                cols.append(c)
                data.append(v)
        return sp.csr_matrix((data, (rows, cols)), shape=(len(self.known), self.n_vars))

    def cell_values(self, row_values: Sequence[float | None], name: str = "count") -> list[float | None]:
        """Row values -> one value per merged cell (None if every row of the cell is None).

        Rows merged into one cell must agree (they are the same count under two names)."""
        out: list[float | None] = [None] * self.n_cells
        for r, c in enumerate(self.cell_of_row):
            v = row_values[r]
            if v is None:
                continue
            have = out[c]
            if have is None:
                out[c] = v
            elif have != v:
                keys = [self.keys[i] for i in self.cell_rows[c]]
                raise LinkedSystemError(f"{name} differs between rows that are the same count: {keys} ({have}, {v})")
        return out


def build_system(keys: Sequence[tuple[str, str, str]], geo: Geography) -> LinkedSystem:
    """The linked system of one block (one indicator, one period-year) from its row keys."""
    periods = sorted({k[0] for k in keys})
    years = {period_year(p) for p in periods}
    if len(years) != 1:
        raise LinkedSystemError(f"one block is one period-year, got {sorted(years)}")
    (year,) = years
    quarters = sorted(p for p in periods if p != year)
    if quarters:
        inner = list(quarters)
        if year in periods and len(quarters) < 4:
            inner.append(REST)
    else:
        inner = [year]
    q_index = {q: i for i, q in enumerate(inner)}
    period_inner = {p: ([q_index[p]] if p != year else list(range(len(inner)))) for p in periods}

    dims: dict[str, set[str]] = defaultdict(set)
    for b in {k[2] for k in keys}:
        pb = parse_breakdown(b)
        if pb:
            dims[pb[0]].add(pb[1])
    if not dims:
        dims = {"": {""}}
    dim_names = sorted(dims, key=lambda d: (len(dims[d]), d))
    ref = dim_names[0]
    cats: list[tuple[str, str]] = [(d, c) for d in dim_names for c in sorted(dims[d])]
    cat_index = {dc: i for i, dc in enumerate(cats)}
    ref_cats = [cat_index[(ref, c)] for c in sorted(dims[ref])]
    n_cat = len(cats)
    n_q = len(inner)
    n_w = len(geo.wards)
    n_vars = n_w * n_q * n_cat

    # every row's vector = wards(area) x inner periods(period) x categories(breakdown), built for all
    # rows at once (ids come out sorted: ward, then period, then category)
    ward_index = {w: i for i, w in enumerate(geo.wards)}
    area_ids: dict[str, int] = {}
    per_ids: dict[str, int] = {}
    bd_ids: dict[str, int] = {}
    for area in {k[1] for k in keys}:
        if area not in geo.area_wards:
            raise LinkedSystemError(f"area {area!r} is not in the ward lookup")
    row_area = np.array([area_ids.setdefault(k[1], len(area_ids)) for k in keys], dtype=np.int64)
    row_per = np.array([per_ids.setdefault(k[0], len(per_ids)) for k in keys], dtype=np.int64)
    row_bd = np.array([bd_ids.setdefault(k[2], len(bd_ids)) for k in keys], dtype=np.int64)

    def flat(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lengths = np.array([len(x) for x in lists], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        values = np.array([v for x in lists for v in x], dtype=np.int64)
        return values, offsets, lengths

    wv, wo, wl = flat([list(geo.area_wards[a]) for a in area_ids])
    qv, qo, ql = flat([period_inner[p] for p in per_ids])
    bd_parsed = {b: parse_breakdown(b) for b in bd_ids}
    cv, co, cl = flat([ref_cats if bd_parsed[b] is None else [cat_index[bd_parsed[b]]] for b in bd_ids])
    lw, lq, lc = wl[row_area], ql[row_per], cl[row_bd]
    size = lw * lq * lc
    start = np.concatenate([[0], np.cumsum(size)]).astype(np.int64)
    owner = np.repeat(np.arange(len(keys), dtype=np.int64), size)
    local = np.arange(start[-1], dtype=np.int64) - start[owner]
    eq, ec = lq[owner], lc[owner]
    iw, iq, ic = local // (eq * ec), (local // ec) % eq, local % ec
    var = (wv[wo[row_area][owner] + iw] * n_q + qv[qo[row_per][owner] + iq]) * n_cat + cv[co[row_bd][owner] + ic]
    # identical vectors are one cell: group rows by (size, two random-weight hashes), then confirm
    rng = np.random.default_rng(20260)
    r1 = rng.integers(1, 2**62, n_vars, dtype=np.int64).astype(np.uint64)
    r2 = rng.integers(1, 2**62, n_vars, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        h1 = np.add.reduceat(r1[var], start[:-1]) if len(var) else np.zeros(0, dtype=np.uint64)
        h2 = np.add.reduceat(r2[var], start[:-1]) if len(var) else np.zeros(0, dtype=np.uint64)
    level_of_area = np.array([LEVEL_RANK[geo.area_level[a]] for a in area_ids], dtype=np.int64)
    sig = np.stack([size, h1.view(np.int64), h2.view(np.int64)], axis=1)
    _, first, inverse = np.unique(sig, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(first, kind="stable")  # cells numbered by their first row
    renumber = np.empty(len(order), dtype=np.int64)
    renumber[order] = np.arange(len(order))
    cell_of = renumber[inverse]
    first_row = first[order]
    n_cells = len(first_row)
    row_level = level_of_area[row_area]
    is_total_row = np.array([bd_parsed[b] is None for b in bd_ids], dtype=bool)[row_bd]
    level_arr = np.zeros(n_cells, dtype=np.int64)
    np.maximum.at(level_arr, cell_of, row_level)
    total_arr = np.ones(n_cells, dtype=bool)
    np.logical_and.at(total_arr, cell_of, is_total_row)
    by_cell = np.argsort(cell_of, kind="stable")
    bounds = np.searchsorted(cell_of[by_cell], np.arange(n_cells + 1))
    cell_rows = [by_cell[bounds[c]: bounds[c + 1]].tolist() for c in range(n_cells)]
    cell_vars = [var[start[r]: start[r + 1]] for r in first_row.tolist()]
    for c in np.flatnonzero(np.diff(bounds) > 1).tolist():
        for r in cell_rows[c][1:]:
            if not np.array_equal(cell_vars[c], var[start[r]: start[r + 1]]):  # pragma: no cover (2^-128)
                raise LinkedSystemError("hash collision between two different counts")
    cell_of_row = cell_of.tolist()
    cell_level = level_arr.tolist()
    cell_is_total = total_arr.tolist()
    cell_is_year = [keys[r][0] == year for r in first_row.tolist()]
    row_ward = [ward_index[k[1]] if geo.area_level[k[1]] == "ward" else -1 for k in keys]
    row_inner = [q_index[k[0]] if k[0] != year else -1 for k in keys]
    row_cat = [-1 if bd_parsed[k[2]] is None else cat_index[bd_parsed[k[2]]] for k in keys]

    cat_dim = [d for d, _ in cats]
    known = known_rows(n_w, n_q, cat_dim, ref)
    relations = _relations(keys, cell_of_row, geo, year, quarters, dims)
    return LinkedSystem(list(keys), cell_of_row, cell_rows, cell_vars, known, n_vars, cell_level,
                        cell_is_total, cell_is_year, n_w, inner, cats, ref, row_ward, row_inner, row_cat,
                        list(geo.signature), relations)


def _relations(keys, cell_of_row, geo: Geography, year: str, quarters: list[str],
               dims: dict[str, set[str]]) -> list[tuple[int, tuple[int, ...]]]:
    """Every published-table relation total = sum of parts, in merged cells (members all present)."""
    cell = {k: cell_of_row[i] for i, k in enumerate(keys)}
    periods = sorted({k[0] for k in keys})
    areas = sorted({k[1] for k in keys})
    breakdowns = sorted({k[2] for k in keys})
    out: set[tuple[int, tuple[int, ...]]] = set()

    def add(total_key, part_keys) -> None:
        if total_key not in cell or any(k not in cell for k in part_keys):
            return
        total = cell[total_key]
        parts = tuple(sorted({cell[k] for k in part_keys} - {total}))
        if parts and len(parts) == len(part_keys):
            out.add((total, parts))

    for p in periods:
        for b in breakdowns:
            for a in areas:
                for children in geo.partitions.get(a, ()):
                    add((p, a, b), [(p, c, b) for c in children])
    parts_of = {d: [f"{d}={c}" for c in sorted(cs)] for d, cs in dims.items() if d}
    for p in periods:
        for a in areas:
            for labels in parts_of.values():
                add((p, a, "all"), [(p, a, b) for b in labels])
    if len(quarters) == 4 and year in periods:
        for a in areas:
            for b in breakdowns:
                add((year, a, b), [(q, a, b) for q in quarters])
    return sorted(out)


def known_rows(n_w: int, n_q: int, cat_dim: Sequence[str], ref: str) -> list[Vector]:
    """sum of every dimension's categories - sum of the reference dimension's = 0, per ward and period."""
    n_cat = len(cat_dim)
    ref_cats = [i for i, d in enumerate(cat_dim) if d == ref]
    out: list[Vector] = []
    for d in sorted(set(cat_dim) - {ref}):
        d_cats = [i for i, dd in enumerate(cat_dim) if dd == d]
        for w in range(n_w):
            for q in range(n_q):
                base = (w * n_q + q) * n_cat
                row = {base + c: 1 for c in d_cats}
                for c in ref_cats:
                    row[base + c] = -1
                out.append(row)
    return out


def true_point(system: LinkedSystem, row_values: Sequence[float | None]) -> np.ndarray | None:
    """The inner cells as the data has them (ward x inner period x category), from the ward rows;
    None if the rows do not determine them or do not add up (then no point is offered)."""
    n_q, n_cat = len(system.inner), len(system.cats)
    no_dims = system.cats == [("", "")]
    x = np.zeros(system.n_vars)
    filled = np.zeros(system.n_vars, dtype=bool)
    rest = system.inner.index(REST) if REST in system.inner else -1
    year_rows: dict[tuple[int, int], float] = {}
    for r, v in enumerate(row_values):
        w, q, c = system.row_ward[r], system.row_inner[r], system.row_cat[r]
        if w < 0 or v is None or (c < 0 and not no_dims):
            continue
        c = max(c, 0)
        if q < 0 and n_q == 1:
            q = 0
        if q < 0:
            year_rows[(w, c)] = float(v)
            continue
        i = (w * n_q + q) * n_cat + c
        x[i] = float(v)
        filled[i] = True
    if rest >= 0:
        for (w, c), v in year_rows.items():
            base = w * n_q * n_cat + c
            i = (w * n_q + rest) * n_cat + c
            x[i] = v - sum(x[base + q * n_cat] for q in range(n_q) if q != rest)
            filled[i] = True
    if not filled.all() or (x < -1e-9).any():
        return None
    values = system.cell_values(list(row_values))
    have = np.array([v is not None for v in values])
    target = np.array([v if v is not None else 0.0 for v in values], dtype=float)
    if not np.allclose((system.matrix() @ x)[have], target[have]):
        return None
    return x


@dataclass
class Lumped:
    """A system with interchangeable wards, periods and categories merged (see `lump`)."""

    system: LinkedSystem
    partial: np.ndarray  # per cell: not a union of classes (a strict part of some class of 2 or more)
    classes: tuple[int, int, int]  # number of ward, period and category classes
    #: inner cell of the original system -> lumped inner cell (None: nothing lumped)
    var_map: np.ndarray | None = None
    #: lumped inner cell -> one original inner cell of its class (where a lumped point puts the mass)
    representative: np.ndarray | None = None

    def to_lumped(self, x: np.ndarray) -> np.ndarray:
        if self.var_map is None:
            return x
        return np.bincount(self.var_map, weights=x, minlength=self.system.n_vars)

    def to_original(self, xl: np.ndarray, n_original: int) -> np.ndarray:
        if self.representative is None:
            return xl
        x = np.zeros(n_original)
        x[self.representative] = xl
        return x


def lump(system: LinkedSystem, hidden: set[int]) -> Lumped:
    """Merge what no visible cell tells apart: wards with no visible cell of their own and the same
    containing areas; quarters with no visible cell (with the `rest` period); categories of one
    dimension with no visible cell. `hidden`: the cells not visible (withheld, or protected).

    Exact for every cell that is a union of classes: the attacker's polytope for those counts is the
    lumped one, and their span test is the lumped one (put a class's whole mass in one member: every
    visible cell holds the whole class or none of it, and the known rows hold per ward and period).
    A cell that holds a strict part of a class (a ward of a lumped group, a category of a lumped
    group) can always be emptied into another member, so its least value is 0, its greatest is that
    of its class, and it is never a linear combination of visible cells.
    """
    n_w, n_q, n_cat = system.n_wards, len(system.inner), len(system.cats)
    visible = np.ones(system.n_cells, dtype=bool)
    visible[list(hidden)] = False
    row_visible = visible[np.asarray(system.cell_of_row, dtype=np.int64)]
    open_w = np.zeros(n_w, dtype=bool)
    open_q = np.zeros(n_q, dtype=bool)
    open_c = np.zeros(n_cat, dtype=bool)
    for opened, rowvals in ((open_w, system.row_ward), (open_q, system.row_inner), (open_c, system.row_cat)):
        vals = np.asarray(rowvals, dtype=np.int64)[row_visible]
        opened[vals[vals >= 0]] = True
    if n_q == 1:
        open_q[:] = True

    def classes(opened: np.ndarray, group_key) -> tuple[np.ndarray, np.ndarray]:
        ids = np.empty(len(opened), dtype=np.int64)
        seen: dict = {}
        for i in range(len(opened)):
            key = ("open", i) if opened[i] else ("hidden", group_key(i))
            ids[i] = seen.setdefault(key, len(seen))
        sizes = np.bincount(ids, minlength=len(seen))
        return ids, sizes

    w_cls, w_size = classes(open_w, lambda i: system.ward_signature[i])
    q_cls, q_size = classes(open_q, lambda i: 0)
    c_cls, c_size = classes(open_c, lambda i: system.cats[i][0])
    # keep the category classes grouped by dimension (the known rows need each class's dimension)
    cat_dim_of_cls = {}
    for i, k in enumerate(c_cls):
        cat_dim_of_cls[int(k)] = system.cats[i][0]
    nW, nQ, nC = len(w_size), len(q_size), len(c_size)
    if nW == n_w and nQ == n_q and nC == n_cat:
        return Lumped(system, np.zeros(system.n_cells, dtype=bool), (nW, nQ, nC))
    lengths = np.array([len(v) for v in system.cell_vars], dtype=np.int64)
    v = np.concatenate(system.cell_vars)
    owner = np.repeat(np.arange(system.n_cells, dtype=np.int64), lengths)
    w, q, k = v // (n_q * n_cat), (v // n_cat) % n_q, v % n_cat
    n_new = nW * nQ * nC
    mapped = (w_cls[w] * nQ + q_cls[q]) * nC + c_cls[k]
    pairs = np.unique(owner * n_new + mapped)
    cell, var = pairs // n_new, pairs % n_new
    size = w_size[var // (nQ * nC)] * q_size[(var // nC) % nQ] * c_size[var % nC]
    partial = np.bincount(cell, weights=size, minlength=system.n_cells) != lengths
    bounds = np.searchsorted(cell, np.arange(system.n_cells + 1))
    new_vars = [var[bounds[i]: bounds[i + 1]] for i in range(system.n_cells)]
    all_vars = np.arange(n_w * n_q * n_cat, dtype=np.int64)
    aw, aq, ak = all_vars // (n_q * n_cat), (all_vars // n_cat) % n_q, all_vars % n_cat
    var_map = (w_cls[aw] * nQ + q_cls[aq]) * nC + c_cls[ak]
    _, first = np.unique(var_map, return_index=True)  # var_map covers every lumped cell
    representative = all_vars[first]  # the first member of each class
    cat_dim = [cat_dim_of_cls[k] for k in range(nC)]
    lumped = LinkedSystem(
        system.keys, system.cell_of_row, system.cell_rows, new_vars, known_rows(nW, nQ, cat_dim, system.ref),
        nW * nQ * nC, system.cell_level, system.cell_is_total, system.cell_is_year,
    )
    return Lumped(lumped, partial, (nW, nQ, nC), var_map, representative)


# --------------------------------------------------------------------------- exact elimination
def content_normalise(v: Vector) -> Vector:
    """Divide by the gcd of the entries and make the entry at the lowest column positive."""
    if not v:
        return v
    g = 0
    for x in v.values():
        g = math.gcd(g, x)
        if g == 1:
            break
    if v[min(v)] < 0:
        g = -g
    if g == 1:
        return v
    return {c: x // g for c, x in v.items()}


def canonical(v: Vector) -> frozenset[tuple[int, int]]:
    """Hashable canonical form: two non-zero vectors are parallel iff their canonical forms are equal
    (a set of (column, entry) pairs: no sort, which was a third of the elimination's time at scale)."""
    return frozenset(content_normalise(v).items())


class EchelonBasis:
    """Rows in echelon form over the integers (exact): row i is zero at the pivots of rows 0..i-1.

    `reduce(v)` eliminates every pivot column from v; v is in the span of the rows iff the result is
    empty. A reduced vector is zero at every pivot, so a reduced vector u is in span(rows + [r]) for a
    reduced r iff u is parallel to r (the test that makes Gaussian suppression cheap).
    """

    def __init__(self) -> None:
        self.rows: list[Vector] = []
        self.pivots: list[int] = []
        self.row_of_pivot: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def reduce(self, v: Vector) -> Vector:
        v = dict(v)
        rop = self.row_of_pivot
        heap = [rop[c] for c in v if c in rop]
        if not heap:
            return content_normalise(v)
        heapq.heapify(heap)
        queued = set(heap)
        rows, pivots = self.rows, self.pivots
        while heap:
            i = heapq.heappop(heap)
            p = pivots[i]
            a = v.get(p)
            if not a:
                continue
            row = rows[i]
            bp = row[p]
            if a % bp == 0:
                f = a // bp
            else:
                g = math.gcd(a, bp)
                m = abs(bp // g)
                f = (a // g) * (1 if bp > 0 else -1)
                v = {c: x * m for c, x in v.items()}
            for c, x in row.items():
                nv = v.get(c, 0) - f * x
                if nv:
                    if c not in v:
                        j = rop.get(c)
                        if j is not None and j not in queued:
                            queued.add(j)
                            heapq.heappush(heap, j)
                    v[c] = nv
                else:
                    v.pop(c, None)
        return content_normalise(v)

    def add_reduced(self, r: Vector, pivot: int) -> int:
        """Add a vector already reduced by `reduce` (non-empty) with the given pivot column."""
        self.rows.append(r)
        self.pivots.append(pivot)
        self.row_of_pivot[pivot] = len(self.rows) - 1
        return len(self.rows) - 1

    def add(self, v: Vector) -> bool:
        """Reduce and add; False if v was already in the span."""
        r = self.reduce(v)
        if not r:
            return False
        self.add_reduced(r, min(r, key=lambda c: (abs(r[c]), c)))
        return True


def eliminate_with(u: Vector, r: Vector, pivot: int) -> Vector:
    """u reduced by one new basis row r at `pivot` (u zero at every older pivot stays so)."""
    a = u.get(pivot)
    if not a:
        return u
    bp = r[pivot]
    g = math.gcd(a, bp)
    m = abs(bp // g)
    f = (a // g) * (1 if bp > 0 else -1)
    out = {c: x * m for c, x in u.items()} if m != 1 else dict(u)
    for c, x in r.items():
        nv = out.get(c, 0) - f * x
        if nv:
            out[c] = nv
        else:
            out.pop(c, None)
    return content_normalise(out)


def _pivot(r: Vector, touching: dict[int, set[int]]) -> int:
    """The pivot for a new basis row: a column no protected residual uses if there is one (then no
    residual needs updating), else the one fewest use; a unit entry and the lowest column break ties."""
    best, best_key = -1, None
    for col, v in r.items():
        t = touching.get(col)
        key = (len(t) if t else 0, abs(v) != 1, col)
        if best_key is None or key < best_key:
            best, best_key = col, key
    return best


def gauss_secondary(
    system: LinkedSystem,
    protect: Iterable[int],
    candidates: Sequence[int],
    known_cells: Iterable[int] = (),
) -> set[int]:
    """Gaussian secondary suppression (Langsrud; GaussSuppression's method).

    `protect`: cells that must stay underivable (primary and forced). `candidates`: every other cell,
    most wanted published first. `known_cells`: cells the attacker knows anyway (structural zeros).
    Each candidate is published unless that would put some protected cell in the span of the known
    rows and the published cells; then it is withheld (a secondary suppression). Returns the
    secondary cells. Exact: integer arithmetic throughout.
    """
    protect = sorted(set(protect))
    if not protect:
        return set()  # nothing to protect: every candidate is published
    basis = EchelonBasis()
    for row in system.known:
        # already in echelon form: a known row (dimension d minus the reference dimension, one ward
        # and period) is pivoted on a category of d, where no other known row has an entry
        basis.add_reduced(row, next(col for col, v in row.items() if v == 1))
    for c in known_cells:
        basis.add(system.vector(c))
    residual: dict[int, Vector] = {}  # protected cell -> its vector reduced by the basis
    by_canon: dict[tuple, set[int]] = defaultdict(set)
    touching: dict[int, set[int]] = defaultdict(set)  # column -> protected cells whose residual uses it
    for p in protect:
        r = basis.reduce(system.vector(p))
        if not r:
            continue  # derivable from public knowledge alone (structural): nothing can protect it
        residual[p] = r
        by_canon[canonical(r)].add(p)
        for col in r:
            touching[col].add(p)
    secondary: set[int] = set()
    for c in candidates:
        r = basis.reduce(system.vector(c))
        if not r:
            continue  # already implied by what is published
        key = canonical(r)
        if by_canon.get(key):
            secondary.add(c)  # publishing c would reveal a protected cell
            continue
        pivot = _pivot(r, touching)
        basis.add_reduced(r, pivot)
        for p in list(touching.get(pivot, ())):
            old = residual[p]
            new = eliminate_with(old, r, pivot)
            ok = canonical(old)
            by_canon[ok].discard(p)
            if not by_canon[ok]:
                del by_canon[ok]
            for col in old:
                if col not in new:
                    touching[col].discard(p)
            for col in new:
                if col not in old:
                    touching[col].add(p)
            residual[p] = new
            by_canon[canonical(new)].add(p)
    return secondary


# --------------------------------------------------------------------------- the LP attacker
class _HighsLP:
    """min c.x subject to A x = b, A_ub x <= 0, A_lb x >= b_lb, lo <= x <= hi, re-solved with changed
    costs and bounds.

    Uses the HiGHS object that scipy ships (`scipy.optimize._highspy`) so that each re-solve starts
    from the last basis; falls back to `scipy.optimize.linprog(method="highs")` (no warm start) if
    that private module is not there.
    """

    def __init__(self, a_eq: sp.spmatrix, b_eq: np.ndarray, a_ub: sp.spmatrix | None, n: int,
                 primal: bool = False, a_lb: sp.spmatrix | None = None, b_lb: np.ndarray | None = None):
        self.n = n
        self.a_eq = sp.csr_matrix(a_eq)
        self.b_eq = np.asarray(b_eq, dtype=float)
        self.a_ub = None if a_ub is None or a_ub.shape[0] == 0 else sp.csr_matrix(a_ub)
        self.a_lb = None if a_lb is None or a_lb.shape[0] == 0 else sp.csr_matrix(a_lb)
        self.b_lb = np.zeros(0) if self.a_lb is None else np.asarray(b_lb, dtype=float)
        self.cost = np.zeros(n)
        self.upper = np.full(n, np.inf)
        self.solves = 0
        self._h = None
        try:
            from scipy.optimize._highspy import _core as hc  # noqa: PLC0415 (optional fast path)
        except ImportError:  # pragma: no cover - depends on the scipy build
            return
        rows = [self.a_eq] + ([self.a_ub] if self.a_ub is not None else []) + (
            [self.a_lb] if self.a_lb is not None else [])
        a = sp.vstack(rows).tocsc() if rows else sp.csc_matrix((0, n))
        n_ub = 0 if self.a_ub is None else self.a_ub.shape[0]
        lp = hc.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = a.shape[0]
        lp.a_matrix_.num_col_ = n
        lp.a_matrix_.num_row_ = a.shape[0]
        lp.a_matrix_.format_ = hc.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(float)
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.full(n, np.inf)
        lp.row_lower_ = np.concatenate([self.b_eq, np.full(n_ub, -np.inf), self.b_lb])
        lp.row_upper_ = np.concatenate([self.b_eq, np.zeros(n_ub), np.full(len(self.b_lb), np.inf)])
        h = hc._Highs()
        h.setOptionValue("output_flag", False)
        # HiGHS presolve can take seconds on these degenerate 0/1 systems that simplex alone solves in
        # milliseconds (measured: 7-10 s against 0.1 s on a 5,000-column quarterly block)
        h.setOptionValue("presolve", "off")
        if primal:  # only the costs change between solves: the last basis stays feasible
            h.setOptionValue("simplex_strategy", 4)
        h.passModel(lp)
        self._hc = hc
        self._h = h
        self._idx = np.arange(n, dtype=np.int32)

    def set_upper(self, upper: np.ndarray) -> None:
        self.upper = np.asarray(upper, dtype=float)
        if self._h is not None:
            self._h.changeColsBounds(self.n, self._idx, np.zeros(self.n), self.upper)

    def solve(self, cost: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(objective, x, duals of the equality rows)."""
        self.solves += 1
        cost = np.asarray(cost, dtype=float)
        if self._h is not None:
            changed = np.flatnonzero(cost != self.cost).astype(np.int32)
            if len(changed):
                self._h.changeColsCost(len(changed), changed, cost[changed])
            self.cost = cost.copy()
            self._h.run()
            status = self._h.getModelStatus()
            if status == self._hc.HighsModelStatus.kUnboundedOrInfeasible and cost.any():
                zero = self.solve(np.zeros(self.n))  # which of the two: feasible means unbounded
                status = self._hc.HighsModelStatus.kUnbounded if zero[1] is not None else status
            if status == self._hc.HighsModelStatus.kUnbounded:
                return -np.inf, None, None  # nothing published bounds it
            if status != self._hc.HighsModelStatus.kOptimal:
                raise LinkedSystemError(f"attacker LP: {self._h.modelStatusToString(status)}; the published counts "
                                   "are inconsistent with each other")
            sol = self._h.getSolution()
            x = np.array(sol.col_value, dtype=float)
            return float(cost @ x), x, np.array(sol.row_dual, dtype=float)[: self.a_eq.shape[0]]
        ub = [m for m in (self.a_ub, None if self.a_lb is None else -self.a_lb) if m is not None]
        b_ub = np.concatenate([np.zeros(0 if self.a_ub is None else self.a_ub.shape[0]), -self.b_lb])
        res = linprog(cost, A_ub=sp.vstack(ub).tocsr() if ub else None, b_ub=b_ub if ub else None,
                      A_eq=self.a_eq, b_eq=self.b_eq, bounds=np.column_stack([np.zeros(self.n), self.upper]),
                      method="highs", options={"presolve": False})
        if res.status == 3:
            return -np.inf, None, None
        if res.status != 0:
            raise LinkedSystemError(f"attacker LP: {res.message}; the published counts are inconsistent with each other")
        return float(res.fun), res.x, np.asarray(res.eqlin.marginals)


@dataclass
class CellCheck:
    """What the attacker learns about one withheld count (LP relaxation)."""

    cell: int
    lo: float  # exact where `exact`, else the lowest value seen feasible (an upper bound on the least)
    hi: float  # exact where `exact`, else the highest value seen feasible (a lower bound on the greatest)
    exact: bool = False
    ok: bool = True


@dataclass
class AttackResult:
    checks: dict[int, CellCheck]
    failures: list[int]  # cells bounded to <= threshold, left with less than one unit of doubt, ...
    lps: int = 0
    lumped: tuple[int, int, int] = (0, 0, 0)
    #: per failing check (a distinct lumped count), |LP dual| of every published cell: what holds it
    failing_duals: list[np.ndarray] = field(default_factory=list)


class Attacker:
    """What everything published says about each withheld count of one count system.

    Feasible set: x >= 0 (inner cells, real-relaxed), known rows = 0, every published cell = its
    value. For each withheld cell p, [lo, hi] = min/max of p.x. A cell fails when hi <= threshold
    (the published figures prove it small), when hi - lo < 1 (determined: less than one unit of doubt),
    or when lo exceeds its `lo_limit` (a sensitive complement: population - lo <= threshold).

    `lower_bounds` / `upper_bounds`: (cell, L) pairs the attacker also knows (cell >= L, cell <= U),
    e.g. a district count is at least the sum of its published wards, which a separately protected
    sub-table publishes (`pipelines.sdc_modular`).

    Fast path: interchangeable wards, quarters and categories are lumped first (`lump`); then a few
    LPs over all withheld cells at once (maximise the weighted sum of min(p.x, threshold + 1),
    minimise the weighted sum of p.x) find feasible points that widen every cell's seen interval; only
    cells still uncertified get exact min and max LPs, each warm-started from the last basis.
    """

    def __init__(self, system: LinkedSystem, published: Sequence[int], values: Sequence[float],
                 withheld: Sequence[int], threshold: int, lo_limits: Sequence[float] | None = None,
                 known_zero: Sequence[int] = (), points: Sequence[np.ndarray] = (),
                 lower_bounds: Sequence[tuple[int, float]] = (), upper_bounds: Sequence[tuple[int, float]] = ()):
        self.original = system
        self.threshold = threshold
        self.cap = threshold + 1
        self.published = list(published)
        self.withheld = list(withheld)
        bounded = [(c, 1.0, float(v)) for c, v in lower_bounds if v > 0] + [
            (c, -1.0, -float(v)) for c, v in upper_bounds if np.isfinite(v)]
        lumped = lump(system, set(self.withheld) - set(known_zero) - {c for c, _, _ in bounded})
        self.lumped = lumped
        s = lumped.system
        self.system = s
        m = s.matrix()
        # requirements per distinct lumped vector of the withheld cells
        lo_lim = np.full(len(self.withheld), np.inf) if lo_limits is None else np.asarray(lo_limits, dtype=float)
        index: dict[bytes, int] = {}
        self.check_of: list[int] = []
        need_width: list[bool] = []
        limit: list[float] = []
        rows: list[int] = []
        for i, cell in enumerate(self.withheld):
            h = s.cell_vars[cell].tobytes()
            j = index.get(h)
            if j is None:
                j = index[h] = len(rows)
                rows.append(cell)
                need_width.append(False)
                limit.append(np.inf)
            self.check_of.append(j)
            if not lumped.partial[cell]:
                need_width[j] = True
                limit[j] = min(limit[j], lo_lim[i])
        self.partial_fail = [i for i, cell in enumerate(self.withheld) if lumped.partial[cell] and lo_lim[i] < 0]
        self.need_width = np.array(need_width, dtype=bool)
        self.limit = np.array(limit, dtype=float)
        self.w = m[rows] if rows else sp.csr_matrix((0, s.n_vars))
        k = len(rows)
        self.k = k
        pub = m[self.published] if self.published else sp.csr_matrix((0, s.n_vars))
        zeros = m[list(known_zero)] if known_zero else sp.csr_matrix((0, s.n_vars))
        km = s.known_matrix()
        self.a_eq = sp.vstack([pub, zeros, km]).tocsr()
        self.b_eq = np.concatenate([np.asarray(values, dtype=float), np.zeros(zeros.shape[0] + km.shape[0])])
        self.n = s.n_vars
        self.a_lb = sp.diags([sign for _, sign, _ in bounded]) @ m[[c for c, _, _ in bounded]] if bounded else None
        self.b_lb = np.array([v for _, _, v in bounded], dtype=float)
        self.lp = _HighsLP(self.a_eq, self.b_eq, None, self.n, primal=True, a_lb=self.a_lb, b_lb=self.b_lb)
        self._lp_y: _HighsLP | None = None
        self.lo = np.full(k, np.inf)
        self.hi = np.full(k, -np.inf)
        self.exact_lo = np.zeros(k, dtype=bool)
        self.exact_hi = np.zeros(k, dtype=bool)
        self.duals: dict[int, np.ndarray] = {}
        self.n_original = system.n_vars
        #: feasible points (lumped) that widened some interval: `points_original()` seeds the next round
        self.found: list[np.ndarray] = []
        for x in points:
            xl = lumped.to_lumped(np.asarray(x, dtype=float))
            if np.abs(self.a_eq @ xl - self.b_eq).max(initial=0.0) <= 1e-6 * (1 + np.abs(self.b_eq).max(initial=0.0)) \
                    and (self.a_lb is None or (self.a_lb @ xl >= self.b_lb - 1e-6).all()):
                self._see(xl)

    def _see(self, x: np.ndarray, keep: bool = True) -> None:
        x = x[: self.n]
        vals = self.w @ x
        improved = (vals < self.lo - 1e-7).any() or (vals > self.hi + 1e-7).any()
        np.minimum(self.lo, vals, out=self.lo)
        np.maximum(self.hi, vals, out=self.hi)
        if keep and improved and len(self.found) < 2000:
            self.found.append(x.copy())

    def points_original(self) -> list[np.ndarray]:
        """The feasible points seen, in the original inner cells (still feasible if later rounds only
        withhold more)."""
        return [self.lumped.to_original(x, self.n_original) for x in self.found]

    def _weights(self, idx: np.ndarray, flip: bool) -> np.ndarray:
        order = np.arange(len(idx), dtype=float)
        if flip:
            order = order[::-1]
        return 1.0 + order / max(len(idx), 1)

    def _certified(self, eps: float = 1e-6) -> np.ndarray:
        return (
            (self.hi >= self.cap - eps)
            & (~self.need_width | (self.hi - self.lo >= 1 - eps))
            & (self.lo <= self.limit + eps)
        )

    def _ok(self, j: int, eps: float = 1e-6) -> bool:
        hi, lo = float(self.hi[j]), float(self.lo[j])  # inf - inf (nothing seen yet) is nan: not ok
        return bool(hi >= self.cap - eps and (not self.need_width[j] or hi - lo >= 1 - eps)
                    and lo <= self.limit[j] + eps)

    def _bulk_max(self, idx: np.ndarray, flip: bool) -> None:
        """One LP over x and y: maximise sum w_i y_i, y_i <= p_i.x, 0 <= y_i <= cap (for i in idx)."""
        k = self.k
        if self._lp_y is None:
            a_eq = sp.hstack([self.a_eq, sp.csr_matrix((self.a_eq.shape[0], k))]).tocsr()
            a_ub = sp.hstack([-self.w, sp.identity(k, format="csr")]).tocsr()
            a_lb = None if self.a_lb is None else sp.hstack([self.a_lb, sp.csr_matrix((self.a_lb.shape[0], k))]).tocsr()
            self._lp_y = _HighsLP(a_eq, self.b_eq, a_ub, self.n + k, a_lb=a_lb, b_lb=self.b_lb)
        upper = np.concatenate([np.full(self.n, np.inf), np.zeros(k)])
        upper[self.n + idx] = self.cap
        self._lp_y.set_upper(upper)
        cost = np.zeros(self.n + k)
        cost[self.n + idx] = -self._weights(idx, flip)
        self._see(self._lp_y.solve(cost)[1])

    def _bulk_min(self, idx: np.ndarray, flip: bool) -> None:
        cost = np.asarray(self.w[idx].T @ self._weights(idx, flip)).ravel()
        self._see(self.lp.solve(cost)[1])

    def _row(self, j: int) -> np.ndarray:
        row = np.zeros(self.n)
        lo, hi = self.w.indptr[j], self.w.indptr[j + 1]
        row[self.w.indices[lo:hi]] = self.w.data[lo:hi]
        return row

    def _max(self, j: int) -> None:
        val, x, d = self.lp.solve(-self._row(j))
        if x is None:  # unbounded: nothing published limits it
            self.hi[j], self.exact_hi[j] = np.inf, True
            self.duals.setdefault(j, np.zeros(len(self.published)))
            return
        self._see(x)
        self.hi[j], self.exact_hi[j] = -val, True
        self.duals[j] = np.abs(d[: len(self.published)]) + self.duals.get(j, 0)

    def _min(self, j: int) -> None:
        val, x, d = self.lp.solve(self._row(j))
        self._see(x)
        self.lo[j], self.exact_lo[j] = val, True
        self.duals[j] = np.abs(d[: len(self.published)]) + self.duals.get(j, 0)

    def exact_interval(self, j: int) -> tuple[float, float]:
        if not self.exact_lo[j]:
            self._min(j)
        if not self.exact_hi[j]:
            self._max(j)
        return float(self.lo[j]), float(self.hi[j])

    def run(self, exact_all: bool = False, max_bulk: int = 8, exact_failures: bool = True) -> AttackResult:
        """Certify every check (or find it failing); `exact_all` computes every exact interval,
        `exact_failures` the exact interval of every failing check (else just what shows it failing)."""
        lumped = self.lumped.classes
        if not self.withheld:
            return AttackResult({}, [], 0, lumped)
        if self.k and not exact_all:
            flip = False
            for _ in range(max_bulk):
                before = int((~self._certified()).sum())
                if not before:
                    break
                todo = np.flatnonzero(self.hi < self.cap - 1e-6)
                if len(todo) > 1:
                    self._bulk_max(todo, flip)
                todo = np.flatnonzero(~self._certified())
                if len(todo) > 1:
                    self._bulk_min(todo, flip)
                flip = not flip
                if before - int((~self._certified()).sum()) < 4:
                    break
        for j in range(self.k):
            if exact_all:
                self.exact_interval(j)
                continue
            if self._ok(j):
                continue
            if self.hi[j] < self.cap - 1e-6:
                self._max(j)
            if not self._ok(j) and self.hi[j] >= self.cap - 1e-6:
                self.exact_interval(j)  # a width or lower-limit doubt: the least value decides
        ok = self._certified()
        checks: dict[int, CellCheck] = {}
        failures: list[int] = []
        duals: dict[int, np.ndarray] = {}  # failing check -> duals
        partial_fail = set(self.partial_fail)
        for i, cell in enumerate(self.withheld):
            j = self.check_of[i]
            partial = bool(self.lumped.partial[cell])
            lo = 0.0 if partial else float(self.lo[j])
            good = bool(ok[j]) if not partial else bool(self.hi[j] >= self.cap - 1e-6) and i not in partial_fail
            if not good:
                if exact_failures or j not in self.duals:
                    self.exact_interval(j)
                failures.append(cell)
                duals[j] = self.duals[j]
            exact = bool(self.exact_hi[j] and (partial or self.exact_lo[j]))
            checks[cell] = CellCheck(cell, lo, float(self.hi[j]), exact, good)
        solves = self.lp.solves + (self._lp_y.solves if self._lp_y else 0)
        return AttackResult(checks, failures, solves, lumped, list(duals.values()))
