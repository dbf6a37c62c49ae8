"""Local plan: one partnership area's priorities and local plan (issue 13).

The board's priorities (chosen by an analyst from the area's red and red-and-worsening exceptions, each
with the plan it serves), the actions with their status (symbol and word; overdue derived from the due
date and the date of the release shown), progress notes, exception reports for actions that are red,
delayed or overdue (beside the area's indicator exceptions), and "is it working": each action's indicators
then and now with the significance test of the direction of travel. Partnership working data
(`pipelines.plans`, the working store), never part of the release. Editing follows `common.editor()`:
behind the login the analyst role, open with LCP_EDIT=1. Typed text is shown as plain text (table cells,
st.text), never as Markdown or HTML; downloads neutralise formulas.

URL: ?area=LCP01
"""
from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import common
from pipelines import charts, plans
from pipelines.text import plain

common.ensure_app_entry()
key = common.require_release()
common.print_css()
st.title("Local plan")

lcps = common.areas(key, "partnership")
names = dict(zip(lcps["area_code"].to_list(), lcps["area_name"].to_list()))
if not names:
    st.warning("This release has no partnership areas.")
    st.stop()
area = common.url_choice("area", "Partnership area", list(names), format_func=names.get)
info = common.release_info(key)
when = plans.release_date(info)
writer = common.editor()
st.markdown(
    f"**{plain(names[area])}** · status as at the release's date, "
    f"{when:%d %B %Y}" if when else f"**{plain(names[area])}**"
)
st.caption("Priorities and the local plan are the partnership's working data, kept apart from the published "
           "release: a new release keeps them. An action not complete and past its due date shows as overdue.")

acts = plans.actions(area)
excs = common.exceptions(key, area)
inds = common.indicators(key)
titles = dict(zip(inds["indicator_id"].to_list(), inds["title"].to_list()))

# ---------------------------------------------------------------- priorities
st.subheader("Board priorities")
pri = plans.priorities(area)
if pri.is_empty():
    st.caption("No priorities chosen for this area yet.")
else:
    st.caption(f"Chosen from the {', '.join(sorted(set(pri['period'].to_list())))} exceptions.")
    st.table(pl.DataFrame({
        "Indicator": pri["indicator_id"].to_list(),
        "Title": [titles.get(i, "") for i in pri["indicator_id"].to_list()],
        "Plan": pri["plan_name"].to_list(),
        "Period": pri["period"].to_list(),
        "Chosen by": pri["updated_by"].to_list(),
    }).to_pandas().style.hide(axis="index"))
if writer is not None:
    with st.expander("Choose priorities (analysts)", expanded=pri.is_empty()):
        if excs is None or excs.is_empty():
            st.caption("This area has no red indicator in this release to choose from.")
        else:
            offered = {f"{r['indicator_id']}|{r['period']}": r for r in excs.iter_rows(named=True)}
            with st.form("priority"):
                which = st.multiselect(
                    "From this area's exceptions (red and worsening first)", list(offered),
                    format_func=lambda k: (f"{'■▼ ' if offered[k]['red_and_worsening'] else '■ '}"
                                           f"{offered[k]['indicator_id']} {offered[k]['title']} ({offered[k]['period']})"))
                plan_key = st.selectbox("The plan it serves", list(plans.PLANS), format_func=plans.PLANS.get)
                actor = writer.actor or st.text_input("Your name", key="priority_actor")
                if st.form_submit_button("Make priorities"):
                    if not which or not (actor or "").strip():
                        st.error("Choose at least one indicator" + ("" if writer.actor else " and type your name") + ".")
                    else:
                        for k in which:
                            plans.set_priority(area, offered[k]["period"], offered[k]["indicator_id"], plan_key, actor)
                        st.success("Saved.")
                        st.rerun()
        if not pri.is_empty():
            with st.form("unpriority"):
                gone = st.selectbox("No longer a priority", pri["id"].to_list(),
                                    format_func=dict(zip(pri["id"].to_list(), pri["indicator_id"].to_list())).get)
                actor2 = writer.actor or st.text_input("Your name", key="unpriority_actor")
                if st.form_submit_button("Remove priority"):
                    if not (actor2 or "").strip():
                        st.error("Type your name.")
                    else:
                        plans.remove_priority(int(gone), actor2)
                        st.rerun()

# ---------------------------------------------------------------- actions
st.subheader("Actions")
table = plans.plan_table(area, when)
if table.is_empty():
    st.caption("No actions in this area's local plan yet. Analysts add them below, or with `lcp plan import FILE.csv`.")
