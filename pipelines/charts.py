"""Plotly figure builders and display formatting for the release (no streamlit here).

Everything a reader sees about a value goes through these helpers, so a withheld figure is shown the
same way everywhere: `c` (the GSS/DfE convention), never a number, never a colour alone.

- `format_value`, `format_ci`: numbers to 1 decimal place, `c` for withheld, `–` for no data.
- `rag_label`, `direction_label`, `vs_label`, `quartile_label`: words plus a symbol, so meaning never
  depends on colour (the page may print in black and white).
- `ward_map`: the county ward choropleth, coloured by value (sequential scale, colourbar titled with
  the unit) or by RAG (Okabe-Ito colours, named categories in the legend). Withheld wards are light grey
  with a "c" on them and a hover that carries no number from their row.

Maps use only the boundaries passed in (geo/wards.geojson): no tiles, no network.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import plotly.graph_objects as go
import polars as pl

from pipelines.config import DEFAULT_SUPPRESSION_THRESHOLD, WITHHELD_SYMBOL

NO_DATA = "–"

# Okabe-Ito, safe for the common colour-vision deficiencies; every colour also has a name in the legend.
RAG_COLOURS = {"green": "#009E73", "amber": "#E69F00", "red": "#D55E00"}
RAG_SYMBOLS = {"green": "●", "amber": "◆", "red": "■"}
RAG_NAMES = {"green": "Green", "amber": "Amber", "red": "Red"}
RAG_MEANING = {
    "green": "significantly better than England",
    "amber": "similar to England",
    "red": "significantly worse than England",
}
NOT_ASSESSED_COLOUR = "#56B4E9"  # Okabe-Ito sky blue: a value shown, but no judgement made
WITHHELD_COLOUR = "#BDBDBD"  # light neutral grey, outside every data colour scale used here
NO_DATA_COLOUR = "#FFFFFF"
BOUNDARY_COLOUR = "#6E6E6E"
HIGHLIGHT_COLOUR = "#000000"
#: Sequential blues, starting at a clear blue so the lightest value is never mistaken for grey or white.
VALUE_SCALE = [[0.0, "#C6DBEF"], [0.25, "#9ECAE1"], [0.5, "#6BAED6"], [0.75, "#3182BD"], [1.0, "#08306B"]]

WITHHELD_LEGEND = f"withheld ({WITHHELD_SYMBOL})"
NO_DATA_LEGEND = "no data"
#: Quartile 1 (best) to 4 (worst): a blue-orange diverging scale (safe for colour-blind readers), named.
QUARTILE_CATEGORIES = {
    1: ("#08519C", "Quartile 1 (best)"), 2: ("#6BAED6", "Quartile 2"),
    3: ("#FDAE6B", "Quartile 3"), 4: ("#D94801", "Quartile 4 (worst)"),
}
#: Comparison with England (Okabe-Ito blue, yellow, vermillion), named.
VS_CATEGORIES = {
    "better": ("#0072B2", "Better than England"), "similar": ("#F0E442", "Similar to England"),
    "worse": ("#D55E00", "Worse than England"),
}
CATEGORY_NOT_ASSESSED_COLOUR = "#CC79A7"  # Okabe-Ito reddish purple: a value shown, but not ranked or compared
NOT_ASSESSED_LEGEND = "not assessed"


def withheld_hover(threshold: int = DEFAULT_SUPPRESSION_THRESHOLD) -> str:
    """What a withheld area's hover says (no number from its row)."""
    return f"withheld: {threshold} or fewer children, or could reveal such a count"


def withheld_note(threshold: int = DEFAULT_SUPPRESSION_THRESHOLD) -> str:
    """The one-line explanation of `c` used under tables."""
    return (
        f"{WITHHELD_SYMBOL} = withheld: fewer than {threshold + 1} children, "
        "or a figure that would reveal one"
    )


# ---------------------------------------------------------------- formatting
def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_value(value: float | None, suppressed: bool | None, unit: str | None = None) -> str:
    """'c' for a withheld value, '–' for no data, else the number to 1 dp with thousands separators.

    Counts (unit 'count' or 'number') are shown as whole numbers.
    """
    if suppressed:
        return WITHHELD_SYMBOL
    if _missing(value):
        return NO_DATA
    if unit in ("count", "number"):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def format_ci(lower: float | None, upper: float | None, suppressed: bool | None, unit: str | None = None) -> str:
    """'7.7 to 14.5' (95% limits), 'c' if withheld, '–' if there are none."""
    if suppressed:
        return WITHHELD_SYMBOL
    if _missing(lower) or _missing(upper):
        return NO_DATA
    return f"{format_value(lower, False, unit)} to {format_value(upper, False, unit)}"


def unit_suffix(unit: str | None) -> str:
    """How a value's unit follows the number: '%' for percentages, ' per 100,000' for rates."""
    if not unit:
        return ""
    if unit == "percentage":
        return "%"
    if unit.startswith("rate "):
        return " " + unit.removeprefix("rate ")
    return f" {unit}"


def rag_label(rag: str | None) -> str:
    """'● Green', '◆ Amber', '■ Red'; '–' where there is no judgement (or the value is withheld)."""
    if rag not in RAG_NAMES:
        return NO_DATA
    return f"{RAG_SYMBOLS[rag]} {RAG_NAMES[rag]}"


def direction_label(direction: str | None, polarity: str | None = None) -> str:
    """Direction of travel as arrow + word; the word says better or worse, the arrow which way the value moved.

    'improving' always means better for children. Given the polarity, the arrow shows the value's
    movement: lower_better + improving -> '▼ Improving' (the value fell), higher_better + improving ->
    '▲ Improving'. Without a polarity, improving is '▲' and worsening '▼'.
    """
    if direction == "no_change":
        return "► No significant change"
    if direction not in ("improving", "worsening"):
        return NO_DATA
    went_up = direction == "improving"
    if polarity == "lower_better":
        went_up = not went_up
    arrow = "▲" if went_up else "▼"
    return f"{arrow} {direction.capitalize()}"


def vs_label(vs_benchmark: str | None) -> str:
    return {"better": "Better", "similar": "Similar", "worse": "Worse"}.get(vs_benchmark or "", NO_DATA)


def quartile_label(quartile: int | None) -> str:
    if _missing(quartile):
        return NO_DATA
    q = int(quartile)
    return {1: "1 (best)", 4: "4 (worst)"}.get(q, str(q))


def direction_legend() -> str:
    return (
        "Direction of travel compares with the previous period: ▲/▼ show whether the value went up or down; "
        "the word says whether that is better (Improving) or worse (Worsening) for children. "
        "► No significant change: the change is within what chance alone could explain."
    )


