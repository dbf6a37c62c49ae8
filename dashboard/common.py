"""Shared by the dashboard's pages: the release connection, cached queries, URL state, page list, footer.

- One read-only DuckDB connection per published release file, held by `st.cache_resource` and keyed
  by the file's path and modification time: when `lcp build` replaces the release, the next run opens
  the new file (and the cached query results, keyed the same way, follow it).
- Small `st.cache_data` wrappers over `pipelines.release.ReleaseReader` (a cursor per query).
- `url_choice`: a widget whose value lives in the URL (`?area=LCP01&indicator=NI 55&period=2023/24`),
  read on load and written on every run, so a copied link reopens the same view.
- `load_pages`: the navigation declared as data in `dashboard/pages.yaml`, checked by `PageSpec`.

Imports only pipelines.config, .geography, .release, .charts (see pyproject's import-linter contracts).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import streamlit as st
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines import charts, config, geography
from pipelines.release import ReleaseMissing, ReleaseReader, open_release

DASHBOARD_DIR = Path(__file__).resolve().parent
PAGES_DIR = DASHBOARD_DIR / "pages"
PAGES_YAML = DASHBOARD_DIR / "pages.yaml"

ReleaseKey = tuple[str, int]


# ---------------------------------------------------------------- pages declared as data
class PageSpec(BaseModel):
    """One entry of dashboard/pages.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(description="file name under dashboard/pages/")
    title: str = Field(min_length=1, max_length=40)
    icon: str | None = Field(default=None, description="an emoji or ':material/name:'")
    url_path: str = Field(description="the page's URL path, e.g. 'map'")
    default: bool = False

    @field_validator("file")
    @classmethod
    def _file(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*\.py", v):
            raise ValueError(f"{v!r} must be a lower_snake_case .py file name")
        if not (PAGES_DIR / v).is_file():
            raise ValueError(f"{v!r} is not a file in {PAGES_DIR}")
        return v

    @field_validator("url_path")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9-]*", v):
            raise ValueError(f"url_path {v!r} must be lower-case letters, digits and hyphens")
        return v

    @property
    def path(self) -> Path:
        return PAGES_DIR / self.file


def load_pages(path: Path = PAGES_YAML) -> list[PageSpec]:
    """The pages in order; raises ValueError naming the file, entry and field on a bad entry."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: must be a non-empty YAML list of pages")
    pages: list[PageSpec] = []
    for i, item in enumerate(data, start=1):
        try:
            pages.append(PageSpec.model_validate(item))
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "(entry)"
            raise ValueError(f"{path}: page {i}: field {loc}: {first['msg']}") from None
    for attr in ("file", "url_path"):
        values = [getattr(p, attr) for p in pages]
        if len(set(values)) != len(values):
            raise ValueError(f"{path}: two pages share a {attr}")
    if sum(p.default for p in pages) > 1:
        raise ValueError(f"{path}: more than one page is marked default")
    return pages


# ---------------------------------------------------------------- entry
@st.cache_resource(show_spinner=False)
def favicon():
    """A small local favicon (a blue tile with three bars), so the browser fetches nothing from outside."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((2, 2, 61, 61), radius=12, fill="#0B5CAD")
    for i, h in enumerate((22, 34, 46)):
        x = 12 + i * 15
        draw.rectangle((x, 54 - h, x + 10, 54), fill="#FFFFFF")
    return img


