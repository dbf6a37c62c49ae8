"""One-page briefs for a partnership area or the county, from the published release only.

    lcp brief LCP02 --out east_lindsey.pdf          # .pdf, .pptx or .png by suffix
    lcp brief --all --out briefs/ [--format pdf]    # all 8 areas (county + 7 partnerships)

A brief is one A4 landscape page (or one 16:9 slide) that explains itself on paper: the area's
headline scorecard grouped by Every Child Matters outcome (value or `c`, 95% interval, England, RAG
with symbol and word, direction of travel with arrow and word, quartile), a ward map of one headline
indicator coloured by RAG, the top exceptions (red, red-and-worsening first), a legend, the release id
and data date, the suppression note, a short method note and the data attribution.

The flow: `collect()` reads the release into a `BriefData` (display text only: a withheld value is
already `c` here, its numbers never leave this module), `map_figure()` draws the map with
`charts.ward_map`, one `charts.PngSession` (headless Chromium, started in the background while the
release is read) renders every map, and `pipelines.brief_pdf` / `pipelines.brief_pptx` lay the page
out, each area's files written while Chromium draws the next map. The PNG brief is the PDF page
rasterised by poppler's `pdftoppm` at PNG_DPI (150 dpi).

Hooks for later work: `commentary` (indicator_id -> analyst's text, issue 7) adds a Commentary column
to the exceptions; `plan` (`pipelines.plans.brief_plan`, issue 13) puts the board's priorities under the
title and the local plan's actions (status, due date, latest progress, whether it is working) after the
exceptions. Any free text is drawn as text (escaped), never read as markup.
"""
from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from pipelines import charts, config, geography
from pipelines.brief_text import FORMATS, PNG_DPI, TOP_EXCEPTIONS, BriefError, polarity_text
from pipelines.release import ReleaseReader, open_release

__all__ = [
    "BriefData", "BriefError", "FORMATS", "collect", "map_figure", "resolve_area", "valid_areas",
    "write_brief", "write_all", "brief_bytes",
]

#: Map key entries (label, colour, 'fill' or 'line') in the order the key lists them.
RAG_KEY = [(f"{charts.rag_label(k)}: {charts.RAG_MEANING[k].replace(' than England', '')}", charts.RAG_COLOURS[k],
            "fill") for k in ("green", "amber", "red")]
WITHHELD_KEY = (f"withheld ({config.WITHHELD_SYMBOL})", charts.WITHHELD_COLOUR, "fill")
NOT_ASSESSED_KEY = ("not assessed", charts.NOT_ASSESSED_COLOUR, "fill")
NO_DATA_KEY = ("no data", charts.NO_DATA_COLOUR, "fill")
BOUNDARY_KEY = ("partnership boundary", charts.HIGHLIGHT_COLOUR, "line")
#: Map render size: MAP_WIDTH layout pixels wide, height by the area's shape; MAP_SCALE x for print.
MAP_WIDTH = 620
MAP_SCALE = 2


# ---------------------------------------------------------------- the brief's content (text only)
@dataclass(frozen=True)
class Row:
    """One scorecard line as shown: every field is display text (withheld values are already `c`)."""

    indicator_id: str
    title: str
    ecm_outcome: str
    unit: str
    polarity_text: str
    period: str
    value: str
    interval: str
    england: str
    rag: str | None  # 'red' / 'amber' / 'green' / None (for the cell colour)
    rag_text: str
    direction_text: str
    quartile_text: str
    withheld: bool


@dataclass(frozen=True)
class ExceptionItem:
    indicator_id: str
    title: str
    unit: str
    period: str
    value: str
    england: str
    direction_text: str
    quartile_text: str
    worsening: bool
    commentary: str | None = None