def rag_legend() -> str:
    parts = [f"{rag_label(k)} = {RAG_MEANING[k]}" for k in ("green", "amber", "red")]
    return (
        "RAG compares the area with England using 95% confidence limits: " + "; ".join(parts)
        + " (a local target can soften red to amber). – = not assessed (no judgement made, or the value is withheld)."
    )


def quartile_legend() -> str:
    return (
        "Quartile ranks the area among areas of the same kind (partnerships with partnerships, wards with wards): "
        "1 = best quarter, 4 = worst, whichever way is better for the indicator; – where there are fewer than "
        "4 areas to rank or the value is withheld."
    )


# ---------------------------------------------------------------- maps
def _ring_centroid(ring: list[list[float]]) -> tuple[float, float, float]:
    """Planar centroid and absolute area of a closed lon/lat ring (shoelace)."""
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(a) < 1e-15:
        xs, ys = zip(*ring)
        return sum(xs) / len(xs), sum(ys) / len(ys), 0.0
    return cx / (3 * a), cy / (3 * a), abs(a) / 2


def label_points(geojson: dict, key: str = "ward_code") -> dict[str, tuple[float, float]]:
    """code -> (lon, lat) inside-ish point for a label: the centroid of the feature's largest polygon."""
    out: dict[str, tuple[float, float]] = {}
    for feature in geojson.get("features", []):
        geom = feature.get("geometry") or {}
        polys = geom.get("coordinates", [])
        if geom.get("type") == "Polygon":
            polys = [polys]
        best = None
        for poly in polys:
            if poly:
                cx, cy, area = _ring_centroid([list(p[:2]) for p in poly[0]])
                if best is None or area > best[2]:
                    best = (cx, cy, area)
        if best is not None:
            out[feature["properties"][key]] = (best[0], best[1])
    return out


def _hover_text(row: dict, unit: str, threshold: int, polarity: str | None) -> str:
    name = f"<b>{row['area_name']}</b>"
    if row.get("suppressed"):
        return f"{name}<br>{withheld_hover(threshold)}"
    if _missing(row.get("value")):
        return f"{name}<br>no data"
    lines = [
        name,
        f"{format_value(row['value'], False, unit)}{unit_suffix(unit)}"
        f" (95% limits {format_ci(row.get('lower_95'), row.get('upper_95'), False, unit)})",
    ]
    if row.get("rag"):
        lines.append(f"RAG: {rag_label(row['rag'])}")
    if row.get("direction"):
        lines.append(f"Trend: {direction_label(row['direction'], polarity)}")
    if not _missing(row.get("quartile")):
        lines.append(f"Quartile: {quartile_label(row['quartile'])}")
    if row.get("vs_benchmark"):
        lines.append(f"vs England: {vs_label(row['vs_benchmark'])}")
    return "<br>".join(lines)


def _flat(colour: str) -> list[list]:
    return [[0.0, colour], [1.0, colour]]


def _subset(geojson: dict, codes: Iterable[str], key: str = "ward_code") -> dict:
    """Only the features a trace draws (each trace carries its own boundaries to the browser)."""
    wanted = set(codes)
    return {"type": "FeatureCollection",
            "features": [f for f in geojson.get("features", []) if f["properties"][key] in wanted]}


def _category_trace(geojson: dict, codes: list[str], texts: list[str], colour: str, name: str, role: str,
                    line_colour: str = BOUNDARY_COLOUR, key: str = "ward_code") -> go.Choropleth:
    """Wards filled with one colour; named (for the legend key of the same group), not itself in the legend."""
    return go.Choropleth(
        geojson=_subset(geojson, codes, key), featureidkey=f"properties.{key}", locations=codes, z=[1] * len(codes),
        zmin=0, zmax=1, colorscale=_flat(colour), showscale=False, name=name, showlegend=False,
        legendgroup=name, text=texts, hovertemplate="%{text}<extra></extra>",
        marker={"line": {"color": line_colour, "width": 0.6}}, meta={"role": role},
    )


def _legend_key(name: str, colour: str, line_colour: str = BOUNDARY_COLOUR, symbol: str = "square") -> go.Scattergeo:
    """A legend entry with no points: always listed (an empty choropleth would drop out of the legend)."""
    return go.Scattergeo(
        lon=[None], lat=[None], mode="markers", name=name, legendgroup=name, showlegend=True, hoverinfo="skip",
        marker={"symbol": symbol, "size": 14, "color": colour, "line": {"color": line_colour, "width": 1}},
        meta={"role": "legend"},
    )


