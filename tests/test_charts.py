"""pipelines.charts: the ward map and the display formatting."""
from __future__ import annotations

import re

import polars as pl
import pytest

import fixture_release as fx
from pipelines import charts, geography
from pipelines.release import ReleaseReader, open_release


@pytest.fixture(scope="module")
def frame(fixture_release) -> pl.DataFrame:
    con = open_release()
    try:
        return ReleaseReader(con).map_values("NI 55", "2023/24")
    finally:
        con.close()


@pytest.fixture(scope="module")
def geojson() -> dict:
    return geography.ward_geojson()


def _fixture_geojson(geojson: dict) -> dict:
    return {"type": "FeatureCollection",
            "features": [f for f in geojson["features"] if f["properties"]["ward_code"] in fx.WARDS]}


def _traces(fig, *roles):
    return [t for t in fig.data if (t.meta or {}).get("role") in roles]


def _locations(fig, *roles) -> list[str]:
    return [loc for t in _traces(fig, *roles) for loc in t.locations]


@pytest.mark.parametrize("colour_by", ["value", "rag"])
def test_one_location_per_ward(frame, geojson, colour_by):
    fig = charts.ward_map(_fixture_geojson(geojson), frame, colour_by, "NI 55", "percentage")
    data = _locations(fig, "value", "rag", "withheld", "no_data")
    assert sorted(data) == sorted(fx.WARDS)
    assert len(data) == len(set(data)) == frame.height


@pytest.mark.parametrize("colour_by", ["value", "rag"])
def test_whole_county_draws_every_ward_once(frame, geojson, colour_by):
    fig = charts.ward_map(geojson, frame, colour_by, "NI 55", "percentage", highlight=["E05009621", "E05009622"])
    data = _locations(fig, "value", "rag", "withheld", "no_data")
    assert len(data) == len(set(data)) == len(geojson["features"]) == 155
    assert sorted(_locations(fig, "highlight")) == ["E05009621", "E05009622"]
    assert fig.layout.geo.visible is False
    assert fig.layout.geo.fitbounds == "locations"
    for t in _traces(fig, "value", "rag", "withheld", "no_data", "highlight"):
        assert t.featureidkey == "properties.ward_code"


@pytest.mark.parametrize("colour_by", ["value", "rag"])
def test_withheld_wards_are_grey_and_named(frame, geojson, colour_by):
    fig = charts.ward_map(_fixture_geojson(geojson), frame, colour_by, "NI 55", "percentage")
    (withheld,) = _traces(fig, "withheld")
    assert sorted(withheld.locations) == ["E05009622", "E05009623"]
    assert withheld.name == withheld.legendgroup == "withheld (c)"
    keys = {t.name: t for t in _traces(fig, "legend")}
    assert keys["withheld (c)"].marker.color == charts.WITHHELD_COLOUR  # named in the legend
    assert {c for _, c in withheld.colorscale} == {charts.WITHHELD_COLOUR}
    (labels,) = _traces(fig, "labels")
    assert list(labels.text) == ["c", "c"]
    # Withheld wards are in no coloured trace.
    assert not set(withheld.locations) & set(_locations(fig, "value", "rag"))


def test_withheld_hover_has_no_number_from_its_row(fixture_release, geojson):
    con = open_release()
    try:
        # NI 111 wards are withheld but keep their population denominators (e.g. 540.2).
        frame = ReleaseReader(con).map_values("NI 111", "2023/24")
    finally:
        con.close()
    fig = charts.ward_map(_fixture_geojson(geojson), frame, "value", "NI 111", "rate per 100,000")
    (withheld,) = _traces(fig, "withheld")
    assert len(withheld.locations) == 6
    for code, text in zip(withheld.locations, withheld.text):
        row = frame.filter(pl.col("area_code") == code).row(0, named=True)
        assert "withheld: 10 or fewer children, or could reveal such a count" in text
        assert row["area_name"] in text
        numbers = {str(v) for v in row.values() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        numbers |= {charts.format_value(v, False) for v in row.values() if isinstance(v, float)}
        shown = set(re.findall(r"\d+(?:[.,]\d+)*", text)) - {"10"}  # the rule itself
        assert not shown & numbers, (code, text)
        assert not shown, text


def test_value_hover_shows_value_and_limits(frame, geojson):
    fig = charts.ward_map(_fixture_geojson(geojson), frame, "value", "NI 55", "percentage")
    (values,) = _traces(fig, "value")
    hover = dict(zip(values.locations, values.text))
    row = fx.expected("NI 55", "2023/24", "E05009621")
    assert "Coastal" in hover["E05009621"]
    assert f"{row['value']:.1f}%" in hover["E05009621"]
    assert f"{row['lower_95']:.1f} to {row['upper_95']:.1f}" in hover["E05009621"]
    assert values.colorbar.title.text == "percentage"


def test_rag_legend_names_every_category(frame, geojson):
    fig = charts.ward_map(_fixture_geojson(geojson), frame, "rag", "NI 55", "percentage", highlight=["E05009621"])
    keys = {t.name: t.marker.color for t in _traces(fig, "legend")}
    # Green, amber and red are always listed (the fixture has no green ward), each with its meaning.
    assert keys == {
        "● Green: significantly better than England": "#009E73",
        "◆ Amber: similar to England": "#E69F00",
        "■ Red: significantly worse than England": "#D55E00",
        "withheld (c)": charts.WITHHELD_COLOUR,
        "outlined: chosen area": "#000000",
    }
    filled = {t.legendgroup: (t.colorscale[0][1], list(t.locations)) for t in _traces(fig, "rag")}
    assert filled == {
        "◆ Amber: similar to England": ("#E69F00", ["E05009621", "E05010784", "E05010785"]),
        "■ Red: significantly worse than England": ("#D55E00", ["E05010786"]),
    }
    # Legend entries follow the drawing: every filled group has its key.
    assert set(filled) <= set(keys)


def test_bad_colour_by():
    with pytest.raises(ValueError):
        charts.ward_map({"features": []}, pl.DataFrame(), "size", "t", "u")


def test_format_value():
    assert charts.format_value(12.345, True, "percentage") == "c"
    assert charts.format_value(None, True, "percentage") == "c"
    assert charts.format_value(12.345, False, "percentage") == "12.3"
    assert charts.format_value(1234.56, False, "rate per 100,000") == "1,234.6"
    assert charts.format_value(None, False, "percentage") == "–"
    assert charts.format_value(float("nan"), False, None) == "–"
    assert charts.format_ci(7.7, 14.48, False) == "7.7 to 14.5"
    assert charts.format_ci(None, None, True) == "c"


def test_labels_carry_words_and_symbols():
    assert charts.rag_label("red") == "■ Red"
    assert charts.rag_label(None) == "–"
    assert charts.direction_label("improving") == "▲ Improving"
    assert charts.direction_label("worsening") == "▼ Worsening"
    assert charts.direction_label("improving", "lower_better") == "▼ Improving"  # the value fell: better
    assert charts.direction_label("worsening", "lower_better") == "▲ Worsening"
    assert charts.direction_label("no_change", "lower_better") == "► No significant change"
    assert charts.direction_label(None) == "–"
    assert charts.quartile_label(1) == "1 (best)"
    assert charts.quartile_label(None) == "–"
    assert charts.vs_label("worse") == "Worse"
    assert charts.unit_suffix("rate per 100,000") == " per 100,000"
