"""The Lincolnshire geography in geo/: hierarchy, area names, postcodes, population, boundaries.

The hierarchy is data (geo/hierarchy.csv): ward -> district -> county and ward -> partnership ->
county. Partnership areas are coterminous with districts but are their own level and codes.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache

import polars as pl

from pipelines.config import COUNTY_CODE, COUNTY_NAME, GEO_DIR

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


@lru_cache(maxsize=1)
def hierarchy() -> pl.DataFrame:
    """One row per ward: ward_code, district_code, partnership_code, county_code."""
    return pl.read_csv(GEO_DIR / "hierarchy.csv", infer_schema_length=0)


@lru_cache(maxsize=1)
def retired_wards() -> pl.DataFrame:
    """Ward codes no longer in use (geo/retired_wards.csv): ward_code, ward_name, district_code, retired."""
    return pl.read_csv(GEO_DIR / "retired_wards.csv", infer_schema_length=0)


@lru_cache(maxsize=1)
def partnerships() -> pl.DataFrame:
    return pl.read_csv(GEO_DIR / "partnerships.csv", infer_schema_length=0)


@lru_cache(maxsize=1)
def areas() -> pl.DataFrame:
    """Every area at every level: area_code, area_name, area_level, parent_code (contract table)."""
    wards = ward_geojson()["features"]
    ward_rows = [
        (f["properties"]["ward_code"], f["properties"]["ward_name"], "ward", f["properties"]["lad_code"])
        for f in wards
    ]
    districts = {f["properties"]["lad_code"]: f["properties"]["lad_name"] for f in wards}
    district_rows = [(code, name, "district", COUNTY_CODE) for code, name in sorted(districts.items())]
    lcp_rows = [
        (r["partnership_code"], r["partnership_name"], "partnership", COUNTY_CODE)
        for r in partnerships().iter_rows(named=True)
    ]
    rows = [(COUNTY_CODE, COUNTY_NAME, "county", None)] + lcp_rows + district_rows + sorted(ward_rows)
    return pl.DataFrame(
        rows, schema={"area_code": pl.String, "area_name": pl.String, "area_level": pl.String, "parent_code": pl.String},
        orient="row",
    )


@lru_cache(maxsize=1)
def postcodes() -> pl.DataFrame:
    """postcode ('LN11 1PL' form), ward_code, district_code: 23,668 live Lincolnshire postcodes."""
    return pl.read_csv(GEO_DIR / "postcodes.csv", infer_schema_length=0)


@lru_cache(maxsize=1)
def population() -> pl.DataFrame:
    """ONS mid-2020 population aged 0-19 by ward, sex (F/M) and single year of age (float: NK apportioned)."""
    return pl.read_csv(
        GEO_DIR / "population.csv",
        schema={"ward_code": pl.String, "sex": pl.String, "age": pl.Int32, "population": pl.Float64},
    )


@lru_cache(maxsize=1)
def ward_geojson() -> dict:
    return json.loads((GEO_DIR / "wards.geojson").read_text())


@lru_cache(maxsize=1)
def district_geojson() -> dict:
    return json.loads((GEO_DIR / "districts.geojson").read_text())


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


@lru_cache(maxsize=1)
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
