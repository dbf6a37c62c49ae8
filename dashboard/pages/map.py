"""Map: one indicator and period by ward, district or partnership area, coloured by value, RAG,
quartile or comparison with England, with a legend; withheld areas grey and marked `c`. Clicking an
area opens its locality profile.

URL: ?indicator=NI 55&period=2023/24&level=ward&colour=value|rag|quartile|vs_benchmark&area=LCP01&view=county|area
"""
from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import common
from pipelines import charts, config

COLOUR_CHOICES = {"value": "Value", "rag": "RAG (compared with England)", "quartile": "Quartile",
                  "vs_benchmark": "Better / similar / worse than England"}
LEVEL_CHOICES = {"ward": "Wards", "district": "Districts", "partnership": "Partnership areas"}
VIEW_CHOICES = {"county": "Whole county", "area": "This area only"}
HOW = {
    "value": "coloured by value ({unit}): darker blue is higher.",
    "rag": "coloured by RAG: how each compares with England (● Green better, ◆ Amber similar, ■ Red worse).",
    "quartile": "coloured by quartile among areas of the same kind: dark blue = best quarter, dark orange = worst.",
    "vs_benchmark": "coloured by comparison with England using 95% confidence limits.",
}

common.ensure_app_entry()
key = common.require_release()
top = common.top_area(key)  # Lincolnshire, or England in a national release
common.print_css()
st.title("Map")

inds = common.indicators(key)
if inds.is_empty():
    st.warning("This release has no indicators.")
    st.stop()
meta = {r["indicator_id"]: r for r in inds.iter_rows(named=True)}
choices = common.area_choices(key)

c1, c2, c3 = st.columns([3, 1, 1.3])
with c1:
    indicator = common.url_choice(
        "indicator", "Indicator", list(meta), format_func=lambda i: f"{i}: {meta[i]['title']}"
    )
periods = [p for p in common.periods(key, indicator)]
if not periods:
    st.warning(f"{indicator} has no published values in this release.")
    st.stop()
with c2:
    period = common.url_choice("period", "Period", periods[::-1], default=common.reader(key).latest_period(indicator))
with c3:
    level = common.url_choice("level", "Areas", list(LEVEL_CHOICES), default="ward", format_func=LEVEL_CHOICES.get)
c4, c5 = st.columns([2.2, 2])
with c4:
    colour = common.url_choice(
        "colour", "Colour areas by", list(COLOUR_CHOICES), default="value",
        format_func=COLOUR_CHOICES.get, widget=st.radio, horizontal=True,
    )
with c5:
    area = common.url_choice(
        "area", "Partnership area (outlined)", list(choices), default=top, format_func=choices.get
    )
    is_county = area == top
    view = common.url_choice(
        "view", "Show", list(VIEW_CHOICES), default="county", format_func=VIEW_CHOICES.get,
        widget=st.radio, horizontal=True, disabled=is_county or level != "ward",
    )
zoomed = view == "area" and not is_county and level == "ward"

ind = meta[indicator]
frame = common.map_values(key, indicator, period, level)
if frame.is_empty():  # e.g. a district-only aggregate supply: never apportioned to wards
    others = [LEVEL_CHOICES[lv].lower() for lv in LEVEL_CHOICES
              if lv != level and not common.map_values(key, indicator, period, lv).is_empty()]
    st.info(f"{indicator} has no figures for {LEVEL_CHOICES[level].lower()} in {period}"
            + (f": its data support {' and '.join(others)}. Choose them under Areas." if others else "."),
            icon=":material/info:")
    st.stop()
lookup = common.area_lookup(key)
geojson, code_key, name_key = common.boundaries(level)
if level == "ward":
    members = [] if is_county else lookup.filter(pl.col("partnership_code") == area)["ward_code"].to_list()
elif level == "district":
    members = [] if is_county else lookup.filter(pl.col("partnership_code") == area)["district_code"].unique().to_list()
else:
    members = [] if is_county else [area]
limit = common.threshold(key)
if zoomed:
    wanted = set(members)
    geojson = {"type": "FeatureCollection",
               "features": [f for f in geojson["features"] if f["properties"][code_key] in wanted]}
    frame = frame.filter(pl.col("area_code").is_in(members))

