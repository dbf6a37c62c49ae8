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
    return "<br>".join(lines)


def _flat(colour: str) -> list[list]:
    return [[0.0, colour], [1.0, colour]]


def _subset(geojson: dict, codes: Iterable[str]) -> dict:
    """Only the features a trace draws (each trace carries its own boundaries to the browser)."""
    wanted = set(codes)
    return {"type": "FeatureCollection",
            "features": [f for f in geojson.get("features", []) if f["properties"]["ward_code"] in wanted]}


def _category_trace(geojson: dict, codes: list[str], texts: list[str], colour: str, name: str, role: str,
                    line_colour: str = BOUNDARY_COLOUR) -> go.Choropleth:
    """Wards filled with one colour; named (for the legend key of the same group), not itself in the legend."""
    return go.Choropleth(
        geojson=_subset(geojson, codes), featureidkey="properties.ward_code", locations=codes, z=[1] * len(codes),
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
    colour_by: Literal["value", "rag"],
    title: str,
    unit: str,
    *,
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
    if colour_by not in ("value", "rag"):
        raise ValueError(f"colour_by must be 'value' or 'rag', not {colour_by!r}")
    rows = frame.to_dicts()
    in_frame = {r["area_code"] for r in rows}
    all_codes = [f["properties"]["ward_code"] for f in geojson.get("features", [])]
    names = {f["properties"]["ward_code"]: f["properties"].get("ward_name", "") for f in geojson.get("features", [])}
    points = label_points(geojson)
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
            geojson=_subset(geojson, (r["area_code"] for r in shown)), featureidkey="properties.ward_code",
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
                    colour, name, "rag",
                ))
            legend.append(_legend_key(name, colour))

    if withheld:
        fig.add_trace(_category_trace(
            geojson, [r["area_code"] for r in withheld], [text[r["area_code"]] for r in withheld],
            WITHHELD_COLOUR, WITHHELD_LEGEND, "withheld",
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
            NO_DATA_COLOUR, NO_DATA_LEGEND, "no_data", line_colour="#B0B0B0",
        ))
        legend.append(_legend_key(NO_DATA_LEGEND, NO_DATA_COLOUR, "#8C8C8C"))
        # Draw the no-data wards first, under everything else (their pale boundaries beneath).
        fig.data = (fig.data[0], fig.data[-1], *fig.data[1:-1]) if points else (fig.data[-1], *fig.data[:-1])

    codes = set(all_codes)
    outline = [c for c in (highlight or []) if c in codes]
    if outline:
        name = f"outlined: {highlight_name}"
        fig.add_trace(go.Choropleth(
            geojson=_subset(geojson, outline), featureidkey="properties.ward_code", locations=outline,
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