def ward_map(
    geojson: dict,
    frame: pl.DataFrame,
    colour_by: Literal["value", "rag", "quartile", "vs_benchmark"],
    title: str,
    unit: str,
    *,
    key: str = "ward_code",
    name_key: str = "ward_name",
    highlight: Iterable[str] | None = None,
    highlight_name: str = "chosen area",
    polarity: str | None = None,
    threshold: int = DEFAULT_SUPPRESSION_THRESHOLD,
    height: int = 760,
) -> go.Figure:
    """A ward choropleth of one indicator and period (frame: `ReleaseReader.map_values`).

    Every feature of `geojson` is drawn; wards without a row in `frame` are white "no data". Withheld
    rows are grey, labelled "c" and named "withheld (c)" in the legend; their hover carries no number.
    colour_by "value": sequential blues with a colourbar titled with the unit. colour_by "rag": one
    named legend entry per RAG category (green / amber / red always listed, with their meaning).
    `highlight`: ward codes outlined in black (the chosen partnership area).
    Every trace carries meta={'role': ...}: 'anchor', 'no_data', 'value', 'rag', 'withheld', 'labels',
    'highlight' (drawn in that order) and 'legend' (legend entries, no points).
    """
    if colour_by not in ("value", "rag", "quartile", "vs_benchmark"):
        raise ValueError(f"colour_by must be 'value', 'rag', 'quartile' or 'vs_benchmark', not {colour_by!r}")
    rows = frame.to_dicts()
    in_frame = {r["area_code"] for r in rows}
    all_codes = [f["properties"][key] for f in geojson.get("features", [])]
    names = {f["properties"][key]: f["properties"].get(name_key, "") for f in geojson.get("features", [])}
    points = label_points(geojson, key)
    text = {r["area_code"]: _hover_text(r, unit, threshold, polarity) for r in rows}
    withheld = [r for r in rows if r["suppressed"]]
    shown = [r for r in rows if not r["suppressed"] and not _missing(r["value"])]
    # No data: wards the release has no row for, and rows with neither a value nor a withheld flag.
    no_data = [c for c in all_codes if c not in in_frame]
    no_data += [r["area_code"] for r in rows if not r["suppressed"] and _missing(r["value"])]

    fig = go.Figure()
    legend: list[go.Scattergeo] = []
    if points:
        # No network: plotly.js fetches its world topojson (cdn.plot.ly) when the geo subplot's FIRST
        # trace has a `locationmode`, which every choropleth has. A first trace placed by lon/lat has
        # none, so nothing is fetched; the boundaries come only from `geojson`. (tests/test_browser.py
        # fails if the page requests anything from outside.)
        lon, lat = next(iter(points.values()))
        fig.add_trace(go.Scattergeo(
            lon=[lon], lat=[lat], mode="markers", marker={"size": 1, "opacity": 0}, hoverinfo="skip",
            showlegend=False, name="anchor", meta={"role": "anchor"},
        ))

    if colour_by == "value" and shown:
        values = [r["value"] for r in shown]
        lo, hi = min(values), max(values)
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        fig.add_trace(go.Choropleth(
            geojson=_subset(geojson, (r["area_code"] for r in shown), key), featureidkey=f"properties.{key}",
            locations=[r["area_code"] for r in shown], z=values, zmin=lo, zmax=hi,
            colorscale=VALUE_SCALE, name="value", showlegend=False,
            text=[text[r["area_code"]] for r in shown], hovertemplate="%{text}<extra></extra>",
            marker={"line": {"color": BOUNDARY_COLOUR, "width": 0.6}},
            colorbar={"title": {"text": unit, "side": "right"}, "thickness": 18, "len": 0.55,
                      "x": 1.0, "xanchor": "left", "y": 0.55, "outlinewidth": 0},
            meta={"role": "value"},
        ))
    elif colour_by == "rag":
        categories = [(k, [r for r in shown if r["rag"] == k], RAG_COLOURS[k], f"{rag_label(k)}: {RAG_MEANING[k]}")
                      for k in ("green", "amber", "red")]
        unjudged = [r for r in shown if r["rag"] not in RAG_COLOURS]
        if unjudged:
            categories.append(("none", unjudged, NOT_ASSESSED_COLOUR, NOT_ASSESSED_LEGEND))
        for _, members, colour, name in categories:
            if members:
                fig.add_trace(_category_trace(
                    geojson, [r["area_code"] for r in members], [text[r["area_code"]] for r in members],
                    colour, name, "rag", key=key,
                ))
            legend.append(_legend_key(name, colour))
    elif colour_by in ("quartile", "vs_benchmark"):
        scheme = QUARTILE_CATEGORIES if colour_by == "quartile" else VS_CATEGORIES
        field = "quartile" if colour_by == "quartile" else "vs_benchmark"
        for value, (colour, name) in scheme.items():
            members = [r for r in shown if not _missing(r.get(field)) and r[field] == value]
            if members:
                fig.add_trace(_category_trace(
                    geojson, [r["area_code"] for r in members], [text[r["area_code"]] for r in members],
                    colour, name, colour_by, key=key,
                ))
            legend.append(_legend_key(name, colour))
        unjudged = [r for r in shown if _missing(r.get(field)) or r[field] not in scheme]
        if unjudged:
            fig.add_trace(_category_trace(
                geojson, [r["area_code"] for r in unjudged], [text[r["area_code"]] for r in unjudged],
                CATEGORY_NOT_ASSESSED_COLOUR, NOT_ASSESSED_LEGEND, colour_by, key=key,
            ))
            legend.append(_legend_key(NOT_ASSESSED_LEGEND, CATEGORY_NOT_ASSESSED_COLOUR))

    if withheld:
        fig.add_trace(_category_trace(
            geojson, [r["area_code"] for r in withheld], [text[r["area_code"]] for r in withheld],
            WITHHELD_COLOUR, WITHHELD_LEGEND, "withheld", key=key,
        ))
    legend.append(_legend_key(WITHHELD_LEGEND, WITHHELD_COLOUR))
    labelled = [r["area_code"] for r in withheld if r["area_code"] in points]
    if labelled:
        fig.add_trace(go.Scattergeo(
            lon=[points[c][0] for c in labelled], lat=[points[c][1] for c in labelled],
            mode="text", text=[WITHHELD_SYMBOL] * len(labelled), legendgroup=WITHHELD_LEGEND,
            textfont={"size": 16, "color": "#1A1A1A", "family": "Arial, sans-serif", "weight": "bold"},
            hoverinfo="skip", showlegend=False, name="withheld label", meta={"role": "labels"},
        ))

    if no_data:
        fig.add_trace(_category_trace(
            geojson, no_data, [text.get(c, f"<b>{names.get(c, c)}</b><br>no data in this release") for c in no_data],
            NO_DATA_COLOUR, NO_DATA_LEGEND, "no_data", line_colour="#B0B0B0", key=key,
        ))
        legend.append(_legend_key(NO_DATA_LEGEND, NO_DATA_COLOUR, "#8C8C8C"))
        # Draw the no-data wards first, under everything else (their pale boundaries beneath).
        fig.data = (fig.data[0], fig.data[-1], *fig.data[1:-1]) if points else (fig.data[-1], *fig.data[:-1])

    codes = set(all_codes)
    outline = [c for c in (highlight or []) if c in codes]
    if outline:
        name = f"outlined: {highlight_name}"
        fig.add_trace(go.Choropleth(
            geojson=_subset(geojson, outline, key), featureidkey=f"properties.{key}", locations=outline,
            z=[0] * len(outline), zmin=0, zmax=1, colorscale=_flat("rgba(0,0,0,0)"), showscale=False,
            hoverinfo="skip", name=name, legendgroup=name, showlegend=False,
            marker={"line": {"color": HIGHLIGHT_COLOUR, "width": 2.4}}, meta={"role": "highlight"},
        ))
        legend.append(_legend_key(name, HIGHLIGHT_COLOUR, HIGHLIGHT_COLOUR, symbol="square-open"))

    for key in legend:
        fig.add_trace(key)
    fig.update_geos(visible=False, fitbounds="locations", projection_type="mercator", bgcolor="rgba(0,0,0,0)")
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 18}},
        height=height, margin={"l": 8, "r": 8, "t": 56, "b": 8},
        paper_bgcolor="#FFFFFF", font={"size": 14, "color": "#222222"},
        legend={"orientation": "h", "yanchor": "top", "y": -0.01, "xanchor": "left", "x": 0,
                "bgcolor": "rgba(255,255,255,0.9)", "font": {"size": 14}, "itemsizing": "constant",
                "itemclick": False, "itemdoubleclick": False},
        hoverlabel={"bgcolor": "#FFFFFF", "font": {"size": 14}},
        dragmode=False,
    )
    return fig


# ---------------------------------------------------------------- print-ready charts (PNG at print resolution)
#: Layout size of a print-ready chart when the figure sets none (pixels; the PNG is `scale` times this).
PRINT_WIDTH = 1100
PRINT_HEIGHT = 760
_FOOT_FONT = 12
_FOOT_LINE = 17