level_word = LEVEL_CHOICES[level].lower()
fig = charts.ward_map(
    geojson, frame, colour,
    title=f"{indicator} {ind['title']}, {period}" + (f": {choices[area]}" if zoomed else f", Lincolnshire {level_word}"),
    unit=ind["unit"], key=code_key, name_key=name_key,
    highlight=[] if zoomed else members, highlight_name=choices[area],
    polarity=ind["polarity"], threshold=limit,
)
if level != "ward":  # name the larger areas on the map
    names = dict(zip(frame["area_code"].to_list(), frame["area_name"].to_list()))
    charts.area_outlines(fig, geojson, code_key, labels=names, width=0.1, colour="rgba(0,0,0,0)")
event = st.plotly_chart(
    fig, width="stretch", theme=None, key="map_chart", on_select="rerun", selection_mode="points",
    config={"displaylogo": False, "scrollZoom": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]},
)
clicked = [p.get("location") for p in (event.selection.points if event and event.selection else []) if p.get("location")]
if clicked and clicked[0] in set(frame["area_code"].to_list()):
    common.go_to("profile.py", {"area": clicked[0], "indicator": indicator})

how = HOW[colour].format(unit=ind["unit"])
st.caption(
    f"{LEVEL_CHOICES[level]} {how} Grey areas marked **{config.WITHHELD_SYMBOL}** are withheld: {limit} or fewer "
    "children, or a figure that could reveal such a count. White areas have no data in this release. "
    + ("" if is_county or zoomed else f"The black outline shows {choices[area]}. ")
    + "Hover over an area for its value and 95% confidence limits; **click an area to open its profile**."
)
if colour == "rag":
    st.caption(charts.rag_legend())
elif colour == "quartile":
    st.caption(charts.quartile_legend())

# The map as a print-resolution PNG that explains itself when pasted (drawn when clicked, in Chromium).
common.png_download(
    key, fig, label="Download map (PNG)", widget_key="png_map",
    title=f"{indicator} {ind['title']}",
    subtitle=(f"{choices[area] if zoomed else 'Lincolnshire'} by {level}, {period}; coloured by "
              + ("value (" + ind["unit"] + ")" if colour == "value" else COLOUR_CHOICES[colour])
              + ("" if is_county or zoomed else f"; {choices[area]} outlined")),
    stem=f"map_{indicator.replace(' ', '')}_{period.replace('/', '-')}_{level}_{area}",
)

# Withheld areas: how many, by partnership area (numbers of areas, never of children).
by_area = (
    frame.with_columns(pl.col("partnership_code").replace_strict(choices, default=pl.col("partnership_code")).alias("Area"))
    .group_by("Area")
    .agg(pl.len().alias(LEVEL_CHOICES[level]), pl.col("suppressed").sum().cast(pl.Int64).alias("Withheld (c)"))
    .sort("Area")
)
total = pl.DataFrame({"Area": ["Total"], LEVEL_CHOICES[level]: [frame.height],
                      "Withheld (c)": [int(frame["suppressed"].sum())]})
st.subheader(f"Withheld {level_word}")
st.table(pl.concat([by_area, total], how="vertical_relaxed"), hide_index=True)

shown = frame if is_county or level != "ward" else frame.filter(pl.col("area_code").is_in(members))
table = pl.DataFrame(
    {
        "Area": shown["area_name"],
        "Code": shown["area_code"],
        "Value": [charts.format_value(r["value"], r["suppressed"], ind["unit"]) for r in shown.iter_rows(named=True)],
        "95% confidence interval": [
            charts.format_ci(r["lower_95"], r["upper_95"], r["suppressed"], ind["unit"])
            for r in shown.iter_rows(named=True)
        ],
        "RAG": [charts.rag_label(r) for r in shown["rag"].to_list()],
        "Quartile (1 = best)": [charts.quartile_label(q) for q in shown["quartile"].to_list()],
        "vs England": [charts.vs_label(v) for v in shown["vs_benchmark"].to_list()],
    },
    schema={c: pl.String for c in ("Area", "Code", "Value", "95% confidence interval", "RAG", "Quartile (1 = best)",
                                   "vs England")},
)
with st.expander(f"{LEVEL_CHOICES[level]} values as a table"):
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(charts.withheld_note(limit))
common.download_buttons(
    key, table, title=f"{indicator} {ind['title']}, {period}, by {level}", stem=f"map_{indicator}_{period}_{level}",
    source=f"{ind['supplier']}; LCP Scorecard release",
)
st.caption(config.ATTRIBUTION)