@dataclass
class BriefData:
    area_code: str
    area_name: str
    area_level: str
    release_id: str
    built_at: object
    methods_version: str
    threshold: int
    period_label: str
    rows: list[Row]
    exceptions: list[ExceptionItem]
    more_exceptions: list[str]
    has_commentary: bool
    suppliers: list[str]
    map_indicator: str | None = None
    map_period: str | None = None
    map_unit: str = ""
    map_polarity: str | None = None
    map_title: str = ""
    map_reason: str = ""
    map_key: list[tuple[str, str, str]] = field(default_factory=list)
    map_size: tuple[float, float] = (MAP_WIDTH, MAP_WIDTH)
    map_png: bytes | None = None
    #: the area's priorities and local plan (`pipelines.plans.BriefPlan`, display text), or None
    plan: object | None = None

    @property
    def groups(self) -> list[tuple[str, list[Row]]]:
        """Rows grouped by Every Child Matters outcome, in the release's order."""
        out: list[tuple[str, list[Row]]] = []
        for row in self.rows:
            if not out or out[-1][0] != row.ecm_outcome:
                out.append((row.ecm_outcome, []))
            out[-1][1].append(row)
        return out

    @property
    def period_note(self) -> str:
        """'All values for 2024/25.' or 'Values for 2024/25, except NI 53, NI 112 (2024/25 Q4).' (for
        tables without a Period column)."""
        periods = [r.period for r in self.rows if r.period != charts.NO_DATA]
        if not periods:
            return ""
        common = max(sorted(set(periods)), key=periods.count)
        others: dict[str, list[str]] = {}
        for r in self.rows:
            if r.period != common:
                others.setdefault(r.period, []).append(r.indicator_id)
        if not others:
            return f"All values for {common}."
        rest = "; ".join(f"{', '.join(ids)} ({p})" for p, ids in sorted(others.items()))
        return f"Values for {common}, except {rest}."

    @property
    def title(self) -> str:
        return f"{self.area_name}: children's services scorecard"

    @property
    def file_stem(self) -> str:
        return f"brief_{self.area_code}"


# ---------------------------------------------------------------- areas
def valid_areas(reader: ReleaseReader) -> pl.DataFrame:
    """area_code, area_name, area_level of the areas a brief is made for: partnerships in code order, then
    the county."""
    cols = ("area_code", "area_name", "area_level")
    return pl.concat([reader.areas("partnership").select(cols), reader.areas("county").select(cols)])


def resolve_area(reader: ReleaseReader, text: str) -> tuple[str, str, str]:
    """(code, name, level) for a partnership code or name, or the county's code or name (any case)."""
    wanted = re.sub(r"\s+", " ", str(text or "")).strip().casefold()
    options = valid_areas(reader)
    for row in options.iter_rows(named=True):
        if wanted in (row["area_code"].casefold(), str(row["area_name"]).casefold()):
            return row["area_code"], row["area_name"], row["area_level"]
    listing = ", ".join(f"{r['area_code']} ({r['area_name']})" for r in options.iter_rows(named=True))
    raise BriefError(f"unknown area {text!r}: choose one of {listing}")


