"""Shared by the dashboard's pages: the release connection, cached queries, URL state, page list, footer.

- One read-only DuckDB connection per published release file, held by `st.cache_resource` and keyed
  by the file's path and modification time: when `lcp build` replaces the release, the next run opens
  the new file (and the cached query results, keyed the same way, follow it).
- Small `st.cache_data` wrappers over `pipelines.release.ReleaseReader` (a cursor per query).
- `url_choice`: a widget whose value lives in the URL (`?area=LCP01&indicator=NI 55&period=2023/24`),
  read on load and written on every run, so a copied link reopens the same view.
- `load_pages`: the navigation declared as data in `dashboard/pages.yaml`, checked by `PageSpec`.
- Access (issue 11): open, or behind the partner login (`LCP_LOGIN=1`, `lcp serve --login`;
  `require_access` in app.py, `dashboard.signin`). `analyst_access`, `editor` and `show_draft` decide
  who writes commentary and who may read the draft release (`lcp build --draft`) instead of the live one.

Imports only pipelines.config, .geography, .release, .charts, .auth (through dashboard.signin) (see
pyproject's import-linter contracts).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import streamlit as st
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dashboard import signin
from pipelines import auth, charts, config, geography
from pipelines.release import ReleaseMissing, ReleaseReader, open_release
from pipelines.text import plain

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


# ---------------------------------------------------------------- access (issue 11)
#: roles that may sign in to the dashboard (a supplier account is for the upload app only)
DASHBOARD_ROLES = ("viewer", "analyst")
#: this app's own sign-in cookie name (auth.COOKIE_NAME + suffix; the upload app uses another)
COOKIE_SUFFIX = "_dashboard"
SUPPLIER_REFUSED = (
    "This account is for the supply upload app only: the dashboard's partner login is for viewer and "
    "analyst accounts. Ask the scorecard team for a dashboard account."
)
#: session key of the sidebar toggle "Show draft release"
DRAFT_TOGGLE = "show_draft"
DRAFT_BANNER = "DRAFT – not published. You are looking at the draft release (`lcp build --draft`), not the live one."


def login_on() -> bool:
    """Whether the dashboard runs behind the partner login (`LCP_LOGIN=1`, set by `lcp serve --login`)."""
    return config.login_required()


def _intro() -> None:
    st.title("LCP Scorecard")
    st.caption("Lincolnshire Locality Children's Partnerships")
    st.markdown("This scorecard is for the partnership's **partners**. Sign in with the account the scorecard "
                "team set up for you.")


def require_access() -> signin.Account | None:
    """app.py's gate: with the login on, the sign-in form until a viewer or analyst is signed in (the
    page stops), then the account; with the login off, None (everyone sees the published figures)."""
    if not login_on():
        return None
    return signin.require_login(_intro, cookie_suffix=COOKIE_SUFFIX, roles=DASHBOARD_ROLES,
                                refused=SUPPLIER_REFUSED, form_key="dashboard_sign_in")


def current_user() -> auth.User | None:
    """The signed-in viewer or analyst (re-read from the credentials file); None when the login is off
    or nobody allowed is signed in."""
    return signin.signed_in_user(DASHBOARD_ROLES) if login_on() else None


def analyst_access() -> bool:
    """Whether this session may do an analyst's work (write commentary, read the draft release): with
    the login on, a signed-in analyst; with it off, anyone when `LCP_EDIT=1`."""
    if login_on():
        user = current_user()
        return user is not None and user.role == "analyst"
    return config.edit_enabled()


@dataclass(frozen=True)
class Editor:
    """Who may write commentary: `actor` is the signed-in analyst's user name, or None when the login
    is off (LCP_EDIT=1) and the writer must type their name."""

    actor: str | None


def editor() -> Editor | None:
    """The one decision on writing commentary: None when this session may not (a viewer, nobody
    signed in, or the login off without LCP_EDIT=1); else an Editor (the actor is the signed-in user)."""
    if not analyst_access():
        return None
    user = current_user()
    return Editor(user.username if user is not None else None)


def account_box(account: signin.Account | None) -> None:
    """The sidebar's signed-in line and sign-out button (nothing when the login is off)."""
    if account is None:
        return
    user = account.user
    who = user.username if user.name == user.username else f"{user.name} ({user.username})"
    st.caption(f"Signed in as **{plain(who)}** · role {user.role}")
    account.authenticator.logout("Sign out", location="main", key="sign_out")
    if not st.session_state.get("authentication_status"):
        st.rerun()  # signed out just now: back to the sign-in form


