"""A synthetic England-shaped geography for scale tests (`lcp demo --scale 10x|national`).

`write_geography(out, n_wards)` writes the same files as the repository's geo/ (wards.geojson,
districts.geojson, hierarchy.csv, partnerships.csv, postcodes.csv, population.csv,
deprivation_ward.csv, retired_wards.csv) plus:

- county.csv: the top area, the release's 'county' level: E92000001 England;
- counties.csv: the synthetic counties and their districts (wards in districts in counties, as in
  England's two-tier areas); the release does not publish them, the demo generates one county at a time;
- synthetic.json: what was asked for (marks the folder as generated).

Shape: about 22 wards a district (England: ~7,000 wards in ~310 districts), 7 districts a county
(Lincolnshire's numbers), one partnership area per district. Each synthetic ward copies the child
population (by sex and single year of age, times a random factor 0.8-1.25) and the IDACI score of a
Lincolnshire ward drawn at random, so counts per ward are county-like and the totals grow with the
number of wards. Boundaries are grid squares (clockwise rings), one block of squares per district, laid
over England's longitude and latitude. Codes: wards E059xxxxx, districts E079xxxxx, counties E109xxxxx
(no real area has them), partnerships LCPnnn; postcodes one outward code per ward ('AB10'), 12 a ward.
Everything is drawn from `numpy.random.default_rng(seed)`.
"""
from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.config import GEO_DIR

ENGLAND = ("E92000001", "England")
WARDS_PER_DISTRICT = 22
DISTRICTS_PER_COUNTY = 7
POSTCODES_PER_WARD = 12
#: a district is drawn as a block of BLOCK x BLOCK grid squares (one ward each)
BLOCK = 6
CELL_DEG = 0.06


def _sizes(rng: np.random.Generator, total: int, parts: int, cap: int) -> np.ndarray:
    """`parts` sizes of 1..cap summing to `total` (about equal, with some spread)."""
    w = rng.uniform(0.7, 1.3, parts)
    sizes = np.clip(np.floor(w / w.sum() * total).astype(np.int64), 1, cap)
    while sizes.sum() < total:  # hand out what rounding and the cap left, to the smallest first
        gap = total - int(sizes.sum())
        small = np.argsort(sizes, kind="stable")[:gap]
        sizes[small[sizes[small] < cap]] += 1
    while sizes.sum() > total:
        sizes[np.argmax(sizes)] -= 1
    return sizes


def _square(x: int, y: int) -> list[list[float]]:
    x0, y0 = -5.5 + x * CELL_DEG, 50.2 + y * CELL_DEG
    x1, y1 = x0 + CELL_DEG, y0 + CELL_DEG
    r = lambda v: round(v, 5)  # noqa: E731
    # clockwise (as plotly's d3 geo expects an outer ring): up, right, down, back
    return [[r(x0), r(y0)], [r(x0), r(y1)], [r(x1), r(y1)], [r(x1), r(y0)], [r(x0), r(y0)]]


