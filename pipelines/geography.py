"""The Lincolnshire geography in geo/: hierarchy, area names, postcodes, population, boundaries.

The hierarchy is data (geo/hierarchy.csv): ward -> district -> county and ward -> partnership ->
county. Partnership areas are coterminous with districts but are their own level and codes.

Every reader goes through `config.geo_dir()`: the repository's geo/ (Lincolnshire), or the data folder's
own geo/ (or `LCP_GEO_DIR`) with the same files, e.g. the synthetic England written by
`lcp demo --scale national` (pipelines/synthetic_geo.py), whose top area is England (geo/county.csv).
"""
from __future__ import annotations

import json
import re
import functools
from functools import lru_cache

import polars as pl

from pipelines import config
from pipelines.config import COUNTY_CODE, COUNTY_NAME

#: Valid UK postcode shapes (A9 9AA, A99 9AA, AA9 9AA, AA99 9AA, A9A 9AA, AA9A 9AA) after normalising.
POSTCODE_RE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")


def normalise_postcode(raw: str | None) -> str | None:
    """'ln11 1pl' / 'LN111PL' -> 'LN11 1PL'; None if not a valid UK postcode shape."""
    if raw is None:
        return None
    s = re.sub(r"\s+", "", str(raw).upper())
    m = POSTCODE_RE.match(s[:-3] + " " + s[-3:]) if len(s) >= 5 else None
    return f"{m.group(1)} {m.group(2)}" if m else None


def normalise_postcode_expr(col: pl.Expr) -> pl.Expr:
    """Vectorised normalise_postcode: strip spaces, upper-case, insert the space before the inward code."""
    s = col.cast(pl.String).str.to_uppercase().str.replace_all(r"\s+", "")
    spaced = pl.concat_str([s.str.slice(0, s.str.len_chars() - 3), pl.lit(" "), s.str.slice(-3)])
    return pl.when(spaced.str.contains(POSTCODE_RE.pattern)).then(spaced).otherwise(None)


def _per_geo(fn):
    """Cache `fn()` per geography in use (`config.geo_dir()`: the repository's geo/, or a data
    folder's own, e.g. the synthetic England of `lcp demo --scale national`), read when first asked."""
    cached = lru_cache(maxsize=4)(lambda _geo_dir: fn())

    @functools.wraps(fn)
    def wrapper():
        return cached(config.geo_dir())

    wrapper.cache_clear = cached.cache_clear
    return wrapper


def county() -> tuple[str, str]:
    """The top area (release level 'county'): code and name. geo/county.csv if the geography has one
    (the synthetic England: E92000001, England), else Lincolnshire."""
    return _county()


@_per_geo
def _county() -> tuple[str, str]:
    path = config.geo_dir() / "county.csv"
    if not path.is_file():
        return COUNTY_CODE, COUNTY_NAME
    row = pl.read_csv(path, infer_schema_length=0).row(0, named=True)
    return row["county_code"], row["county_name"]


@_per_geo
def hierarchy() -> pl.DataFrame:
    """One row per ward: ward_code, district_code, partnership_code, county_code."""
    return pl.read_csv(config.geo_dir() / "hierarchy.csv", infer_schema_length=0)


@_per_geo
def retired_wards() -> pl.DataFrame:
    """Ward codes no longer in use (geo/retired_wards.csv): ward_code, ward_name, district_code, retired."""
    return pl.read_csv(config.geo_dir() / "retired_wards.csv", infer_schema_length=0)


@_per_geo
def partnerships() -> pl.DataFrame:
    return pl.read_csv(config.geo_dir() / "partnerships.csv", infer_schema_length=0)


@_per_geo
def areas() -> pl.DataFrame:
    """Every area at every level: area_code, area_name, area_level, parent_code (contract table)."""
    wards = ward_geojson()["features"]
    ward_rows = [
        (f["properties"]["ward_code"], f["properties"]["ward_name"], "ward", f["properties"]["lad_code"])
        for f in wards
    ]
    districts = {f["properties"]["lad_code"]: f["properties"]["lad_name"] for f in wards}
    top_code, top_name = county()
    district_rows = [(code, name, "district", top_code) for code, name in sorted(districts.items())]
    lcp_rows = [
        (r["partnership_code"], r["partnership_name"], "partnership", top_code)
        for r in partnerships().iter_rows(named=True)
    ]
    rows = [(top_code, top_name, "county", None)] + lcp_rows + district_rows + sorted(ward_rows)
    return pl.DataFrame(
        rows, schema={"area_code": pl.String, "area_name": pl.String, "area_level": pl.String, "parent_code": pl.String},
        orient="row",
    )


@_per_geo
def postcodes() -> pl.DataFrame:
    """postcode ('LN11 1PL' form), ward_code, district_code: 23,668 live Lincolnshire postcodes."""
    return pl.read_csv(config.geo_dir() / "postcodes.csv", infer_schema_length=0)


@_per_geo
def population() -> pl.DataFrame:
    """ONS mid-2020 population aged 0-19 by ward, sex (F/M) and single year of age (float: NK apportioned)."""
    return pl.read_csv(
        config.geo_dir() / "population.csv",
        schema={"ward_code": pl.String, "sex": pl.String, "age": pl.Int32, "population": pl.Float64},
    )


@_per_geo
def ward_geojson() -> dict:
    return json.loads((config.geo_dir() / "wards.geojson").read_text())


@_per_geo
def district_geojson() -> dict:
    return json.loads((config.geo_dir() / "districts.geojson").read_text())


def find_postcode(raw: str | None) -> dict | None:
    """The ward, district and partnership area of a Lincolnshire postcode ('ln11 1pl' or 'LN111PL'):
    {'postcode', 'ward_code', 'district_code', 'partnership_code'}; None if it is not a valid postcode
    shape or not a live Lincolnshire postcode."""
    pc = normalise_postcode(raw)
    if pc is None:
        return None
    hit = postcodes().filter(pl.col("postcode") == pc)
    if hit.is_empty():
        return None
    ward = hit["ward_code"][0]
    row = hierarchy().filter(pl.col("ward_code") == ward)
    return {
        "postcode": pc, "ward_code": ward, "district_code": hit["district_code"][0],
        "partnership_code": row["partnership_code"][0] if row.height else None,
    }


@_per_geo
def partnership_geojson() -> dict:
    """The partnership areas' boundaries (coterminous with districts): district features with
    `partnership_code` and `partnership_name` added."""
    by_district = {r["district_code"]: r for r in partnerships().iter_rows(named=True)}
    features = []
    for f in district_geojson()["features"]:
        p = by_district.get(f["properties"]["lad_code"])
        if p is not None:
            features.append({**f, "properties": {**f["properties"], "partnership_code": p["partnership_code"],
                                                 "partnership_name": p["partnership_name"]}})
    return {"type": "FeatureCollection", "features": features}