def show_draft() -> bool:
    """Whether this run reads the draft release: an analyst (or LCP_EDIT=1 with the login off) who
    switched on "Show draft release", while a draft exists. Checked on every run, never trusted from
    the session alone."""
    return bool(st.session_state.get(DRAFT_TOGGLE)) and analyst_access() and config.draft_release_path().is_file()


def draft_toggle() -> None:
    """The sidebar toggle "Show draft release", for analysts only (drawn in app.py before the page)."""
    if not analyst_access():
        st.session_state.pop(DRAFT_TOGGLE, None)
        return
    exists = config.draft_release_path().is_file()
    st.toggle("Show draft release", key=DRAFT_TOGGLE, disabled=not exists,
              help="Read the release candidate from `lcp build --draft` instead of the published release."
              if exists else "There is no draft release: an analyst makes one with `lcp build --draft`.")


def is_draft(key: ReleaseKey) -> bool:
    return key[0] == str(config.draft_release_path())


# ---------------------------------------------------------------- the release
def release_key() -> ReleaseKey:
    """(path, modification time) of the release this run reads: the published release, or the draft
    (`show_draft`); ReleaseMissing if there is none."""
    path = config.draft_release_path() if show_draft() else config.release_path()
    if not path.is_file():
        open_release(path)  # raises ReleaseMissing with the standard message
    return str(path), path.stat().st_mtime_ns


@st.cache_resource(max_entries=4, show_spinner=False)
def _connection(path: str, mtime_ns: int) -> duckdb.DuckDBPyConnection:
    """The one read-only connection to this version of the release (shared by every session)."""
    return open_release(Path(path))


def reader(key: ReleaseKey) -> ReleaseReader:
    return ReleaseReader(_connection(*key))


def require_release(banner: bool = True) -> ReleaseKey:
    """The release key, or a friendly error on the page (and the page stops) if there is no release.

    With the login on, a page run without a signed-in viewer or analyst stops here (app.py's gate
    normally comes first). `banner`: the "DRAFT – not published" banner when the draft is shown
    (every page; app.py labels the sidebar instead)."""
    if login_on() and current_user() is None:
        st.warning("Sign in to see the scorecard.", icon=":material/lock:")
        st.stop()
    try:
        key = release_key()
        _connection(*key)
        if banner and is_draft(key):
            st.warning(DRAFT_BANNER, icon=":material/edit_note:")
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
def top_area(key: ReleaseKey) -> str:
    """The release's top area (Lincolnshire; England in a national release): the pages' default area."""
    return reader(key).top_area() or config.COUNTY_CODE


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
    choices = {r["area_code"]: f"{r['area_name']} ({'whole county' if r['area_code'] == config.COUNTY_CODE else 'all areas'})"
               for r in county.iter_rows(named=True)}
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
    key, keep, written = f"url_{name}", f"last_{name}", f"urlw_{name}"
    wanted = st.query_params.get(name)
    if wanted in options and wanted != st.session_state.get(written) and wanted != st.session_state.get(key):
        # The URL changed from outside this widget (a link to this view, e.g. st.page_link with query_params).
        st.session_state[key] = wanted
    if st.session_state.get(key) not in options:
        for candidate in (wanted, st.session_state.get(keep), default, options[0]):
            if candidate in options:
                st.session_state[key] = candidate
                break
    value = (widget or st.selectbox)(label, options, key=key, format_func=format_func, **widget_kwargs)
    st.session_state[keep] = value
    if st.query_params.get(name) != value:
        st.query_params[name] = value
    st.session_state[written] = value
    return value