def _plain(text: str | None) -> str:
    """Free text as plotly shows it literally: its pseudo-HTML (<b>, <br>, &amp;) escaped."""
    import html

    return html.escape(str(text or ""), quote=False)


def _wrap(text: str, chars: int) -> list[str]:
    import textwrap

    return textwrap.wrap(str(text or ""), width=max(chars, 20), break_long_words=True) or [""]


def _legend_rows(fig: go.Figure, width: int) -> int:
    """Rows a horizontal legend takes at `width` (a generous estimate: 14 px text, 40 px per swatch)."""
    if fig.layout.showlegend is False:
        return 0
    names = [t.name or "" for t in fig.data if t.showlegend]
    if not names:
        return 0
    rows, used, room = 1, 0.0, width - 24
    for name in names:
        item = 46 + 7.8 * len(name)
        if used and used + item > room:
            rows, used = rows + 1, 0.0
        used += item
    return rows


def print_ready(
    fig: go.Figure,
    title: str,
    subtitle: str,
    source: str,
    footnote: str,
    *,
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    """A copy of `fig` that explains itself when pasted: title, subtitle, and under the chart the source
    line and the footnote (suppression note and attribution), wrapped to the width.

    All four texts are plain text (escaped, never read as plotly's HTML-like markup). The layout size is
    fixed (`width` x `height`, default the figure's own or PRINT_WIDTH x PRINT_HEIGHT): render it with
    `to_png(fig)`, which takes that size. A horizontal legend under the chart stays there; the source and
    footnote go beneath it.
    """
    out = go.Figure(fig)
    width = int(width or out.layout.width or PRINT_WIDTH)
    height = int(height or out.layout.height or PRINT_HEIGHT)
    chars = int((width - 24) / (_FOOT_FONT * 0.55))
    foot = _wrap(footnote, chars)
    src = _wrap(source, chars)
    legend_px = _legend_rows(out, width) * 26 + (10 if _legend_rows(out, width) else 0)
    footer_px = (len(src) + len(foot)) * _FOOT_LINE + 14
    bottom = legend_px + footer_px + 12
    top = 104 if subtitle else 72
    out.update_layout(
        width=width, height=height,
        title={"text": f"<b>{_plain(title)}</b>", "x": 0.01, "xanchor": "left", "xref": "container",
               "y": 1 - 14 / height, "yanchor": "top", "yref": "container", "font": {"size": 21},
               "subtitle": {"text": "<br>".join(_plain(s) for s in _wrap(subtitle, int(width / 8.6))),
                            "font": {"size": 15, "color": "#444444"}}},
        margin={"l": 12, "r": 12, "t": top, "b": bottom},
        paper_bgcolor="#FFFFFF",
    )
    if out.layout.legend is not None and _legend_rows(out, width):
        out.update_layout(legend={"y": 0, "yref": "paper", "yanchor": "top", "x": 0, "xanchor": "left"})
    shift = -legend_px - 6
    lines = [(s, "#222222") for s in src] + [(f, "#555555") for f in foot]
    for i, (line, colour) in enumerate(lines):
        out.add_annotation(
            text=_plain(line), x=0, xref="paper", xanchor="left", y=0, yref="paper", yanchor="top",
            yshift=shift - i * _FOOT_LINE, showarrow=False, align="left",
            font={"size": _FOOT_FONT, "color": colour},
        )
    return out


class ChartExportError(RuntimeError):
    """A chart could not be rendered to PNG (no Chromium, or the browser failed)."""


class PngSession:
    """One headless Chromium (kaleido) for many charts. It starts in the background as soon as the
    session opens, so the caller can read data and build figures while Chrome starts (start-up is most
    of the cost of a PNG). Thread-safe: renders are queued on the session's own event loop.

        with PngSession() as pngs:
            ...                              # Chrome is starting meanwhile
            png = pngs.render(fig, scale=2)  # waits for Chrome the first time

    No network: the page uses plotly.py's bundled plotly.js and no MathJax. Errors (no Chromium, a
    failed render, a timeout) come back from `render` as ChartExportError.
    """

    def __init__(self, timeout: float = 180):
        self._timeout = timeout

    def __enter__(self) -> PngSession:
        import asyncio
        import concurrent.futures
        import threading

        self._loop = asyncio.new_event_loop()
        self._ready: concurrent.futures.Future = concurrent.futures.Future()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="png-session", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        import asyncio

        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        import kaleido

        try:
            async with kaleido.Kaleido(n=1, mathjax=False) as k:
                self._ready.set_result(k)
                await self._stop.wait()
        except BaseException as e:  # noqa: BLE001 - handed to the next render call
            if not self._ready.done():
                self._ready.set_exception(e)

    def submit(self, fig: go.Figure, width: int | None = None, height: int | None = None, scale: float = 2):
        """Queue a render and return at once: a future whose `result()` is the PNG bytes (or raises
        ChartExportError). Lets the caller work while Chromium draws."""
        import asyncio
        import concurrent.futures

        width = int(width or fig.layout.width or PRINT_WIDTH)
        height = int(height or fig.layout.height or PRINT_HEIGHT)
        opts = {"format": "png", "width": width, "height": height, "scale": scale}
        spec = fig.to_dict()
        out: concurrent.futures.Future = concurrent.futures.Future()

        def fail(e: BaseException) -> None:
            first = str(e).splitlines()[0] if str(e) else ""
            err = ChartExportError(f"could not render the chart to PNG ({type(e).__name__}{': ' + first if first else ''}); "
                                   "chart export needs Debian's chromium (`make chromium`)")
            err.__cause__ = e
            out.set_exception(err)

        def started(ready: concurrent.futures.Future) -> None:
            if ready.exception() is not None:
                fail(ready.exception())
                return
            job = asyncio.run_coroutine_threadsafe(ready.result().calc_fig(spec, opts=opts), self._loop)
            job.add_done_callback(lambda j: fail(j.exception()) if j.exception() else out.set_result(j.result()))

        self._ready.add_done_callback(started)
        return out

    def render(self, fig: go.Figure, width: int | None = None, height: int | None = None,
               scale: float = 2) -> bytes:
        """The figure as PNG bytes (`scale` x its layout size, or width x height when given)."""
        import concurrent.futures

        try:
            return self.submit(fig, width, height, scale).result(timeout=self._timeout)
        except concurrent.futures.TimeoutError as e:
            raise ChartExportError(f"could not render the chart to PNG within {self._timeout:.0f} s") from e

    def __exit__(self, *exc) -> None:
        try:
            self._loop.call_soon_threadsafe(self._stop.set)
        except RuntimeError:  # the loop has already finished (Chrome failed to start)
            pass
        self._thread.join(timeout=60)


def to_pngs(items: Iterable[tuple[go.Figure, int | None, int | None]], scale: float = 2) -> list[bytes]:
    """Render several figures to PNG in ONE headless Chromium session (start-up is most of the cost).

    items: (figure, width, height); a None size takes the figure's layout size (else PRINT_WIDTH x
    PRINT_HEIGHT). Raises ChartExportError if Chromium is missing or fails.
    """
    items = list(items)
    if not items:
        return []
    with PngSession() as session:
        return [session.render(fig, width, height, scale) for fig, width, height in items]


def to_png(fig: go.Figure, width: int | None = None, height: int | None = None, scale: float = 2) -> bytes:
    """The figure as PNG bytes at print resolution (`scale` x the layout size; 2-3 for print)."""
    return to_pngs([(fig, width, height)], scale=scale)[0]


def area_outlines(
    fig: go.Figure,
    geojson: dict,
    key: str,
    codes: Iterable[str] | None = None,
    labels: dict[str, str] | None = None,
    *,
    colour: str = HIGHLIGHT_COLOUR,
    width: float = 2.0,
    label_size: int = 13,
) -> go.Figure:
    """Draw the boundaries of larger areas (e.g. partnership areas from geo/districts.geojson) over a map.

    geojson features are matched on `properties[key]`; `codes` limits which are drawn (default all).
    `labels`: code -> name written at the area's label point, dark text with a white halo. Adds traces
    with meta={'role': 'outline'} and {'role': 'outline_labels'}; returns the same figure.
    """
    wanted = None if codes is None else set(codes)
    lon: list[float | None] = []
    lat: list[float | None] = []
    chosen = []
    for feature in geojson.get("features", []):
        code = feature["properties"].get(key)
        if wanted is not None and code not in wanted:
            continue
        chosen.append(feature)
        geom = feature.get("geometry") or {}
        polys = geom.get("coordinates", [])
        if geom.get("type") == "Polygon":
            polys = [polys]
        for poly in polys:
            for ring in poly[:1]:  # outer ring only
                lon += [p[0] for p in ring] + [None]
                lat += [p[1] for p in ring] + [None]
    if lon:
        fig.add_trace(go.Scattergeo(
            lon=lon, lat=lat, mode="lines", line={"color": colour, "width": width}, hoverinfo="skip",
            showlegend=False, name="outline", meta={"role": "outline"},
        ))
    if labels:
        points = label_points({"type": "FeatureCollection", "features": chosen}, key=key)
        shown = [c for c in labels if c in points]
        if shown:
            fig.add_trace(go.Scattergeo(
                lon=[points[c][0] for c in shown], lat=[points[c][1] for c in shown], mode="text",
                text=[_plain(labels[c]) for c in shown], hoverinfo="skip", showlegend=False, name="outline labels",
                textfont={"size": label_size, "color": "#111111", "family": "Arial, sans-serif", "weight": "bold",
                          "shadow": "1px 1px 1px #FFFFFF, -1px -1px 1px #FFFFFF, 1px -1px 1px #FFFFFF, -1px 1px 1px #FFFFFF"},
                meta={"role": "outline_labels"},
            ))
    return fig


# ---- dashboard charts (issue 8): spine, sparkline, trend, funnel, ranked bars, breakdowns
#: Marker symbols matching RAG_SYMBOLS (circle, diamond, square), so a chart never relies on colour alone.
RAG_MARKERS = {"green": "circle", "amber": "diamond", "red": "square"}
SPINE_RANGE = "#D9D9D9"
SPINE_IQR = "#9E9E9E"
ENGLAND_COLOUR = "#000000"
COUNTY_COLOUR = "#0072B2"
_CHART_FONT = {"size": 14, "color": "#222222"}


def _rag_colour(rag: str | None) -> str:
    return RAG_COLOURS.get(rag or "", NOT_ASSESSED_COLOUR)


def _short(text: str, n: int = 58) -> str:
    text = str(text or "")
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _base_layout(fig: go.Figure, height: int, title: str | None = None, **extra) -> go.Figure:
    fig.update_layout(
        height=height, paper_bgcolor="#FFFFFF", plot_bgcolor="#FFFFFF", font=_CHART_FONT,
        margin={"l": 8, "r": 16, "t": 48 if title else 16, "b": 8},
        title={"text": _plain(title), "x": 0, "xanchor": "left", "font": {"size": 17}} if title else None,
        hoverlabel={"bgcolor": "#FFFFFF", "font": {"size": 14}}, **extra,
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def spine_chart(frame: pl.DataFrame, *, area_name: str = "this area", level_name: str = "areas",
                threshold: int = DEFAULT_SUPPRESSION_THRESHOLD, series: dict[str, list[dict]] | None = None) -> go.Figure:
    """One row per indicator (frame: `ReleaseReader.profile`), PHOF-style: England at the centre line,
    better always to the right; the pale bar is the range of published values among areas of the same
    level, the darker bar their middle half; the area's marker has its RAG colour AND shape (● ◆ ■); the
    county is a blue bar-shaped mark. A withheld value is written 'c' with no marker.
    `series`: indicator_id -> the area's yearly rows (`ReleaseReader.series`), drawn as a sparkline in a
    second column (withheld years are gaps marked 'c'). Every trace carries meta={'role': ...}."""
    from plotly.subplots import make_subplots

    rows = frame.to_dicts()
    n = len(rows)
    fig = make_subplots(rows=1, cols=2 if series is not None else 1, shared_yaxes=True, horizontal_spacing=0.02,
                        column_widths=[0.78, 0.22] if series is not None else [1.0])
    labels = [f"{r['indicator_id']} {_short(r['title'], 44)}" for r in rows]
    ys = list(range(n))
    range_x, iqr_x, dots, county, withheld, missing = [], [], {"green": [], "amber": [], "red": [], "none": []}, [], [], []
    for y, r in zip(ys, rows):
        centre = r.get("benchmark_value")
        if _missing(centre):
            centre = r.get("county_value")
        pool = [v for v in (r.get("range_min"), r.get("range_max"), r.get("value"), r.get("county_value")) if not _missing(v)]
        if _missing(centre):
            centre = (min(pool) + max(pool)) / 2 if pool else 0.0
        half = max([abs(v - centre) for v in pool] + [1e-9]) * 1.08
        flip = -1.0 if r.get("polarity") == "lower_better" else 1.0

        def pos(v, c=centre, h=half, f=flip):
            return None if _missing(v) else f * (v - c) / h

        if r.get("range_n", 0) and not _missing(r.get("range_min")):
            a, b = sorted((pos(r["range_min"]), pos(r["range_max"])))
            range_x.append((y, a, b))
            q1, q3 = sorted((pos(r["range_q1"]), pos(r["range_q3"])))
            iqr_x.append((y, q1, q3))
        if not _missing(r.get("county_value")):
            county.append((y, pos(r["county_value"]), r))
        if r.get("suppressed"):
            withheld.append(y)
        elif _missing(r.get("value")):
            missing.append(y)
        else:
            dots[r.get("rag") if r.get("rag") in RAG_COLOURS else "none"].append((y, pos(r["value"]), r))

    def bars(items, colour, width, name, role):
        xs, yv = [], []
        for y, a, b in items:
            xs += [a, b, None]
            yv += [y, y, None]
        fig.add_trace(go.Scatter(x=xs, y=yv, mode="lines", line={"color": colour, "width": width}, name=name,
                                 hoverinfo="skip", showlegend=True, meta={"role": role}), row=1, col=1)

    bars(range_x, SPINE_RANGE, 14, f"range across {level_name}", "range")
    bars(iqr_x, SPINE_IQR, 14, f"middle half of {level_name}", "iqr")
    fig.add_trace(go.Scatter(
        x=[c[1] for c in county], y=[c[0] for c in county], mode="markers", name="Lincolnshire",
        marker={"symbol": "line-ns", "size": 22, "line": {"width": 4, "color": COUNTY_COLOUR}},
        text=[f"Lincolnshire: {format_value(c[2]['county_value'], False, c[2]['unit'])}{unit_suffix(c[2]['unit'])}" for c in county],
        hovertemplate="%{text}<extra></extra>", meta={"role": "county"},
    ), row=1, col=1)
    for rag, items in dots.items():
        name = f"{area_name}: {rag_label(rag)}" if rag in RAG_COLOURS else f"{area_name}: not assessed"
        fig.add_trace(go.Scatter(
            x=[d[1] for d in items], y=[d[0] for d in items], mode="markers", name=name,
            marker={"symbol": RAG_MARKERS.get(rag, "circle-open"), "size": 15, "color": _rag_colour(rag if rag != "none" else None),
                    "line": {"color": "#1A1A1A", "width": 1.2}},
            text=[f"<b>{_plain(d[2]['indicator_id'])}</b> {area_name}: {format_value(d[2]['value'], False, d[2]['unit'])}"
                  f"{unit_suffix(d[2]['unit'])} ({format_ci(d[2]['lower_95'], d[2]['upper_95'], False, d[2]['unit'])})"
                  f"<br>England {format_value(d[2]['benchmark_value'], False, d[2]['unit'])}; RAG {rag_label(d[2]['rag'])}"
                  for d in items],
            hovertemplate="%{text}<extra></extra>", showlegend=bool(items) or rag in RAG_COLOURS, meta={"role": "area"},
        ), row=1, col=1)
    if withheld:
        fig.add_trace(go.Scatter(
            x=[0] * len(withheld), y=withheld, mode="text", text=[f"{WITHHELD_SYMBOL} (withheld)"] * len(withheld),
            textfont={"size": 14, "color": "#1A1A1A", "weight": "bold"}, name=WITHHELD_LEGEND, showlegend=False,
            hovertext=[withheld_hover(threshold)] * len(withheld), hoverinfo="text", meta={"role": "withheld"},
        ), row=1, col=1)
    if missing:
        fig.add_trace(go.Scatter(x=[0] * len(missing), y=missing, mode="text", text=["no data"] * len(missing),
                                 textfont={"size": 13, "color": "#555555"}, showlegend=False, hoverinfo="skip",
                                 meta={"role": "no_data"}), row=1, col=1)
    fig.add_vline(x=0, line={"color": ENGLAND_COLOUR, "width": 1.5, "dash": "dot"}, row=1, col=1)
    fig.update_xaxes(range=[-1.15, 1.15], showticklabels=False, showgrid=False, zeroline=False, fixedrange=True,
                     row=1, col=1, title={"text": "◀ worse    England (dotted line)    better ▶", "font": {"size": 13}})
    if series is not None:
        _sparklines(fig, rows, series)
    fig.update_yaxes(tickvals=ys, ticktext=[_plain(t) for t in labels], showgrid=False, automargin=True,
                     fixedrange=True, zeroline=False, range=[n - 0.4, -0.6], tickfont={"size": 14}, row=1, col=1)
    _base_layout(fig, height=max(46 * n + 150, 260),
                 legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0, "font": {"size": 13}},
                 showlegend=True)
    fig.update_layout(margin={"l": 8, "r": 16, "t": 70, "b": 8})
    return fig


def _sparklines(fig: go.Figure, rows: list[dict], series: dict[str, list[dict]]) -> None:
    """Column 2 of the spine chart: each indicator's yearly values scaled into its own row band."""
    xs, ys, cx, cy, hover = [], [], [], [], []
    periods = sorted({s["period"] for v in series.values() for s in v})
    where = {p: i for i, p in enumerate(periods)}
    for y, r in enumerate(rows):
        pts = series.get(r["indicator_id"], [])
        vals = [p["value"] for p in pts if not p["suppressed"] and not _missing(p["value"])]
        if not vals:
            continue
        lo, hi = min(vals), max(vals)
        span = (hi - lo) or 1.0
        for p in pts:
            x = where[p["period"]]
            if p["suppressed"] or _missing(p["value"]):
                xs.append(None)
                ys.append(None)
                if p["suppressed"]:
                    cx.append(x)
                    cy.append(y)
                continue
            xs.append(x)
            ys.append(y + 0.32 - 0.64 * (p["value"] - lo) / span)  # rows run downwards: higher value drawn higher
            hover.append(f"{p['period']}: {format_value(p['value'], False, r['unit'])}")
        xs.append(None)
        ys.append(None)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", line={"color": "#333333", "width": 1.6},
                             marker={"size": 4, "color": "#333333"}, hoverinfo="skip", showlegend=False,
                             connectgaps=False, meta={"role": "sparkline"}), row=1, col=2)
    if cx:
        fig.add_trace(go.Scatter(x=cx, y=cy, mode="text", text=[WITHHELD_SYMBOL] * len(cx), showlegend=False,
                                 textfont={"size": 12, "color": "#1A1A1A"}, hoverinfo="skip",
                                 meta={"role": "sparkline_withheld"}), row=1, col=2)
    label = f"Trend {periods[0]}–{periods[-1]}" if periods else "Trend"
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, fixedrange=True,
                     range=[-0.5, max(len(periods) - 0.5, 0.5)], title={"text": label, "font": {"size": 13}}, row=1, col=2)
    fig.update_yaxes(showgrid=False, fixedrange=True, row=1, col=2)


