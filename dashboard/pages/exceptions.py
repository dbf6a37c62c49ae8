"""Exceptions: the indicators judged red, red-and-worsening first, with the partnership's commentary.

Reads `ReleaseReader.exceptions` and `pipelines.commentary` (issue 7); where this release or version has
neither, the page says so. Who may write commentary is `common.editor()`: behind the partner login an
analyst (the actor is their user name; viewers read it only), with the login off anyone when
`LCP_EDIT=1` (the writer's name is asked for). Typed text is always shown as plain text (a table cell),
never as Markdown or HTML.

URL: ?area=all|E10000019|LCP01
"""
from __future__ import annotations

import importlib

import polars as pl
import streamlit as st

from dashboard import common
from pipelines import charts
from pipelines.text import plain

ALL = "all"
TREND_LABELS = {"improving": "Improving", "worsening": "Worsening", "no_change": "No significant trend"}


def commentary_module():
    """pipelines.commentary when it exists (issue 7), else None."""
    try:
        return importlib.import_module("pipelines.commentary")
    except ImportError:
        return None


def exceptions_table(frame: pl.DataFrame, notes: dict[tuple, str]) -> pl.DataFrame:
    rows = []
    for r in frame.iter_rows(named=True):
        rows.append({
            "Priority": "■▼ Red and worsening" if r["red_and_worsening"] else "■ Red",
            "Indicator": r["indicator_id"],
            "Title": r["title"],
            "Area": r["area_name"],
            "Period": r["period"],
            "Value": charts.format_value(r["value"], False, r["unit"]),
            "95% confidence interval": charts.format_ci(r["lower_95"], r["upper_95"], False, r["unit"]),
            "England": charts.format_value(r["benchmark_value"], False, r["unit"]),
            "Direction of travel": charts.direction_label(r["direction"], r["polarity"]),
            "5-year trend": TREND_LABELS.get(r.get("trend") or "", charts.NO_DATA),
            "Quartile (1 = best)": charts.quartile_label(r["quartile"]),
            "Commentary": notes.get((r["indicator_id"], r["area_code"], r["period"]), ""),
        })
    columns = ["Priority", "Indicator", "Title", "Area", "Period", "Value", "95% confidence interval", "England",
               "Direction of travel", "5-year trend", "Quartile (1 = best)", "Commentary"]
    return pl.DataFrame(rows, schema={c: pl.String for c in columns})


common.ensure_app_entry()
key = common.require_release()
common.print_css()
st.title("Exceptions")
st.caption("Indicators significantly worse than England (■ Red), those also getting worse first (■▼ Red and "
           "worsening), with what the partnership says about them.")

choices = {ALL: "All areas", **common.area_choices(key)}
area = common.url_choice("area", "Area", list(choices), default=ALL, format_func=choices.get)
frame = common.exceptions(key, None if area == ALL else area)
if frame is None:
    st.info("Exceptions are not available in this release (the RAG and trend assessment that lists them "
            "comes with a later release of the pipeline).")
    st.stop()

module = commentary_module()
notes: dict[tuple, str] = {}
history = None
if module is not None:
    history = module.current(None if area == ALL else area)
    for r in history.iter_rows(named=True):
        notes[(r["indicator_id"], r["area_code"], r["period"])] = f"{r['text']} ({r['updated_by']}, {r['updated_at']:%d/%m/%Y})" \
            if hasattr(r["updated_at"], "strftime") else f"{r['text']} ({r['updated_by']})"

n_rw = int(frame["red_and_worsening"].sum()) if frame.height else 0
st.markdown(f"**{choices[area]}**: {frame.height} red, of which {n_rw} red and worsening.")
if frame.is_empty():
    st.success("No indicator is red for this area in this release.")
else:
    table = exceptions_table(frame, notes)
    st.table(table)  # plain cells: typed commentary is never read as Markdown or HTML
    if module is None:
        st.caption("Commentary is not available in this version.")
    common.download_buttons(key, table, title=f"Exceptions: {choices[area]}", stem=f"exceptions_{area}")

    writer = common.editor()
    if module is not None and writer is not None:
        st.subheader("Add or update commentary")
        keys = [(r["indicator_id"], r["area_code"], r["period"]) for r in frame.iter_rows(named=True)]
        names = {(r["indicator_id"], r["area_code"], r["period"]): f"{r['indicator_id']} · {r['area_name']} · {r['period']}"
                 for r in frame.iter_rows(named=True)}
        with st.form("commentary", clear_on_submit=True):
            which = st.selectbox("Exception", keys, format_func=names.get)
            text = st.text_area("Commentary (plain text)", max_chars=2000)
            if writer.actor is None:  # open dashboard with LCP_EDIT=1: no account, so the name is asked for
                actor = st.text_input("Your name")
            else:
                actor = writer.actor
                st.caption(f"Saved as {plain(actor)} (the signed-in analyst).")
            if st.form_submit_button("Save commentary"):
                if not text.strip() or not actor.strip():
                    st.error("Type the commentary and your name." if writer.actor is None else "Type the commentary.")
                else:
                    module.save(which[0], which[1], which[2], text.strip(), actor.strip())
                    st.success("Saved.")
                    st.rerun()
    elif module is not None and common.login_on():
        st.caption("Commentary is read-only for your account: analysts write it.")
    elif module is not None:
        st.caption("Commentary is read-only here (editing is switched on with LCP_EDIT=1).")
st.caption(charts.rag_legend())

# Local plan actions off track (issue 13), beside the indicator exceptions: red, delayed or overdue.
from pipelines import plans  # noqa: E402

_codes = [area] if area != ALL else common.areas(key, "partnership")["area_code"].to_list()
_when = plans.release_date(common.release_info(key))
_off = [(c, a) for c in _codes for a in plans.actions(c).iter_rows(named=True) if plans.needs_report(a, _when)]
if _off:
    st.subheader("Local plan actions off track")
    st.caption("Actions rated red or delayed, or past their due date, with their exception reports (Local plan page).")
    _rows = []
    for c, a in _off:
        rep = plans.report(a["id"])
        _rows.append({"Area": choices.get(c, c), "Action": f"{a['code']}: {a['title']}", "Indicators": a["indicator_ids"],
                      "Status": plans.status_label(a, _when),
                      "Analysis": rep["analysis"] if rep else "– (exception report needed)",
                      "Options": rep["options"] if rep else "–"})
    st.table(pl.DataFrame(_rows).to_pandas().style.hide(axis="index"))  # plain cells: typed text as typed
