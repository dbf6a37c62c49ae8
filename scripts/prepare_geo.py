"""Copy the Lincolnshire geography from ../shared/geo into geo/, in the shapes the scorecard uses.

Run once by a developer (the output is committed): `uv run python scripts/prepare_geo.py`.
- wards.geojson / districts.geojson: polygon rings re-oriented clockwise (plotly's px.choropleth
  wants them so), coordinates kept at 6 dp, properties unchanged.
- postcodes.csv: postcode -> ward and district (Code-Point ward; lat/lon dropped).
- population.csv: ONS mid-2020 0-19 population on 2025 wards, long form (ward, sex, age).
- hierarchy.csv: one row per ward: ward -> district -> county and ward -> partnership -> county.
- partnerships.csv: the 7 Locality Children's Partnerships, their own codes and names.
- deprivation_ward.csv: IoD2025 ward aggregates (context for locality profiles).
- retired_wards.csv: ward codes no longer in use (North Kesteven before May 2023), for aggregate supplies.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import polars as pl
from shapely.geometry import mapping
from shapely.geometry.polygon import orient

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT.parent / "shared" / "geo"
OUT = ROOT / "geo"
COUNTY = "E10000019"

PARTNERSHIPS = {
    "E07000136": ("LCP01", "Boston LCP"),
    "E07000137": ("LCP02", "East Lindsey LCP"),
    "E07000138": ("LCP03", "Lincoln LCP"),
    "E07000139": ("LCP04", "North Kesteven LCP"),
    "E07000140": ("LCP05", "South Holland LCP"),
    "E07000141": ("LCP06", "South Kesteven LCP"),
    "E07000142": ("LCP07", "West Lindsey LCP"),
}


def _clockwise(geom):
    if geom.geom_type == "Polygon":
        return orient(geom, sign=-1.0)
    if geom.geom_type == "MultiPolygon":
        return type(geom)([orient(p, sign=-1.0) for p in geom.geoms])
    raise ValueError(geom.geom_type)


def _round(coords):
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return [round(c, 6) for c in coords]
    return [_round(c) for c in coords]


def write_geojson(src: Path, dst: Path, keep: list[str]) -> None:
    gdf = gpd.read_file(src)
    feats = []
    for _, row in gdf.iterrows():
        geom = mapping(_clockwise(row.geometry))
        geom = {"type": geom["type"], "coordinates": _round(geom["coordinates"])}
        feats.append({"type": "Feature", "properties": {k: row[k] for k in keep}, "geometry": geom})
    dst.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, separators=(",", ":")))


def main() -> int:
    OUT.mkdir(exist_ok=True)
    write_geojson(SRC / "wards.geojson", OUT / "wards.geojson", ["ward_code", "ward_name", "lad_code", "lad_name"])
    write_geojson(SRC / "districts.geojson", OUT / "districts.geojson", ["lad_code", "lad_name"])

    pc = pl.read_csv(SRC / "postcodes.csv", infer_schema_length=0)
    pc.select("postcode", "ward_code", pl.col("lad_code").alias("district_code")).sort("postcode").write_csv(
        OUT / "postcodes.csv"
    )

    pop = pl.read_csv(SRC / "population_mid2020_ward2025_age0-19_est.csv")
    pop = pop.filter(pl.col("sex").is_in(["males", "females"]))
    long = pop.unpivot(
        index=["ward_code", "sex"], on=[f"age_{a}" for a in range(20)], variable_name="age", value_name="population"
    ).with_columns(
        pl.col("sex").replace_strict({"males": "M", "females": "F"}),
        pl.col("age").str.strip_prefix("age_").cast(pl.Int32),
        pl.col("population").cast(pl.Float64),
    )
    long.sort("ward_code", "sex", "age").write_csv(OUT / "population.csv")

    wards = pl.read_csv(SRC / "population_mid2020_ward2025_age0-19_est.csv").select(
        "ward_code", "ward_name", "lad_code", "lad_name"
    ).unique().sort("ward_code")
    hier = wards.select(
        "ward_code",
        pl.col("lad_code").alias("district_code"),
        pl.col("lad_code").replace_strict({k: v[0] for k, v in PARTNERSHIPS.items()}).alias("partnership_code"),
        pl.lit(COUNTY).alias("county_code"),
    )
    hier.write_csv(OUT / "hierarchy.csv")
    pl.DataFrame(
        {
            "partnership_code": [v[0] for v in PARTNERSHIPS.values()],
            "partnership_name": [v[1] for v in PARTNERSHIPS.values()],
            "district_code": list(PARTNERSHIPS.keys()),
        }
    ).write_csv(OUT / "partnerships.csv")
    # ward codes no longer in use (the North Kesteven wards before May 2023): an aggregate supply that
    # still uses one is refused with a clear message (pipelines.geography.retired_wards)
    old = pl.read_csv(SRC / "population_mid2020_ward2020_age0-19.csv", infer_schema_length=0).select(
        "ward_code", "ward_name", pl.col("lad_code").alias("district_code")
    ).unique()
    old.filter(~pl.col("ward_code").is_in(wards["ward_code"].to_list())).with_columns(
        pl.lit("2023-05").alias("retired")
    ).sort("ward_code").write_csv(OUT / "retired_wards.csv")
    shutil.copy(SRC / "deprivation" / "deprivation_ward2025.csv", OUT / "deprivation_ward.csv")
    shutil.copy(SRC / "PROVENANCE.md", OUT / "PROVENANCE.md")
    shutil.copy(SRC / "deprivation" / "PROVENANCE.md", OUT / "PROVENANCE_deprivation.md")
    print("wards", len(wards), "postcodes", pc.height, "population rows", long.height)
    return 0


if __name__ == "__main__":
    sys.exit(main())