def trend_chart(series: pl.DataFrame, unit: str, *, title: str | None = None, polarity: str | None = None,
                area_name: str = "area", county: pl.DataFrame | None = None) -> go.Figure:
    """Yearly values of one area (`ReleaseReader.series` for one indicator) with 95% confidence limits as
    error bars, markers in RAG colour and shape, England as a dashed line, Lincolnshire as a blue line
    (`county`: the county's series) and a 'c' where a year is withheld."""
    rows = series.to_dicts()
    periods = [r["period"] for r in rows]
    fig = go.Figure()
    shown = [r for r in rows if not r["suppressed"] and not _missing(r["value"])]
    bench = [r for r in rows if not _missing(r.get("benchmark_value"))]
    if bench:
        fig.add_trace(go.Scatter(x=[r["period"] for r in bench], y=[r["benchmark_value"] for r in bench], name="England",
                                 mode="lines+markers", line={"color": ENGLAND_COLOUR, "dash": "dash", "width": 2},
                                 marker={"symbol": "x", "size": 8}, meta={"role": "england"},
                                 hovertemplate="England %{x}: %{y:,.1f}<extra></extra>"))
    if county is not None and county.height:
        c = [r for r in county.to_dicts() if not r["suppressed"] and not _missing(r["value"])]
        fig.add_trace(go.Scatter(x=[r["period"] for r in c], y=[r["value"] for r in c], name="Lincolnshire",
                                 mode="lines", line={"color": COUNTY_COLOUR, "width": 2}, meta={"role": "county"},
                                 hovertemplate="Lincolnshire %{x}: %{y:,.1f}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[r["period"] for r in shown], y=[r["value"] for r in shown], name=f"{area_name} (95% limits)",
        mode="lines+markers", line={"color": "#333333", "width": 2},
        marker={"size": 13, "color": [_rag_colour(r["rag"]) for r in shown],
                "symbol": [RAG_MARKERS.get(r["rag"] or "", "circle-open") for r in shown],
                "line": {"color": "#1A1A1A", "width": 1}},
        error_y={"type": "data", "symmetric": False, "color": "#555555", "thickness": 1.5, "width": 6,
                 "array": [r["upper_95"] - r["value"] if not _missing(r["upper_95"]) else 0 for r in shown],
                 "arrayminus": [r["value"] - r["lower_95"] if not _missing(r["lower_95"]) else 0 for r in shown]},
        text=[f"{r['period']}: {format_value(r['value'], False, unit)}{unit_suffix(unit)} "
              f"(95% limits {format_ci(r['lower_95'], r['upper_95'], False, unit)}); RAG {rag_label(r['rag'])}"
              for r in shown],
        hovertemplate="%{text}<extra></extra>", meta={"role": "area"},
    ))
    hidden = [r["period"] for r in rows if r["suppressed"]]
    if hidden:
        fig.add_trace(go.Scatter(x=hidden, y=[None] * len(hidden), showlegend=False, hoverinfo="skip",
                                 meta={"role": "withheld_axis"}))
        for p in hidden:
            fig.add_annotation(x=p, y=0, yref="paper", yanchor="bottom", text=f"<b>{WITHHELD_SYMBOL}</b> withheld",
                               showarrow=False, font={"size": 13, "color": "#1A1A1A"}, bgcolor="#E6E6E6")
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=periods, title={"text": "Period"})
    fig.update_yaxes(title={"text": unit}, rangemode="tozero" if unit in ("percentage",) else "normal",
                     gridcolor="#E5E5E5", zeroline=False)
    return _base_layout(fig, 400, title, legend={"orientation": "h", "y": -0.32, "x": 0}, dragmode=False)