def check_suffix(path: Path | str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise BriefError(f"{path}: unknown brief format {suffix or '(no suffix)'!r}: use one of {', '.join(FORMATS)}")
    return suffix


# ---------------------------------------------------------------- collect
def _row(r: dict) -> Row:
    withheld = bool(r["suppressed"])
    return Row(
        indicator_id=r["indicator_id"], title=str(r["title"] or ""), ecm_outcome=r["ecm_outcome"] or "Other",
        unit=str(r["unit"] or ""), polarity_text=polarity_text(r["polarity"]),
        period=r["period"] or charts.NO_DATA,
        value=charts.format_value(r["value"], withheld, r["unit"]),
        interval=charts.format_ci(r["lower_95"], r["upper_95"], withheld, r["unit"]),
        england=charts.format_value(r["benchmark_value"], False, r["unit"]),
        rag=None if withheld else r["rag"], rag_text=charts.rag_label(None if withheld else r["rag"]),
        direction_text=charts.direction_label(None if withheld else r["direction"], r["polarity"]),
        quartile_text=charts.quartile_label(None if withheld else r["quartile"]), withheld=withheld,
    )


def _exceptions(frame: pl.DataFrame, commentary: Mapping[str, str] | None) -> list[ExceptionItem]:
    """Indicators rated red, red-and-worsening first, then in scorecard order (outcome, indicator)."""
    items = []
    for r in frame.iter_rows(named=True):
        if r["suppressed"] or r["rag"] != "red":
            continue
        note = (commentary or {}).get(r["indicator_id"])
        items.append(ExceptionItem(
            indicator_id=r["indicator_id"], title=str(r["title"] or ""), unit=str(r["unit"] or ""),
            period=r["period"] or charts.NO_DATA, value=charts.format_value(r["value"], False, r["unit"]),
            england=charts.format_value(r["benchmark_value"], False, r["unit"]),
            direction_text=charts.direction_label(r["direction"], r["polarity"]),
            quartile_text=charts.quartile_label(r["quartile"]), worsening=r["direction"] == "worsening",
            commentary=str(note) if note not in (None, "") else None,
        ))
    return sorted(items, key=lambda e: not e.worsening)  # stable: scorecard order within each group


def _check_period(reader: ReleaseReader, period: str | None) -> None:
    if period is None:
        return
    known = sorted({p for i in reader.indicators()["indicator_id"].to_list() for p in reader.periods(i)})
    if period not in known:
        raise BriefError(f"no values for period {period!r} in this release: choose one of {', '.join(known)}")


def collect(
    reader: ReleaseReader,
    area: str,
    *,
    period: str | None = None,
    commentary: Mapping[str, str] | None = None,
    map_indicator: str | None = None,
    plan: object | None = None,
) -> BriefData:
    """Everything the brief shows, read from the release (no rendering yet; `map_png` is None).

    area: a partnership code or name, or the county's (see `resolve_area`). period: None = each
    indicator's latest period (the default), or one period for every indicator. commentary:
    indicator_id -> text for the exceptions (issue 7's analyst commentary). map_indicator: the
    indicator to map (default: the red-rated indicator with the most wards published, else the
    indicator with the most wards published). plan: the area's priorities and local plan
    (`pipelines.plans.brief_plan`, issue 13), drawn first (priorities) and after the exceptions (actions).
    """
    code, name, level = resolve_area(reader, area)
    _check_period(reader, period)
    info = reader.release_info()
    frame = reader.scorecard(code, period)
    rows = [_row(r) for r in frame.iter_rows(named=True)]
    exceptions = _exceptions(frame, commentary)
    periods = sorted({r.period for r in rows if r.period != charts.NO_DATA})
    if period:
        period_label = f"period {period}"
    elif len(periods) == 1:
        period_label = f"latest period published ({periods[0]})"
    else:
        period_label = "latest period published for each indicator"
    suppliers = sorted({s for s in reader.sources()["supplier"].to_list() if s}) if reader.sources().height else []
    data = BriefData(
        area_code=code, area_name=name, area_level=level,
        release_id=str(info.get("release_id") or "unknown"), built_at=info.get("built_at"),
        methods_version=str(info.get("methods_version") or config.METHODS_VERSION),
        threshold=int(info.get("suppression_threshold") or config.DEFAULT_SUPPRESSION_THRESHOLD),
        period_label=period_label, rows=rows, exceptions=exceptions[:TOP_EXCEPTIONS],
        more_exceptions=[e.indicator_id for e in exceptions[TOP_EXCEPTIONS:]],
        has_commentary=any(e.commentary for e in exceptions[:TOP_EXCEPTIONS]), suppliers=suppliers,
        plan=plan,
    )
    _choose_map(reader, data, frame, map_indicator)
    return data


# ---------------------------------------------------------------- the map
def _area_wards(reader: ReleaseReader, data: BriefData) -> list[str]:
    lookup = reader.area_lookup()
    if data.area_level == "partnership":
        lookup = lookup.filter(pl.col("partnership_code") == data.area_code)
    else:
        lookup = lookup.filter(pl.col("county_code") == data.area_code)
    return lookup["ward_code"].to_list()


def _choose_map(reader: ReleaseReader, data: BriefData, frame: pl.DataFrame, wanted: str | None) -> None:
    """Pick the mapped indicator; record its title, the reason it was chosen and its period."""
    rows = [r for r in frame.iter_rows(named=True) if r["period"]]
    if wanted is not None:
        match = [r for r in rows if r["indicator_id"].casefold() == wanted.strip().casefold()]
        if not match:
            listing = ", ".join(r["indicator_id"] for r in rows) or "none"
            raise BriefError(f"no published values for map indicator {wanted!r} in this area: choose one of {listing}")
        chosen, reason = match[0], "chosen for this brief"
    elif not rows:
        return
    else:
        wards = set(_area_wards(reader, data))
        counts = {}
        for r in rows:
            values = reader.map_values(r["indicator_id"], r["period"], "ward").filter(pl.col("area_code").is_in(wards))
            counts[r["indicator_id"]] = int((~values["suppressed"] & values["value"].is_not_null()).sum())
        red = [r for r in rows if r["rag"] == "red" and not r["suppressed"]]
        pool, why = (red, "the red-rated indicator") if red and max(counts[r["indicator_id"]] for r in red) else (
            rows, "the indicator")
        chosen = max(pool, key=lambda r: counts[r["indicator_id"]])  # first of the best: scorecard order
        reason = f"{why} with the most wards published ({counts[chosen['indicator_id']]})"
    data.map_indicator = chosen["indicator_id"]
    data.map_title = f"{chosen['indicator_id']} {chosen['title']}, {chosen['period']}"
    data.map_reason = reason
    data.map_period = chosen["period"]
    data.map_unit = str(chosen["unit"] or "")
    data.map_polarity = chosen["polarity"]


def _mercator_aspect(geojson: dict) -> float:
    """height / width of the features' bounding box in the Mercator projection (the map's shape)."""
    xs, ys = [], []

    def walk(coords):
        if coords and isinstance(coords[0], (int, float)):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for c in coords:
                walk(c)

    for f in geojson.get("features", []):
        walk((f.get("geometry") or {}).get("coordinates", []))
    if not xs:
        return 1.0
    merc = [math.log(math.tan(math.pi / 4 + math.radians(y) / 2)) for y in ys]
    width = math.radians(max(xs) - min(xs)) or 1e-9
    return (max(merc) - min(merc)) / width


def map_figure(reader: ReleaseReader, data: BriefData) -> go.Figure | None:
    """The brief's ward map (charts.ward_map coloured by RAG, no title or legend: the page draws those).

    The area's wards only; partnership boundaries drawn over them (named on the county's map). Sets
    data.map_key (the categories the page's key lists) and data.map_size (layout pixels, before cropping).
    """
    if not data.map_indicator:
        return None
    lookup = reader.area_lookup()
    wards = set(_area_wards(reader, data))
    full = geography.ward_geojson()
    geojson = {"type": "FeatureCollection",
               "features": [f for f in full["features"] if f["properties"]["ward_code"] in wards]}
    frame = reader.map_values(data.map_indicator, data.map_period, "ward")
    frame = frame.filter(pl.col("area_code").is_in(wards))
    fig = charts.ward_map(
        geojson, frame, "rag", title="", unit=data.map_unit, polarity=data.map_polarity, threshold=data.threshold,
    )
    many = len(geojson["features"]) > 60
    fig.for_each_trace(
        lambda t: t.update(textfont={"size": 10 if many else 15}),
        selector=lambda t: isinstance(t.meta, dict) and t.meta.get("role") == "labels",
    )
    fig.for_each_trace(
        lambda t: t.update(marker={"line": {"width": 0.4 if many else 0.8}}),
        selector=lambda t: isinstance(t, go.Choropleth),
    )
    # Partnership boundaries (partnerships are built from whole districts): named on the county map.
    in_area = lookup.filter(pl.col("ward_code").is_in(wards))
    districts = sorted(set(in_area["district_code"].drop_nulls().to_list()))
    labels = None
    if data.area_level == "county":
        names = dict(reader.partnerships().iter_rows())
        first = in_area.group_by("partnership_code").agg(pl.col("district_code").min()).drop_nulls()
        labels = {d: re.sub(r"\s+LCP$", "", names.get(p, p)) for p, d in first.iter_rows()}
    charts.area_outlines(fig, geography.district_geojson(), "lad_code", districts, labels,
                         width=1.6 if many else 2.2, label_size=13)
    aspect = min(max(_mercator_aspect(geojson), 0.55), 1.6)
    width, height = MAP_WIDTH, int(MAP_WIDTH * aspect)
    fig.update_layout(showlegend=False, title=None, width=width, height=height,
                      margin={"l": 2, "r": 2, "t": 2, "b": 2})
    data.map_size = (width, height)
    shown = frame.filter(~pl.col("suppressed") & pl.col("value").is_not_null())
    key = list(RAG_KEY)
    if shown.filter(pl.col("rag").is_null()).height:
        key.append(NOT_ASSESSED_KEY)
    key.append(WITHHELD_KEY)
    if len(wards - set(shown["area_code"].to_list()) - set(frame.filter(pl.col("suppressed"))["area_code"].to_list())):
        key.append(NO_DATA_KEY)
    key.append(BOUNDARY_KEY)
    data.map_key = key
    return fig


def crop_png(png: bytes, scale: float = MAP_SCALE) -> tuple[bytes, tuple[float, float]]:
    """The picture cut to its drawn content (plotly leaves white space around a map); (png, layout size)."""
    import io

    from PIL import Image, ImageChops

    with Image.open(io.BytesIO(png)) as im:
        rgb = im.convert("RGB")
        box = ImageChops.difference(rgb, Image.new("RGB", rgb.size, (255, 255, 255))).getbbox()
        if box is None:
            return png, (rgb.width / scale, rgb.height / scale)
        pad = int(4 * scale)
        box = (max(box[0] - pad, 0), max(box[1] - pad, 0), min(box[2] + pad, rgb.width), min(box[3] + pad, rgb.height))
        cut = rgb.crop(box)
        buf = io.BytesIO()
        cut.save(buf, format="PNG", optimize=False, dpi=(int(72 * scale), int(72 * scale)))
        return buf.getvalue(), (cut.width / scale, cut.height / scale)


# ---------------------------------------------------------------- writing
def _pdftoppm(pdf: Path, png: Path) -> None:
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise BriefError("a PNG brief needs pdftoppm: install Debian's poppler-utils (`make chromium`)")
    prefix = png.with_suffix("")
    subprocess.run([tool, "-r", str(PNG_DPI), "-png", "-singlefile", str(pdf), str(prefix)],
                   check=True, capture_output=True)
    made = prefix.with_suffix(".png")
    if made != png:
        made.replace(png)


def _render(data: BriefData, out: Path, suffix: str) -> Path:
    from pipelines import brief_pdf

    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".pdf":
        brief_pdf.write_pdf(data, out)
    elif suffix == ".pptx":
        from pipelines import brief_pptx

        brief_pptx.write_pptx(data, out)
    else:
        with tempfile.TemporaryDirectory(prefix="lcp_brief_") as tmp:
            pdf = Path(tmp) / "brief.pdf"
            brief_pdf.write_pdf(data, pdf)
            _pdftoppm(pdf, out)
    return out


class _Memo:
    """A ReleaseReader whose answers are kept for one run (the open release file does not change)."""

    def __init__(self, reader: ReleaseReader):
        self._reader = reader
        self._cache: dict = {}

    def __getattr__(self, name: str):
        attr = getattr(self._reader, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            key = (name, args, tuple(sorted(kwargs.items())))
            if key not in self._cache:
                self._cache[key] = attr(*args, **kwargs)
            return self._cache[key]

        return call


def _draw_maps(reader: ReleaseReader, items: list[BriefData], session: charts.PngSession) -> Iterator[BriefData]:
    """Draw every brief's map and queue it in the session's one Chromium; yield each brief, its map
    rendered and cropped, as soon as it is ready (so its files can be written while Chromium draws
    the next)."""
    jobs = [(data, map_figure(reader, data)) for data in items]
    futures = [(data, session.submit(fig, scale=MAP_SCALE) if fig is not None else None) for data, fig in jobs]
    for data, future in futures:
        if future is not None:
            try:
                data.map_png, data.map_size = crop_png(future.result(timeout=300))
            except charts.ChartExportError as e:
                raise BriefError(str(e)) from None
        yield data


def write_brief(
    area: str,
    out: Path | str,
    *,
    release: Path | str | None = None,
    period: str | None = None,
    commentary: Mapping[str, str] | None = None,
    map_indicator: str | None = None,
    plan: object | None = None,
) -> Path:
    """Write one area's brief to `out` (.pdf, .pptx or .png by suffix) and return the path."""
    out = Path(out)
    suffix = check_suffix(out)
    con = open_release(release)
    try:
        reader = _Memo(ReleaseReader(con))
        resolve_area(reader, area)  # user errors first, before Chromium starts
        _check_period(reader, period)
        with charts.PngSession() as session:  # Chromium starts while the release is read
            data = collect(reader, area, period=period, commentary=commentary, map_indicator=map_indicator,
                           plan=plan)
            data = next(_draw_maps(reader, [data], session))
    finally:
        con.close()
    return _render(data, out, suffix)


def write_all(
    out_dir: Path | str,
    formats: Iterable[str] = FORMATS,
    *,
    release: Path | str | None = None,
    period: str | None = None,
    commentary: Mapping[str, Mapping[str, str]] | None = None,
    plans: Mapping[str, object] | None = None,
) -> list[Path]:
    """Every area's brief (partnerships, then the county) in every format given, into `out_dir`.

    Files are named brief_<area_code>.<ext>. commentary: area_code -> (indicator_id -> text); plans:
    area_code -> `pipelines.plans.BriefPlan` (priorities and local plan). One
    Chromium renders every map, each area's files are written while it draws the next, and the PNG
    pages are rasterised two at a time.
    """
    from concurrent.futures import ThreadPoolExecutor

    from pipelines import brief_pdf

    formats = [f if f.startswith(".") else f".{f}" for f in formats]
    for f in formats:
        check_suffix(f"x{f}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BriefError(f"{out_dir}: not a directory")
    con = open_release(release)
    written: list[Path] = []
    try:
        reader = _Memo(ReleaseReader(con))
        _check_period(reader, period)  # user errors first, before Chromium starts
        out_dir.mkdir(parents=True, exist_ok=True)
        with (charts.PngSession() as session,  # Chromium starts while the release is read
              tempfile.TemporaryDirectory(prefix="lcp_briefs_") as tmp,
              ThreadPoolExecutor(max_workers=2) as pool):
            areas = valid_areas(reader)["area_code"].to_list()
            items = [collect(reader, a, period=period, commentary=(commentary or {}).get(a),
                             plan=(plans or {}).get(a)) for a in areas]
            jobs = []
            for data in _draw_maps(reader, items, session):  # each area's files while the next map draws
                if ".pdf" in formats or ".png" in formats:
                    keep = ".pdf" in formats
                    pdf = (out_dir if keep else Path(tmp)) / f"{data.file_stem}.pdf"
                    brief_pdf.write_pdf(data, pdf)
                    if keep:
                        written.append(pdf)
                    if ".png" in formats:
                        png = out_dir / f"{data.file_stem}.png"
                        jobs.append(pool.submit(_pdftoppm, pdf, png))
                        written.append(png)
                if ".pptx" in formats:
                    written.append(_render(data, out_dir / f"{data.file_stem}.pptx", ".pptx"))
            for job in jobs:
                job.result()
    finally:
        con.close()
    return written


def brief_bytes(
    reader: ReleaseReader,
    area: str,
    suffix: str = ".pdf",
    *,
    period: str | None = None,
    commentary: Mapping[str, str] | None = None,
    plan: object | None = None,
) -> bytes:
    """One brief as bytes (for the dashboard's download button), from an open release reader."""
    suffix = check_suffix(f"brief{suffix if suffix.startswith('.') else '.' + suffix}")
    reader = _Memo(reader)
    resolve_area(reader, area)
    _check_period(reader, period)
    with charts.PngSession() as session:
        data = collect(reader, area, period=period, commentary=commentary, plan=plan)
        data = next(_draw_maps(reader, [data], session))
    with tempfile.TemporaryDirectory(prefix="lcp_brief_") as tmp:
        path = _render(data, Path(tmp) / f"brief{suffix}", suffix)
        return path.read_bytes()