def write_geography(out: Path, n_wards: int, seed: int = 2026) -> dict:
    """Write a synthetic geography of `n_wards` wards to `out` (created); returns its counts."""
    if n_wards < 2:
        raise ValueError("a synthetic geography needs at least 2 wards")
    rng = np.random.default_rng([seed, 10])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n_d = max(2, round(n_wards / WARDS_PER_DISTRICT))
    sizes = _sizes(rng, n_wards, n_d, BLOCK * BLOCK)
    n_c = -(-n_d // DISTRICTS_PER_COUNTY)

    ward_code = np.array([f"E059{i:05d}" for i in range(n_wards)])
    district_i = np.repeat(np.arange(n_d), sizes)
    district_code = np.array([f"E079{d:05d}" for d in range(n_d)])
    district_name = np.array([f"District {d + 1:03d}" for d in range(n_d)])
    county_code = np.array([f"E109{c:05d}" for c in range(n_c)])
    ward_name = np.array([f"Ward {i + 1:04d}" for i in range(n_wards)])

    # templates: Lincolnshire's live wards (population and deprivation)
    pop = pl.read_csv(GEO_DIR / "population.csv",
                      schema={"ward_code": pl.String, "sex": pl.String, "age": pl.Int32, "population": pl.Float64})
    dep = pl.read_csv(GEO_DIR / "deprivation_ward.csv", columns=["ward_code", "idaci_score", "imd_score"],
                      schema_overrides={"ward_code": pl.String, "idaci_score": pl.Float64, "imd_score": pl.Float64})
    templates = np.array(sorted(set(pop["ward_code"].to_list()) & set(dep["ward_code"].to_list())))
    tpl = templates[rng.integers(0, templates.size, n_wards)]
    factor = rng.uniform(0.8, 1.25, n_wards)
    mapping = pl.DataFrame({"ward_code": ward_code, "template": tpl, "factor": factor, "ward_name": ward_name,
                            "lad_code": district_code[district_i], "lad_name": district_name[district_i]})

    hierarchy = pl.DataFrame({
        "ward_code": ward_code, "district_code": district_code[district_i],
        "partnership_code": [f"LCP{d + 1:03d}" for d in district_i], "county_code": ENGLAND[0],
    })
    hierarchy.write_csv(out / "hierarchy.csv")
    pl.DataFrame({
        "partnership_code": [f"LCP{d + 1:03d}" for d in range(n_d)],
        "partnership_name": [f"{n} LCP" for n in district_name], "district_code": district_code,
    }).write_csv(out / "partnerships.csv")
    pl.DataFrame({"county_code": [ENGLAND[0]], "county_name": [ENGLAND[1]]}).write_csv(out / "county.csv")
    c_of_d = np.arange(n_d) // DISTRICTS_PER_COUNTY
    pl.DataFrame({"county_code": county_code[c_of_d], "county_name": [f"County {c + 1:02d}" for c in c_of_d],
                  "district_code": district_code}).write_csv(out / "counties.csv")
    (
        mapping.join(pop.rename({"ward_code": "template"}), on="template")
        .select("ward_code", "sex", "age", (pl.col("population") * pl.col("factor")).round(1).alias("population"))
        .sort("ward_code", "sex", "age")
        .write_csv(out / "population.csv")
    )
    (
        mapping.join(dep.rename({"ward_code": "template"}), on="template")
        .select("ward_code", "ward_name", "lad_code", "lad_name", "idaci_score", "imd_score",
                pl.col("template").alias("template_ward_code"))
        .sort("ward_code")
        .write_csv(out / "deprivation_ward.csv")
    )
    pl.DataFrame(schema={"ward_code": pl.String, "ward_name": pl.String, "district_code": pl.String,
                         "retired": pl.String}).write_csv(out / "retired_wards.csv")

    # postcodes: outward code per ward (two letters + 10..99), inward '<digit>A<letter>'
    letters = string.ascii_uppercase
    outward = [f"{letters[(i // 90) // 26 % 26]}{letters[(i // 90) % 26]}{10 + i % 90}" for i in range(n_wards)]
    inward = [f"{k % 10}A{letters[k // 10]}" for k in range(POSTCODES_PER_WARD)]
    pl.DataFrame({
        "postcode": [f"{o} {s}" for o in outward for s in inward],
        "ward_code": np.repeat(ward_code, POSTCODES_PER_WARD),
        "district_code": np.repeat(district_code[district_i], POSTCODES_PER_WARD),
    }).write_csv(out / "postcodes.csv")

    # boundaries: district d is block (d % cols, d // cols); its k-th ward square (k % BLOCK, k // BLOCK)
    cols = max(1, int(np.ceil(np.sqrt(n_d))))
    k_in_d = np.arange(n_wards) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    gx = (district_i % cols) * (BLOCK + 1) + k_in_d % BLOCK
    gy = (district_i // cols) * (BLOCK + 1) + k_in_d // BLOCK
    squares = [_square(int(x), int(y)) for x, y in zip(gx, gy)]
    ward_features = [
        {"type": "Feature", "properties": {"ward_code": ward_code[i], "ward_name": ward_name[i],
                                           "lad_code": district_code[district_i[i]],
                                           "lad_name": district_name[district_i[i]]},
         "geometry": {"type": "Polygon", "coordinates": [squares[i]]}}
        for i in range(n_wards)
    ]
    starts = np.cumsum(sizes) - sizes
    district_features = [
        {"type": "Feature", "properties": {"lad_code": district_code[d], "lad_name": district_name[d]},
         "geometry": {"type": "MultiPolygon",
                      "coordinates": [[squares[i]] for i in range(starts[d], starts[d] + sizes[d])]}}
        for d in range(n_d)
    ]
    (out / "wards.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": ward_features},
                                                  separators=(",", ":")))
    (out / "districts.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": district_features},
                                                      separators=(",", ":")))
    summary = {"wards": n_wards, "districts": n_d, "partnerships": n_d, "counties": int(n_c),
               "top": list(ENGLAND), "seed": seed, "postcodes": n_wards * POSTCODES_PER_WARD}
    (out / "synthetic.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