def funnel_plot(values: pl.DataFrame, unit: str, *, limits: pl.DataFrame | None = None, centre: float | None = None,
                highlight: Iterable[str] = (), title: str | None = None, level_name: str = "wards",
                highlight_name: str = "chosen area") -> go.Figure:
    """Value against denominator for every published area (`ReleaseReader.level_values`), with the
    95% and 99.8% control limits around the centre line (`limits`: `ReleaseReader.funnel`, when the
    release has them). Markers are RAG shape and colour; the chosen area's are ringed in black."""
    rows = [r for r in values.to_dicts() if not r["suppressed"] and not _missing(r["value"]) and not _missing(r["denominator"])]
    chosen = set(highlight)
    fig = go.Figure()
    if limits is not None and limits.height:
        lim = limits.sort("denominator").to_dicts()
        if _missing(centre) and not _missing(lim[0].get("centre")):
            centre = lim[0]["centre"]
        for col, name, dash in (("upper_998", "99.8% limits", "dash"), ("lower_998", None, "dash"),
                                ("upper_95", "95% limits", "dot"), ("lower_95", None, "dot")):
            fig.add_trace(go.Scatter(x=[r["denominator"] for r in lim], y=[r[col] for r in lim], mode="lines",
                                     line={"color": "#555555", "dash": dash, "width": 1.4}, name=name or col,
                                     showlegend=name is not None, legendgroup=dash, hoverinfo="skip",
                                     meta={"role": "limit"}))
    if not _missing(centre):
        fig.add_hline(y=centre, line={"color": COUNTY_COLOUR, "width": 2},
                      annotation_text=f"Lincolnshire {format_value(centre, False, unit)}", annotation_position="top right")
    for rag in ("green", "amber", "red", None):
        members = [r for r in rows if (r["rag"] if r["rag"] in RAG_COLOURS else None) == rag]
        if not members:
            continue
        fig.add_trace(go.Scatter(
            x=[r["denominator"] for r in members], y=[r["value"] for r in members], mode="markers",
            name=rag_label(rag) if rag else NOT_ASSESSED_LEGEND,
            marker={"symbol": RAG_MARKERS.get(rag or "", "circle"), "size": [15 if r["area_code"] in chosen else 10 for r in members],
                    "color": _rag_colour(rag), "line": {"color": ["#000000" if r["area_code"] in chosen else "#444444" for r in members],
                                                         "width": [3 if r["area_code"] in chosen else 0.8 for r in members]}},
            text=[f"<b>{_plain(r['area_name'])}</b>: {format_value(r['value'], False, unit)}{unit_suffix(unit)}, "
                  f"denominator {r['denominator']:,.0f}" for r in members],
            hovertemplate="%{text}<extra></extra>", meta={"role": "areas"},
        ))
    fig.update_xaxes(title={"text": f"Denominator (children or population) in each of the {level_name}"}, gridcolor="#E5E5E5")
    fig.update_yaxes(title={"text": unit}, gridcolor="#E5E5E5")
    return _base_layout(fig, 460, title, legend={"orientation": "h", "y": -0.3, "x": 0}, dragmode=False)


