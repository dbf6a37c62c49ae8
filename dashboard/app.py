"""LCP Scorecard dashboard: `streamlit run dashboard/app.py` (or `lcp serve`).

Navigation is data: dashboard/pages.yaml lists the pages (file, title, icon, url_path). This entry
script sets the page config, checks that a published release exists (a friendly message if not), puts
the release id, date and the suppression rule in the sidebar, then runs the chosen page.
"""
from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # `streamlit run dashboard/app.py` from a checkout that is not installed
    sys.path.insert(0, str(_ROOT))

import streamlit as st  # noqa: E402

from dashboard import common  # noqa: E402

# The favicon is drawn here: a Material or emoji icon would make the browser fetch it from the internet
# (fonts.gstatic.com), and the dashboard runs without one.
st.set_page_config(page_title="LCP Scorecard", page_icon=common.favicon(), layout="wide")

pages = [
    st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p.default)
    for p in common.load_pages()
]
navigation = st.navigation(pages, position="sidebar")

key = common.require_release()
with st.sidebar:
    st.markdown("**LCP Scorecard**  \nLincolnshire Locality Children's Partnerships")
    common.postcode_search(key)
    common.footer(key)

navigation.run()