def ensure_app_entry() -> None:
    """Make sure a page runs inside app.py's navigation (page config, sidebar footer, our menu).

    Streamlit keeps a legacy mode for apps with a `pages/` folder beside the entry script: until some
    session has run app.py (which calls `st.navigation` and so switches that mode off), a first visit
    straight to a page URL (e.g. a shared /map?... link just after a restart) runs the page file alone.
    When a page finds itself run that way, it switches the legacy mode off and reruns, which goes
    through app.py to the same page (same url_path). Best effort: a no-op if Streamlit's internals change.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - internals moved
        return
    if getattr(PagesManager, "uses_pages_directory", None) is True:
        PagesManager.uses_pages_directory = False
        st.rerun()


# ---------------------------------------------------------------- the release
def release_key() -> ReleaseKey:
    """(path, modification time) of the published release; ReleaseMissing if there is none."""
    path = config.release_path()
    if not path.is_file():
        open_release(path)  # raises ReleaseMissing with the standard message
    return str(path), path.stat().st_mtime_ns


@st.cache_resource(max_entries=2, show_spinner=False)
def _connection(path: str, mtime_ns: int) -> duckdb.DuckDBPyConnection:
    """The one read-only connection to this version of the release (shared by every session)."""
    return open_release(Path(path))


def reader(key: ReleaseKey) -> ReleaseReader:
    return ReleaseReader(_connection(*key))


def require_release() -> ReleaseKey:
    """The release key, or a friendly error on the page (and the page stops) if there is no release."""
    try:
        key = release_key()
        _connection(*key)
        return key
    except ReleaseMissing as e:
        st.error(str(e), icon=":material/error:")
        st.info(
            "The dashboard shows the published release only. An analyst builds it from the suppliers' data "
            "with `lcp ingest DIR` then `lcp build`; `make run` builds one from demonstration data."
        )
        st.stop()
        raise  # st.stop() does not return; this keeps type checkers honest


@st.cache_data(show_spinner=False, max_entries=8)
def release_info(key: ReleaseKey) -> dict[str, Any]:
    return reader(key).release_info()


@st.cache_data(show_spinner=False, max_entries=32)
def areas(key: ReleaseKey, level: str | None = None) -> pl.DataFrame:
    return reader(key).areas(level)


@st.cache_data(show_spinner=False, max_entries=8)
def area_lookup(key: ReleaseKey) -> pl.DataFrame:
    return reader(key).area_lookup()


@st.cache_data(show_spinner=False, max_entries=8)
def indicators(key: ReleaseKey) -> pl.DataFrame:
    return reader(key).indicators()


@st.cache_data(show_spinner=False, max_entries=256)
def periods(key: ReleaseKey, indicator_id: str) -> list[str]:
    return reader(key).periods(indicator_id)


@st.cache_data(show_spinner=False, max_entries=256)
def scorecard(key: ReleaseKey, area_code: str, period: str | None = None) -> pl.DataFrame:
    return reader(key).scorecard(area_code, period)


@st.cache_data(show_spinner=False, max_entries=256)
def map_values(key: ReleaseKey, indicator_id: str, period: str, level: str = "ward") -> pl.DataFrame:
    return reader(key).map_values(indicator_id, period, level)


@st.cache_resource(show_spinner=False)
def ward_geojson() -> dict:
    """The ward boundaries (geo/wards.geojson), loaded once per process."""
    return geography.ward_geojson()


def threshold(key: ReleaseKey) -> int:
    info = release_info(key)
    return int(info.get("suppression_threshold") or config.DEFAULT_SUPPRESSION_THRESHOLD)


def area_choices(key: ReleaseKey) -> dict[str, str]:
    """code -> name for the area pickers: the county first, then the partnership areas in code order."""
    frame = areas(key)
    county = frame.filter(pl.col("area_level") == "county")
    lcps = frame.filter(pl.col("area_level") == "partnership")
    choices = {r["area_code"]: f"{r['area_name']} (whole county)" for r in county.iter_rows(named=True)}
    choices.update({r["area_code"]: r["area_name"] for r in lcps.iter_rows(named=True)})
    return choices


# ---------------------------------------------------------------- URL state
def url_choice(
    name: str,
    label: str,
    options: Sequence[str],
    *,
    default: str | None = None,
    format_func: Callable[[str], str] = str,
    widget: Callable[..., Any] | None = None,
    **widget_kwargs: Any,
) -> str:
    """A choice whose value is the URL's `?name=` (read on load, written on every run).

    The first run on a page takes the URL's value if it is one of `options` (else the value this
    session last chose on any page, else `default`, else the first option). Widget state is kept under
    `url_<name>`; the URL always shows the current choice as its readable code.
    """
    options = list(options)
    if not options:
        raise ValueError(f"no options for {name}")
    key, keep = f"url_{name}", f"last_{name}"
    if st.session_state.get(key) not in options:
        wanted = st.query_params.get(name)
        for candidate in (wanted, st.session_state.get(keep), default, options[0]):
            if candidate in options:
                st.session_state[key] = candidate
                break
    value = (widget or st.selectbox)(label, options, key=key, format_func=format_func, **widget_kwargs)
    st.session_state[keep] = value
    if st.query_params.get(name) != value:
        st.query_params[name] = value
    return value


# ---------------------------------------------------------------- shared text
def footer(key: ReleaseKey) -> None:
    """Release id and date, and the suppression rule (shown in the sidebar on every page)."""
    info = release_info(key)
    built = info.get("built_at")
    built_text = built.strftime("%d %B %Y %H:%M") if hasattr(built, "strftime") else str(built or "unknown")
    limit = threshold(key)
    st.caption(
        f"**Release** `{info.get('release_id', 'unknown')}`  \n"
        f"Built {built_text} · methods {info.get('methods_version', '?')}"
    )
    st.caption(
        f"Figures for {limit} or fewer children are withheld and shown as **{config.WITHHELD_SYMBOL}**, "
        "as are figures that would let a withheld one be worked out."
    )


def legend_text(key: ReleaseKey) -> str:
    """The key printed under every table: c, RAG, arrows, quartiles."""
    return "\n".join(
        f"- {line}" for line in (
            f"**{charts.withheld_note(threshold(key))}**. – = no data or not assessed.",
            charts.rag_legend(),
            charts.direction_legend(),
            charts.quartile_legend(),
            "95% confidence interval: the range the true value is likely to lie in, given chance variation.",
        )
    )