else:
    shown = table.select(
        pl.col("code").alias("Code"), pl.col("title").alias("Action"), pl.col("indicator_ids").alias("Indicators"),
        pl.col("lead").alias("Lead"), pl.col("start_date").alias("Start"), pl.col("due_date").alias("Due"),
        pl.col("status").alias("Status"), pl.col("milestones").alias("Milestones"),
        (pl.col("progress_quarter") + pl.lit(": ") + pl.col("progress")).fill_null("").alias("Latest progress"),
    ).with_columns(pl.when(pl.col("Latest progress") == ": ").then(pl.lit("")).otherwise(pl.col("Latest progress"))
                   .alias("Latest progress"))
    st.table(shown.to_pandas().style.hide(axis="index"))  # plain cells: typed text is never Markdown or HTML
    st.caption("Status: ● Green and ✓ Complete count as green; ◆ Amber and ◆ On hold as amber; ■ Red, ■ Delayed "
               "and ■ Overdue as red. Overdue is worked out from the due date, never typed.")
    common.download_buttons(key, table, title=f"Local plan: {names[area]}", stem=f"plan_{area}",
                            source="Partnership working data (lcp plan), not part of the published release",
                            extra_notes=[n for lbl, n in plans.export_notes(area, names[area], when, info)
                                         if lbl in ("Overdue as at", "Rules")]
                            + [f"Priority: {r['indicator_id']} ({r['plan_name']}; {r['period']})"
                               for r in pri.iter_rows(named=True)])

    with st.expander("Progress notes"):
        notes = plans.progress()
        ids = acts["id"].to_list()
        codes = dict(zip(ids, acts["code"].to_list()))
        notes = notes.filter(pl.col("action_id").is_in(ids))
        if notes.is_empty():
            st.caption("No progress notes yet.")
        else:
            st.table(pl.DataFrame({
                "Action": [codes[i] for i in notes["action_id"].to_list()],
                "Quarter": notes["quarter"].to_list(),
                "Rating then": [plans.STATUS_SYMBOL[r] + " " + r.capitalize() for r in notes["rating"].to_list()],
                "Progress": notes["text"].to_list(),
                "By": notes["created_by"].to_list(),
            }).to_pandas().style.hide(axis="index"))

# ---------------------------------------------------------------- exceptions: actions beside indicators
st.subheader("Exceptions")
left, right = st.columns(2)
with left:
    st.markdown("**Actions off track** (red, delayed or overdue)")
    off = [a for a in acts.iter_rows(named=True) if plans.needs_report(a, when)]
    if not off:
        st.caption("No action is red, delayed or overdue.")
    else:
        rows = []
        for a in off:
            rep = plans.report(a["id"])
            rows.append({"Code": a["code"], "Status": plans.status_label(a, when),
                         "Analysis": rep["analysis"] if rep else "– (exception report needed)",
                         "Options": rep["options"] if rep else "–"})
        st.table(pl.DataFrame(rows).to_pandas().style.hide(axis="index"))
with right:
    st.markdown("**Indicators rated red**")
    if excs is None or excs.is_empty():
        st.caption("No indicator is rated red for this area in this release.")
    else:
        st.table(pl.DataFrame({
            "Indicator": excs["indicator_id"].to_list(),
            "Title": excs["title"].to_list(),
            "Priority": ["■▼ Red and worsening" if w else "■ Red" for w in excs["red_and_worsening"].to_list()],
            "Value": [charts.format_value(v, False, u) for v, u in zip(excs["value"].to_list(), excs["unit"].to_list())],
        }).to_pandas().style.hide(axis="index"))

# ---------------------------------------------------------------- is it working
st.subheader("Is the plan working?")
st.caption("For each action, its indicators at the latest year published at or before the year it started, "
           "and now (the latest year), with the direction of travel's test (95% significance): a change "
           "within chance is 'No significant change'. A withheld figure gives 'cannot tell', never a number.")
if acts.is_empty():
    st.caption("No actions yet.")
else:
    reader = common.reader(key)
    rows = []
    for a in acts.iter_rows(named=True):
        for m in plans.movement(reader, a):
            rows.append({"Action": a["code"], "Indicator": m.indicator_id, "Then": m.then_period,
                         "Value then": m.then_value, "95% interval then": m.then_interval, "Now": m.now_period,
                         "Value now": m.now_value, "95% interval now": m.now_interval, "Working?": m.verdict_label})
    if rows:
        st.table(pl.DataFrame(rows, schema={c: pl.String for c in rows[0]}).to_pandas().style.hide(axis="index"))

# ---------------------------------------------------------------- editing (analysts)
if writer is None:
    st.caption("The plan is read-only for you: analysts edit it" + (
        "." if common.login_on() else " (editing is switched on with LCP_EDIT=1)."))
