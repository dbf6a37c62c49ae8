"""Small hand-made linked tables for the disclosure tests: counts by ward x quarter x sex x ethnicity,
and every published row built from them (areas, breakdowns, quarters and their year)."""
from __future__ import annotations

from collections import defaultdict

import polars as pl

T = 10
YEAR = "2024/25"
QUARTERS = tuple(f"{YEAR} Q{i}" for i in range(1, 5))
SCHEMA = {"indicator_id": pl.String, "period": pl.String, "area_code": pl.String, "area_level": pl.String,
          "breakdown": pl.String, "numerator": pl.Int64, "denominator": pl.Float64}


def hierarchy(districts: dict[str, list[str]], county: str = "C") -> pl.DataFrame:
    """Wards in districts; each district has a coterminous partnership P<n>."""
    rows = []
    for i, (d, wards) in enumerate(sorted(districts.items()), start=1):
        rows += [(w, d, f"P{i}", county) for w in wards]
    return pl.DataFrame(rows, schema=["ward_code", "district_code", "partnership_code", "county_code"], orient="row")


HIER = hierarchy({"D1": ["W1", "W2", "W3"], "D2": ["W4", "W5", "W6"]})


def table(
    cells: dict[tuple, int],
    hier: pl.DataFrame = HIER,
    dims: dict[str, list[str]] | None = None,
    quarters: bool = False,
    den: dict[tuple, float] | None = None,
    population: float = 1000.0,
    indicator: str = "X",
) -> pl.DataFrame:
    """Rows for every area, period and breakdown.

    `cells`: (ward, quarter, *categories) -> count, quarter 1-4 (or None without quarters), one
    category per dimension of `dims` (default {"sex": ["F", "M"]}), in that order. `den`: client
    denominators with the same keys; without it every row gets the public `population` per ward
    (times the share of categories in the row, so that parts add up to `all`).
    """
    dims = dims if dims is not None else {"sex": ["F", "M"]}
    names = list(dims)
    lookup = {r["ward_code"]: r for r in hier.iter_rows(named=True)}
    acc: dict[tuple[str, str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for key, n in cells.items():
        ward, q, *cats = key
        periods = [YEAR] + ([QUARTERS[q - 1]] if quarters else [])
        d = den[key] if den is not None else None
        r = lookup[ward]
        for level, code in (("ward", ward), ("district", r["district_code"]),
                            ("partnership", r["partnership_code"]), ("county", r["county_code"])):
            for p in periods:
                labels = ["all"] + [f"{dim}={c}" for dim, c in zip(names, cats, strict=True)]
                for b in labels:
                    a = acc[(p, code, level, b)]
                    a[0] += n
                    a[1] += d if d is not None else 0.0
    # every combination present (zeros included), as measures does
    periods = [YEAR] + (list(QUARTERS) if quarters else [])
    areas = [(w, "ward") for w in lookup] + sorted({(r["district_code"], "district") for r in lookup.values()}) + \
        sorted({(r["partnership_code"], "partnership") for r in lookup.values()}) + \
        [(next(iter(lookup.values()))["county_code"], "county")]
    labels = ["all"] + [f"{d}={c}" for d in names for c in dims[d]]
    n_wards = {code: 0 for code, _ in areas}
    for r in lookup.values():
        for code in (r["ward_code"], r["district_code"], r["partnership_code"], r["county_code"]):
            n_wards[code] += 1
    rows = []
    for p in periods:
        for code, level in areas:
            for b in labels:
                n, d = acc.get((p, code, level, b), (0, 0.0))
                if den is None:
                    share = 1.0 if b == "all" else 1.0 / len(dims[b.split("=")[0]])
                    d = population * n_wards[code] * share
                rows.append((indicator, p, code, level, b, int(n), float(d)))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def meta(kind: str = "population", sensitive: bool = False, indicator: str = "X") -> pl.DataFrame:
    return pl.DataFrame({"indicator_id": [indicator], "denominator_kind": [kind], "sensitive": [sensitive]})


def hidden(out: pl.DataFrame) -> set[tuple[str, str, str]]:
    return {(r["period"], r["area_code"], r["breakdown"]) for r in out.filter(pl.col("suppressed")).iter_rows(named=True)}


def withhold(rows: pl.DataFrame, keys, kind: str = "population") -> pl.DataFrame:
    """A hand-made pattern: the rows with these (period, area, breakdown) keys withheld."""
    keys = {(k if len(k) == 3 else (YEAR, *k)) for k in keys}
    flag = pl.Series("suppressed", [(p, a, b) in keys for p, a, b in rows.select("period", "area_code", "breakdown").iter_rows()])
    out = rows.with_columns(flag)
    return out.with_columns(
        pl.when(pl.col("suppressed")).then(None).otherwise(pl.col("numerator")).alias("numerator"),
        pl.when(pl.col("suppressed") & pl.lit(kind == "client")).then(None).otherwise(pl.col("denominator"))
        .alias("denominator"),
    )
