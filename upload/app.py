"""LCP Scorecard supply upload: `streamlit run upload/app.py` (or `lcp upload`). Sign-in always required.

A supplier's contact signs in (streamlit-authenticator over the credentials file, pipelines.auth),
sees its own supplier's datasets only (the agreement saved in the restricted store), uploads a
supply per dataset and period, gets the validation report at once, loads a valid supply, and sees
its own supply history. Other roles are told this app is for data suppliers. There is no sign-up
and no self-service password reset: the scorecard team runs `lcp users add`.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # `streamlit run upload/app.py` from a checkout that is not installed
    sys.path.insert(0, str(_ROOT))

import streamlit as st  # noqa: E402

from upload import service, signin  # noqa: E402

st.set_page_config(page_title="LCP Scorecard: supply upload", page_icon=signin.favicon(), layout="centered")

account = signin.require_login()  # shows the sign-in form and stops the page until someone is signed in
user, authenticator = account.user, account.authenticator

who = user.username if user.name == user.username else f"{user.name} ({user.username})"


def header(subtitle: str) -> None:
    left, right = st.columns([5, 1], vertical_alignment="bottom")
    with left:
        st.title("Supply upload")
        st.caption("LCP Scorecard · Lincolnshire Locality Children's Partnerships")
    with right:
        authenticator.logout("Sign out", location="main", key="sign_out")
    if not st.session_state.get("authentication_status"):
        st.rerun()  # signed out just now: back to the sign-in form
    st.text(subtitle)


if user.role != "supplier" or not user.supplier:
    header(f"Signed in as {who}, role {user.role}")
    st.warning(
        "This app is for data suppliers: it lets a supplier's contact send their datasets to the scorecard. "
        "Your account has no supplier datasets. Analysts load supplies with `lcp ingest`; "
        "the published scorecard is on the dashboard.",
        icon=":material/info:",
    )
    st.stop()

try:
    agreement = service.supplier_agreement(user.supplier)
except service.UploadRefused as e:
    header(f"Signed in as {who}")
    st.error(service.plain(e), icon=":material/hourglass_top:")
    st.stop()

if agreement is None:
    header(f"Signed in as {who}")
    st.warning(
        f"There is no Data Specification Agreement on file for your organisation (supplier code "
        f"{service.plain(user.supplier)}) yet, so there is nothing to upload. Please contact the scorecard team.",
        icon=":material/info:",
    )
    st.stop()

header(f"Signed in as {who} for {agreement.supplier}")

st.markdown(
    "Send one file per dataset and period. Choose the period the file covers, then the file: it is "
    "checked at once and **nothing is stored until you press *Load this supply***. Loading a supply for a "
    "period that is already loaded replaces the earlier one."
)


def flash_key(dataset: str) -> str:
    return f"flash_{dataset}"


def uploader_key(dataset: str) -> str:
    n = st.session_state.get(f"uploads_{dataset}", 0)
    return f"file_{dataset}_{n}"


def show_problems(title: str, problems, kind: str) -> None:
    n = service.count(problems)
    (st.error if kind == "error" else st.warning)(title.format(n=n, s="" if n == 1 else "s"))
    st.dataframe(service.problems_frame(problems), hide_index=True, width="stretch",
                 column_config={"Row": st.column_config.NumberColumn("Row", format="%d")})


def dataset_section(ds) -> None:
    dataset = ds.dataset
    flash = st.session_state.pop(flash_key(dataset), None)
    if flash:
        st.success(flash, icon=":material/check_circle:")

    with st.expander("What the file must contain"):
        st.text(
            f"Format agreed: {ds.format.upper()} (CSV must be UTF-8, comma-separated). One row per record, "
            f"with a header row. Frequency: {ds.frequency}."
        )
        st.table(service.plain_frame(service.expected_columns(ds)).to_pandas().set_index("Column"))

    labels = service.period_options(ds)
    label = st.selectbox(
        "Period this file covers", labels, index=1 if len(labels) > 1 else 0,
        format_func=lambda lab: service.describe_period(ds, lab), key=f"period_{dataset}",
    )
    try:
        existing = service.existing_supply(agreement, dataset, label.replace("-", "/"))
    except service.UploadRefused as e:
        st.error(service.plain(e))
        return
    if existing:
        st.info(
            f"A supply for this period is already loaded ({service.plain(existing['file_name'])}, "
            f"{existing['rows']:,} rows, "
            f"{existing['loaded_at']:%d %b %Y}). Loading a new one replaces it.",
            icon=":material/info:",
        )
    upload = st.file_uploader(
        f"Supply file (CSV or XLSX, up to {service.MAX_UPLOAD_MB} MB)", type=list(service.EXTENSIONS),
        key=uploader_key(dataset), max_upload_size=service.MAX_UPLOAD_MB,
    )
    if upload is None:
        return
    data = upload.getvalue()
    try:
        name = service.supply_name(agreement, dataset, label, upload.name)
    except service.UploadRefused as e:
        st.error(service.plain(e), icon=":material/error:")
        return
    # checked once per file, name and version of the agreement (reruns reuse the report)
    version = hashlib.sha256(agreement.model_dump_json().encode()).hexdigest()
    checked = (name, hashlib.sha256(data).hexdigest(), version)
    cache_key = f"checked_{dataset}"
    cached = st.session_state.get(cache_key)
    if cached and cached[0] == checked:
        result = cached[1]
    else:
        with st.spinner("Checking the file..."):
            try:
                result = service.validate(agreement, name, data)
            except service.UploadRefused as e:
                st.error(service.plain(e), icon=":material/error:")
                return
            if result.outcome != "loaded":
                try:
                    service.record_rejection(result, actor=user.username)
                except Exception as e:  # the report and audit entry are for analysts; never block the supplier
                    print(f"upload app: could not record the rejection of {name}: {e}", file=sys.stderr)
        st.session_state[cache_key] = (checked, result)

    as_name = "" if upload.name == name else f" as {name}"
    st.text(f"Checked {upload.name}{as_name}: {result.rows_read:,} data rows.")
    rejected = result.outcome != "loaded"
    if rejected:
        show_problems("{n} error{s}: this file cannot be loaded. Nothing has been stored. "
                      "Correct the file and upload it again.", result.errors, "error")
    else:
        st.success(f"No errors: {result.rows:,} rows ready to load for {result.period}.",
                   icon=":material/check_circle:")
    if result.warnings:
        show_problems("{n} warning{s} as well:" if rejected else "{n} warning{s}: the file can still be loaded.",
                      result.warnings, "warning")
    if result.errors or result.warnings:
        st.caption("Row is the row number in your file as a spreadsheet shows it (the header is row 1). "
                   "Values are masked (every digit, and every letter after the first, shows as *).")
        st.download_button("Download this report (CSV)", service.report_csv(result),
                           file_name=f"{Path(name).stem}-report.csv", mime="text/csv", key=f"report_{dataset}")
    if result.outcome == "loaded" and st.button("Load this supply", type="primary", key=f"load_{dataset}"):
        with st.spinner("Loading..."):
            try:
                loaded = service.load(agreement, name, data, actor=user.username)
            except service.UploadRefused as e:
                st.error(service.plain(e), icon=":material/error:")
                return
        if loaded.outcome == "loaded":
            replaced = " It replaces the supply loaded earlier for this period." if loaded.replaced else ""
            st.session_state[flash_key(dataset)] = (
                f"Loaded {service.plain(name)}: {loaded.rows:,} rows stored for {loaded.period}.{replaced}"
            )
            st.session_state.pop(cache_key, None)
            st.session_state[f"uploads_{dataset}"] = st.session_state.get(f"uploads_{dataset}", 0) + 1
            st.rerun()
        else:
            show_problems("The supply could not be loaded ({n} error{s}); nothing has been stored.",
                          loaded.errors, "error")


datasets = agreement.datasets
if len(datasets) == 1:
    st.subheader(service.plain(datasets[0].title))
    st.caption(f"Dataset code: {service.plain(datasets[0].dataset)}")
    dataset_section(datasets[0])
else:
    for tab, ds in zip(st.tabs([service.plain(d.title) for d in datasets]), datasets):
        with tab:
            st.caption(f"Dataset code: {service.plain(ds.dataset)}")
            dataset_section(ds)

st.divider()
st.subheader("Your supplies")
try:
    history = service.own_history(user.supplier)
except service.UploadRefused as e:
    st.error(service.plain(e))
else:
    if history.height == 0:
        st.text("No supplies loaded yet.")
    else:
        st.dataframe(history, hide_index=True, width="stretch",
                     column_config={"Rows stored": st.column_config.NumberColumn(format="localized")})
st.caption(
    "Forgotten password or locked account? Contact the scorecard team: there is no self-service reset."
)