else:
    st.subheader("Edit the plan (analysts)")
    ind_ids = inds["indicator_id"].to_list()
    by_id = {r["id"]: r for r in acts.iter_rows(named=True)}
    NEW = 0
    with st.expander("Add or change an action", expanded=acts.is_empty()):
        pick = st.selectbox("Action", [NEW, *by_id], key="plan_pick",
                            format_func=lambda i: "New action" if i == NEW else f"{by_id[i]['code']}: {by_id[i]['title']}")
        cur = by_id.get(pick, {})
        with st.form(f"action_{pick}"):
            code = st.text_input("Code (unique in this area)", value=cur.get("code", ""), max_chars=plans.MAX_CODE)
            title = st.text_input("Title", value=cur.get("title", ""), max_chars=plans.MAX_TITLE)
            aims = st.multiselect("Indicators it aims to move", ind_ids,
                                  default=[i for i in plans.split_ids(cur.get("indicator_ids")) if i in ind_ids],
                                  format_func=lambda i: f"{i}: {titles.get(i, '')}")
            lead = st.text_input("Lead (a team or role)", value=cur.get("lead", ""), max_chars=plans.MAX_TITLE)
            c1, c2, c3 = st.columns(3)
            start = c1.date_input("Start", value=cur.get("start_date") or dt.date.today(), format="DD/MM/YYYY")
            due = c2.date_input("Due", value=cur.get("due_date") or dt.date.today() + dt.timedelta(days=365),
                                format="DD/MM/YYYY")
            rating = c3.selectbox("Rating", plans.RATINGS, index=plans.RATINGS.index(cur.get("rating", "green")),
                                  format_func=lambda r: f"{plans.STATUS_SYMBOL[r]} {r.capitalize()}")
            milestones = st.text_area("Milestones (plain text)", value=cur.get("milestones", "") or "")
            actor = writer.actor or st.text_input("Your name", key=f"action_actor_{pick}")
            if st.form_submit_button("Save action"):
                try:
                    plans.save_action({"area_code": area, "code": code, "title": title, "indicator_ids": aims,
                                       "lead": lead, "start_date": start, "due_date": due, "rating": rating,
                                       "milestones": milestones}, actor or "", action_id=None if pick == NEW else pick)
                except plans.PlanError as e:
                    st.error(plain(e))
                else:
                    st.success("Saved.")
                    st.rerun()
    if by_id:
        with st.expander("Add a progress note"):
            with st.form("progress"):
                which = st.selectbox("Action", list(by_id), format_func=lambda i: f"{by_id[i]['code']}: {by_id[i]['title']}")
                quarter = st.text_input("Quarter", value=plans.quarter_of(dt.date.today()), help="e.g. 2024/25 Q3")
                text = st.text_area("Progress (plain text)", max_chars=plans.MAX_TEXT)
                rating = st.selectbox("Rating now", plans.RATINGS,
                                      format_func=lambda r: f"{plans.STATUS_SYMBOL[r]} {r.capitalize()}")
                actor = writer.actor or st.text_input("Your name", key="progress_actor")
                if st.form_submit_button("Add note"):
                    try:
                        plans.add_progress(which, quarter, text, rating, actor or "")
                    except plans.PlanError as e:
                        st.error(plain(e))
                    else:
                        st.success("Saved.")
                        st.rerun()
        with st.expander("Write an exception report (red, delayed or overdue actions)"):
            off_ids = [a["id"] for a in acts.iter_rows(named=True) if plans.needs_report(a, when)]
            if not off_ids:
                st.caption("No action is red, delayed or overdue.")
            else:
                with st.form("report"):
                    which = st.selectbox("Action", off_ids, format_func=lambda i: f"{by_id[i]['code']}: {by_id[i]['title']}")
                    analysis = st.text_area("Analysis of the problem (plain text)", max_chars=plans.MAX_TEXT)
                    options = st.text_area("Options for bringing it back on track (plain text)", max_chars=plans.MAX_TEXT)
                    actor = writer.actor or st.text_input("Your name", key="report_actor")
                    if st.form_submit_button("Save report"):
                        try:
                            plans.save_report(which, analysis, options, actor or "")
                        except plans.PlanError as e:
                            st.error(plain(e))
                        else:
                            st.success("Saved.")
                            st.rerun()

with st.expander("History of changes"):
    hist = plans.history(area)
    if hist.is_empty():
        st.caption("No changes yet.")
    else:
        st.table(hist.sort("occurred_at", descending=True).select(
            pl.col("occurred_at").dt.strftime("%d/%m/%Y %H:%M").alias("When"), pl.col("actor").alias("Who"),
            pl.col("kind").alias("What"), pl.col("what").alias("Item"), pl.col("action").alias("Change"),
        ).to_pandas().style.hide(axis="index"))