def ranked_bars(values: pl.DataFrame, unit: str, *, benchmark: float | None = None, highlight: Iterable[str] = (),
                title: str | None = None, threshold: int = DEFAULT_SUPPRESSION_THRESHOLD) -> go.Figure:
    """Areas ranked by value (`ReleaseReader.level_values`), bars in RAG colour with the RAG word in the
    hover and a symbol at the bar's end, 95% limits as error bars, England as a dashed line. Withheld
    areas are listed at the bottom with 'c' and no bar. The chosen area's name is in bold."""
    rows = values.to_dicts()
    chosen = set(highlight)
    shown = [r for r in rows if not r["suppressed"] and not _missing(r["value"])]
    hidden = [r for r in rows if r["suppressed"] or _missing(r["value"])]
    order = shown + hidden
    names = [(f"<b>▶ {_plain(r['area_name'])}</b>" if r["area_code"] in chosen else _plain(r["area_name"])) for r in order]
    fig = go.Figure()
    fig.add_trace(go.Bar(
        y=names[: len(shown)], x=[r["value"] for r in shown], orientation="h",
        marker={"color": [_rag_colour(r["rag"]) for r in shown],
                "line": {"color": ["#000000" if r["area_code"] in chosen else "rgba(0,0,0,0)" for r in shown], "width": 2.5}},
        error_x={"type": "data", "symmetric": False, "color": "#333333", "thickness": 1.2, "width": 3,
                 "array": [r["upper_95"] - r["value"] if not _missing(r["upper_95"]) else 0 for r in shown],
                 "arrayminus": [r["value"] - r["lower_95"] if not _missing(r["lower_95"]) else 0 for r in shown]},
        text=[RAG_SYMBOLS.get(r["rag"] or "", "") for r in shown], textposition="inside", insidetextanchor="start",
        textfont={"color": "#FFFFFF", "size": 13},
        hovertext=[f"<b>{_plain(r['area_name'])}</b>: {format_value(r['value'], False, unit)}{unit_suffix(unit)} "
                   f"(95% limits {format_ci(r['lower_95'], r['upper_95'], False, unit)}); RAG {rag_label(r['rag'])}"
                   for r in shown],
        hoverinfo="text", showlegend=False, meta={"role": "bars"},
    ))
    if hidden:
        fig.add_trace(go.Scatter(
            y=names[len(shown):], x=[0] * len(hidden), mode="text",
            text=[WITHHELD_SYMBOL if r["suppressed"] else NO_DATA for r in hidden], textposition="middle right",
            textfont={"size": 14, "color": "#1A1A1A", "weight": "bold"},
            hovertext=[withheld_hover(threshold) if r["suppressed"] else "no data" for r in hidden], hoverinfo="text",
            showlegend=False, meta={"role": "withheld"},
        ))
    if not _missing(benchmark):
        fig.add_vline(x=benchmark, line={"color": ENGLAND_COLOUR, "dash": "dash", "width": 1.6},
                      annotation_text=f"England {format_value(benchmark, False, unit)}", annotation_position="top")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=names, autorange="reversed", automargin=True)
    fig.update_xaxes(title={"text": unit}, gridcolor="#E5E5E5", rangemode="tozero")
    return _base_layout(fig, max(24 * len(order) + 120, 260), title, bargap=0.25, dragmode=False)


