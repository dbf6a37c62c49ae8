"""LCP Scorecard dashboard: `streamlit run dashboard/app.py` (or `lcp serve`).

Navigation is data: dashboard/pages.yaml lists the pages (file, title, icon, url_path). This entry
script sets the page config, then, behind the partner login (`LCP_LOGIN=1`, `lcp serve --login`), shows
only the sign-in form until a viewer or analyst is signed in; checks that a published release exists (a
friendly message if not), puts who is signed in (and Sign out), the analysts' "Show draft release"
toggle, the release id, date and the suppression rule in the sidebar, then runs the chosen page.
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
# Behind the login, the page menu is hidden until someone is signed in (the gate then stops the run).
signed_in = not common.login_on() or common.current_user() is not None
navigation = st.navigation(pages, position="sidebar" if signed_in else "hidden")

account = common.require_access()  # the sign-in form (and st.stop) until a viewer or analyst is signed in
with st.sidebar:
    common.account_box(account)
    common.draft_toggle()  # analysts only: before the release is chosen, so that it applies to this run
key = common.require_release(banner=False)
with st.sidebar:
    st.markdown("**LCP Scorecard**  \nLincolnshire Locality Children's Partnerships")
    common.postcode_search(key)
    common.footer(key)

navigation.run()
