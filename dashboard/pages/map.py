"""Map: one indicator and period by ward across the county, the chosen partnership area outlined.

URL: ?indicator=NI 55&period=2023/24&colour=value|rag&area=LCP01&view=county|area
"""
from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import common
from pipelines import brief_text, charts, config

COLOUR_CHOICES = {"value": "Value", "rag": "RAG (compared with England)"}
VIEW_CHOICES = {"county": "Whole county", "area": "This area only"}

common.ensure_app_entry()
key = common.require_release()
st.title("Map")

inds = common.indicators(key)
if inds.is_empty():
    st.warning("This release has no indicators.")
    st.stop()
meta = {r["indicator_id"]: r for r in inds.iter_rows(named=True)}
choices = common.area_choices(key)

c1, c2, c3, c4 = st.columns([3, 1, 1.3, 1.6])
with c1:
    indicator = common.url_choice(
        "indicator", "Indicator", list(meta), format_func=lambda i: f"{i}: {meta[i]['title']}"
    )
periods = common.periods(key, indicator)
if not periods:
    st.warning(f"{indicator} has no published values in this release.")
    st.stop()
with c2:
    period = common.url_choice("period", "Period", periods[::-1], default=periods[-1])
with c3:
    colour = common.url_choice(
        "colour", "Colour wards by", list(COLOUR_CHOICES), default="value",
        format_func=COLOUR_CHOICES.get, widget=st.radio, horizontal=False,
    )
with c4:
    area = common.url_choice(
        "area", "Partnership area (outlined)", list(choices), default=config.COUNTY_CODE, format_func=choices.get
    )
    is_county = area == config.COUNTY_CODE
    view = common.url_choice(
        "view", "Show", list(VIEW_CHOICES), default="county", format_func=VIEW_CHOICES.get,
        widget=st.radio, horizontal=True, disabled=is_county,
    )
zoomed = view == "area" and not is_county

ind = meta[indicator]
frame = common.map_values(key, indicator, period, "ward")
lookup = common.area_lookup(key)
area_wards = [] if is_county else lookup.filter(pl.col("partnership_code") == area)["ward_code"].to_list()
limit = common.threshold(key)
geojson = common.ward_geojson()
if zoomed:
    wanted = set(area_wards)
    geojson = {"type": "FeatureCollection",
               "features": [f for f in geojson["features"] if f["properties"]["ward_code"] in wanted]}
    frame = frame.filter(pl.col("area_code").is_in(area_wards))

fig = charts.ward_map(
    geojson,
    frame,
    colour,
    title=f"{indicator} {ind['title']}, {period}" + (f": {choices[area]}" if zoomed else ", Lincolnshire"),
    unit=ind["unit"],
    highlight=[] if zoomed else area_wards,
    highlight_name=choices[area],
    polarity=ind["polarity"],
    threshold=limit,
)
st.plotly_chart(
    fig,
    width="stretch",
    theme=None,
    config={"displaylogo": False, "scrollZoom": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]},
)
how = (
    f"Wards coloured by value ({ind['unit']}): darker blue is higher."
    if colour == "value"
    else "Wards coloured by RAG: how each ward compares with England."
)
st.caption(
    f"{how} Grey wards marked **{config.WITHHELD_SYMBOL}** are withheld: {limit} or fewer children, or a figure "
    "that could reveal such a count. White wards have no data in this release. "
    + ("" if is_county or zoomed else f"The black outline shows {choices[area]}. ")
    + "Hover over a ward for its value and 95% confidence limits."
)
if colour == "rag":
    st.caption(charts.rag_legend())

# The map as a print-resolution PNG that explains itself when pasted (drawn when clicked, in Chromium).
info = common.release_info(key)
printable = charts.print_ready(
    fig,
    title=f"{indicator} {ind['title']}",
    subtitle=(f"{choices[area] if zoomed else 'Lincolnshire'} by ward, {period}; wards coloured by "
              + ("value (" + ind["unit"] + ")" if colour == "value" else "RAG against England")
              + ("" if is_county or zoomed else f"; {choices[area]} outlined")),
    source=brief_text.source_line(info.get("release_id", "unknown"), info.get("built_at")),
    footnote=f"{brief_text.suppression_note(limit)} {brief_text.attribution()}",
)
st.download_button(
    "Download map (PNG)", data=lambda: charts.to_png(printable, scale=2),
    file_name=f"map_{indicator.replace(' ', '')}_{period.replace('/', '-')}_{area}.png", mime="image/png",
    on_click="ignore", icon=":material/image:",
)

# Withheld wards: how many, by partnership area (numbers of wards, never of children).
by_area = (
    frame.with_columns(pl.col("partnership_code").replace_strict(choices, default=pl.col("partnership_code")).alias("Area"))
    .group_by("Area")
    .agg(pl.len().alias("Wards"), pl.col("suppressed").sum().cast(pl.Int64).alias("Withheld (c)"))
    .sort("Area")
)
total = pl.DataFrame({
    "Area": ["Total"],
    "Wards": [frame.height],
    "Withheld (c)": [int(frame["suppressed"].sum())],
})
st.subheader("Withheld wards")
st.table(pl.concat([by_area, total], how="vertical_relaxed"), hide_index=True)

with st.expander("Ward values as a table"):
    shown = frame if is_county else frame.filter(pl.col("area_code").is_in(area_wards))
    table = pl.DataFrame(
        {
            "Ward": shown["area_name"],
            "Code": shown["area_code"],
            "Value": [charts.format_value(r["value"], r["suppressed"], ind["unit"]) for r in shown.iter_rows(named=True)],
            "95% confidence interval": [
                charts.format_ci(r["lower_95"], r["upper_95"], r["suppressed"], ind["unit"])
                for r in shown.iter_rows(named=True)
            ],
            "RAG": [charts.rag_label(r) for r in shown["rag"].to_list()],
            "Quartile (1 = best)": [charts.quartile_label(q) for q in shown["quartile"].to_list()],
        },
        schema={c: pl.String for c in ("Ward", "Code", "Value", "95% confidence interval", "RAG", "Quartile (1 = best)")},
    )
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(charts.withheld_note(limit))

st.caption(config.ATTRIBUTION)