BREAKDOWN_NAMES = {"sex": "Sex", "age": "Age", "ethnicity": "Ethnicity"}


def breakdown_label(dimension: str, category: str) -> str:
    """'sex', 'F' -> 'Female'; 'age', '10-14' -> 'Aged 10-14'; other categories as published."""
    if dimension == "sex":
        return {"F": "Female", "M": "Male"}.get(category, category)
    if dimension == "age":
        lo, _, hi = category.partition("-")
        return f"Aged {lo}" if lo == hi else f"Aged {category}"
    return category


def breakdown_bars(frame: pl.DataFrame, unit: str, *, title: str | None = None,
                   threshold: int = DEFAULT_SUPPRESSION_THRESHOLD) -> go.Figure:
    """One dimension's categories (`ReleaseReader.breakdowns` rows of one dimension) as bars with 95%
    limits; a withheld category is written 'c' with no bar."""
    rows = frame.to_dicts()
    labels = [breakdown_label(r["dimension"], r["category"]) for r in rows]
    shown = [(lab, r) for lab, r in zip(labels, rows) if not r["suppressed"] and not _missing(r["value"])]
    hidden = [(lab, r) for lab, r in zip(labels, rows) if r["suppressed"] or _missing(r["value"])]
    fig = go.Figure()
    fig.add_trace(go.Bar(
        y=[lab for lab, _ in shown], x=[r["value"] for _, r in shown], orientation="h", marker={"color": "#0072B2"},
        error_x={"type": "data", "symmetric": False, "color": "#333333", "thickness": 1.2, "width": 4,
                 "array": [r["upper_95"] - r["value"] if not _missing(r["upper_95"]) else 0 for _, r in shown],
                 "arrayminus": [r["value"] - r["lower_95"] if not _missing(r["lower_95"]) else 0 for _, r in shown]},
        hovertext=[f"{lab}: {format_value(r['value'], False, unit)}{unit_suffix(unit)} "
                   f"(95% limits {format_ci(r['lower_95'], r['upper_95'], False, unit)})" for lab, r in shown],
        hoverinfo="text", showlegend=False, meta={"role": "bars"},
    ))
    if hidden:
        fig.add_trace(go.Scatter(
            y=[lab for lab, _ in hidden], x=[0] * len(hidden), mode="text",
            text=[WITHHELD_SYMBOL if r["suppressed"] else NO_DATA for _, r in hidden], textposition="middle right",
            textfont={"size": 14, "color": "#1A1A1A", "weight": "bold"},
            hovertext=[withheld_hover(threshold) if r["suppressed"] else "no data" for _, r in hidden], hoverinfo="text",
            showlegend=False, meta={"role": "withheld"},
        ))
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels, autorange="reversed", automargin=True)
    fig.update_xaxes(title={"text": unit}, gridcolor="#E5E5E5", rangemode="tozero")
    return _base_layout(fig, max(34 * len(rows) + 110, 200), title, dragmode=False)


def rag_rule_short(text: str | None) -> str:
    """The release's RAG rule (`indicators.rag_rule_text`) in a few words for a table cell:
    'vs England (95% limits)', 'Target 68% ± 2 percentage points and vs England', 'No RAG (no judgement)'.
    The full wording is on the Indicator detail and Data and methods pages."""
    if not text:
        return NO_DATA
    text = str(text).strip()
    if text.startswith("No RAG"):
        return "No RAG (no judgement)"
    if text.startswith("Target"):
        return text.split(",", 1)[0].split(". ", 1)[0] + " and vs England"
    if "England" in text:
        return "vs England (95% limits)"
    return _short(text, 60)