# ---------------------------------------------------------------- shared text
def footer(key: ReleaseKey) -> None:
    """Release id and date, and the suppression rule (shown in the sidebar on every page)."""
    info = release_info(key)
    built = info.get("built_at")
    built_text = built.strftime("%d %B %Y %H:%M") if hasattr(built, "strftime") else str(built or "unknown")
    limit = threshold(key)
    if is_draft(key):
        st.warning("**DRAFT – not published**", icon=":material/edit_note:")
    st.caption(
        f"**{'Draft release' if is_draft(key) else 'Release'}** `{info.get('release_id', 'unknown')}`  \n"
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


# ---------------------------------------------------------------- issue 8: shared by the new pages
LEVEL_NAMES = {"ward": "wards", "district": "districts", "partnership": "partnership areas", "county": "county"}


def has_reader(name: str) -> bool:
    """Whether this version of pipelines.release has the query `name` (issue 7 adds some later)."""
    return callable(getattr(ReleaseReader, name, None))


@st.cache_data(show_spinner=False, max_entries=64)
def has_table(key: ReleaseKey, name: str) -> bool:
    return reader(key).has_table(name)


@st.cache_data(show_spinner=False, max_entries=64)
def columns(key: ReleaseKey, table: str) -> list[str]:
    return reader(key).columns(table)


@st.cache_data(show_spinner=False, max_entries=8)
def sources(key: ReleaseKey) -> pl.DataFrame:
    return reader(key).sources()


@st.cache_data(show_spinner=False, max_entries=512)
def series(key: ReleaseKey, area_code: str, indicator_id: str | None = None) -> pl.DataFrame:
    return reader(key).series(area_code, indicator_id)


@st.cache_data(show_spinner=False, max_entries=256)
def profile(key: ReleaseKey, area_code: str) -> pl.DataFrame:
    return reader(key).profile(area_code)


@st.cache_data(show_spinner=False, max_entries=256)
def neighbours(key: ReleaseKey, area_code: str) -> pl.DataFrame:
    return reader(key).neighbours(area_code)


@st.cache_data(show_spinner=False, max_entries=256)
def level_values(key: ReleaseKey, indicator_id: str, period: str, level: str) -> pl.DataFrame:
    return reader(key).level_values(indicator_id, period, level)


@st.cache_data(show_spinner=False, max_entries=256)
def breakdowns(key: ReleaseKey, indicator_id: str, period: str, area_code: str) -> pl.DataFrame:
    return reader(key).breakdowns(indicator_id, period, area_code)


@st.cache_data(show_spinner=False, max_entries=256)
def summary_counts(key: ReleaseKey, area_code: str) -> pl.DataFrame | None:
    """ReleaseReader.summary_counts (issue 7), or None where this version has no such query."""
    if not has_reader("summary_counts"):
        return None
    return reader(key).summary_counts(area_code)


@st.cache_data(show_spinner=False, max_entries=64)
def exceptions(key: ReleaseKey, area_code: str | None = None) -> pl.DataFrame | None:
    if not has_reader("exceptions"):
        return None
    if area_code is None:  # every area: the county and partnership areas (districts are the same places)
        return reader(key).exceptions(None, levels=("county", "partnership"))
    return reader(key).exceptions(area_code)


@st.cache_data(show_spinner=False, max_entries=256)
def funnel(key: ReleaseKey, indicator_id: str, period: str, level: str) -> pl.DataFrame | None:
    if not has_reader("funnel"):
        return None
    return reader(key).funnel(indicator_id, period, level)


@st.cache_resource(show_spinner=False)
def boundaries(level: str) -> tuple[dict, str, str]:
    """(geojson, code property, name property) for a map of `level` (ward, district or partnership)."""
    if level == "ward":
        return geography.ward_geojson(), "ward_code", "ward_name"
    if level == "district":
        return geography.district_geojson(), "lad_code", "lad_name"
    return geography.partnership_geojson(), "partnership_code", "partnership_name"


def all_area_names(key: ReleaseKey) -> dict[str, str]:
    frame = areas(key)
    return dict(zip(frame["area_code"].to_list(), frame["area_name"].to_list()))


@st.cache_data(show_spinner=False, max_entries=8)
def area_labels(key: ReleaseKey) -> dict[str, str]:
    """Every area's label (see `area_label`), made once per release."""
    names = all_area_names(key)
    lookup = area_lookup(key)
    ward_lcp = dict(zip(lookup["ward_code"].to_list(), lookup["partnership_code"].to_list()))
    out = {}
    for code, name, level in areas(key).select("area_code", "area_name", "area_level").iter_rows():
        if level == "county":
            out[code] = f"{name} (whole county)"
        elif level == "ward":
            lcp = ward_lcp.get(code)
            out[code] = f"{name} (ward, {names.get(lcp, lcp)})" if lcp else f"{name} (ward)"
        else:
            out[code] = f"{name} ({'partnership area' if level == 'partnership' else level})"
    return out


def area_label(key: ReleaseKey, code: str) -> str:
    """'Boston LCP (partnership area)', 'Fenside (ward, Boston LCP)', 'Lincolnshire (whole county)'."""
    return area_labels(key).get(code, code)


def png_download(key: ReleaseKey, fig, *, title: str, subtitle: str, stem: str, footnote: str = "",
                 label: str = "Download chart (PNG)", widget_key: str | None = None) -> None:
    """A print-resolution PNG of `fig` that explains itself when pasted: its own title, subtitle, the
    release and date, the suppression note and attribution (charts.print_ready, drawn by Kaleido in
    Debian's Chromium when clicked, not on every run)."""
    from pipelines import brief_text

    info = release_info(key)
    limit = threshold(key)

    def png() -> bytes:  # the print layout is built only when the button is clicked
        printable = charts.print_ready(
            fig, title=title, subtitle=subtitle,
            source=brief_text.source_line(info.get("release_id", "unknown"), info.get("built_at")),
            footnote=" ".join(p for p in (footnote, brief_text.suppression_note(limit), brief_text.attribution())
                              if p),
        )
        return charts.to_png(printable, scale=2)

    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_") or "chart"
    st.download_button(label, data=png, file_name=f"{safe}.png",
                       mime="image/png", on_click="ignore", icon=":material/image:", key=widget_key)


def download_buttons(key: ReleaseKey, table: pl.DataFrame, *, title: str, stem: str, source: str = "",
                     extra_notes: Sequence[str] = (), widget_key: str | None = None) -> None:
    """CSV and Excel downloads of exactly `table` (the text shown), with the release, source and
    suppression notes (pipelines.downloads). Made when clicked."""
    from pipelines import downloads

    notes = downloads.download_notes(release_info(key), title=title, source=source, extra=extra_notes)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_") or "table"
    # What the buttons will write, kept for this session (tests read it: AppTest cannot click a download).
    st.session_state.setdefault("downloads", {})[widget_key or safe] = (table, notes)
    a, b, _ = st.columns([1, 1, 3])
    a.download_button("Download CSV", data=lambda: downloads.csv_bytes(table, notes), file_name=f"{safe}.csv",
                      mime="text/csv", on_click="ignore", icon=":material/download:",
                      key=f"csv_{widget_key or safe}")
    b.download_button("Download Excel", data=lambda: downloads.xlsx_bytes(table, notes, sheet_title=title),
                      file_name=f"{safe}.xlsx", on_click="ignore", icon=":material/table_view:",
                      mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      key=f"xlsx_{widget_key or safe}")


def postcode_search(key: ReleaseKey) -> None:
    """The sidebar's postcode search: finds the ward and partnership area and links to their profiles."""
    raw = st.text_input("Find a postcode", key="postcode", placeholder="e.g. PE21 6EF",
                        help="A Lincolnshire postcode: shows its ward and partnership area.")
    if not raw:
        return
    hit = geography.find_postcode(raw)
    if hit is None:
        shape = geography.normalise_postcode(raw)
        st.caption("That is not a valid postcode." if shape is None else
                   f"{shape} is not a live Lincolnshire postcode.")
        return
    names = all_area_names(key)
    st.caption(f"**{hit['postcode']}**")
    profile_page = PAGES_DIR / "profile.py"
    for code in (hit["ward_code"], hit["partnership_code"]):
        if code:
            label = f"{names.get(code, code)} ({'ward' if code == hit['ward_code'] else 'partnership area'})"
            if profile_page.is_file() and code in names:
                st.page_link(str(profile_page), label=label, query_params={"area": code}, icon=":material/place:")
            else:
                st.caption(label)


def print_css() -> None:
    """Print-friendly: no sidebar, toolbar or buttons on paper, charts kept whole."""
    st.html("""<style>
@media print {
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDownloadButton"],
  [data-testid="stBaseButton-secondary"], [data-testid="stDecoration"] { display: none !important; }
  [data-testid="stMain"] { margin-left: 0 !important; }
  .js-plotly-plot, [data-testid="stTable"] { break-inside: avoid; }
}
</style>""")


def link(page_file: str, label: str, params: dict[str, str], icon: str | None = None) -> None:
    """A link to another page with its URL state (st.page_link inside the app's navigation; a plain
    link when the page runs on its own, e.g. under AppTest.from_file)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link(f"pages/{page_file}", label=label, query_params=params, icon=icon)
    except (StreamlitAPIException, KeyError):
        from urllib.parse import urlencode

        st.markdown(f"[{label.replace('[', '(').replace(']', ')')}](./{page_file.removesuffix('.py')}?{urlencode(params)})")


def go_to(page_file: str, params: dict[str, str]) -> None:
    """Open another page with this URL state (st.switch_page; falls back to setting the query)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.switch_page(f"pages/{page_file}", query_params=params)
    except StreamlitAPIException:
        for k, v in params.items():
            st.query_params[k] = v


def rag_summary_frame(frame: pl.DataFrame, counts: pl.DataFrame | None) -> pl.DataFrame:
    """Counts of indicators per Every Child Matters outcome: RAG, direction, quartile, vs England.

    From `ReleaseReader.summary_counts` when the release reader has it (issue 7), else counted from the
    scorecard rows shown (`frame`). A withheld value counts as 'not assessed'."""
    measures = {
        "rag": [("green", charts.rag_label("green")), ("amber", charts.rag_label("amber")), ("red", charts.rag_label("red"))],
        "direction": [("improving", "Improving"), ("no_change", "No change"), ("worsening", "Worsening")],
        "quartile": [("1", "Q1 (best)"), ("2", "Q2"), ("3", "Q3"), ("4", "Q4 (worst)")],
        "vs_benchmark": [("better", "Better"), ("similar", "Similar"), ("worse", "Worse")],
    }
    if counts is not None and not counts.is_empty():
        tall = counts.select(
            pl.col("ecm_outcome").fill_null("Other"), "measure", pl.col("category").cast(pl.String), "n_indicators"
        ).group_by("ecm_outcome", "measure", "category").agg(pl.col("n_indicators").sum())
    else:
        parts = []
        for m in measures:
            parts.append(frame.select(
                pl.col("ecm_outcome").fill_null("Other"), pl.lit(m).alias("measure"),
                pl.col(m).cast(pl.String).alias("category"),
            ))
        tall = (pl.concat(parts).group_by("ecm_outcome", "measure", "category").agg(pl.len().alias("n_indicators"))
                if parts else pl.DataFrame())
    outcomes = [o for o in frame["ecm_outcome"].fill_null("Other").unique(maintain_order=True).to_list()]
    rows = []
    for outcome in [*outcomes, "All outcomes"]:
        sub = tall if outcome == "All outcomes" else tall.filter(pl.col("ecm_outcome") == outcome)
        row: dict[str, str] = {"Outcome": outcome}
        for m, cats in measures.items():
            for cat, label in cats:
                n = sub.filter((pl.col("measure") == m) & (pl.col("category") == cat))["n_indicators"].sum()
                row[label] = str(int(n or 0))
        rows.append(row)
    return pl.DataFrame(rows, schema={c: pl.String for c in rows[0]}) if rows else pl.DataFrame()
