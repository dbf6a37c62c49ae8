"""Sign-in for the upload app: the shared sign-in of dashboard.signin (streamlit-authenticator over the
credentials file of pipelines.auth, lock-out persisted), with this app's introduction and cookie.

`require_login()` draws the sign-in form (no sign-up, no "forgot password") and stops the page until
someone is signed in; then it returns the signed-in account, re-read from the file on every run. Every
role may sign in here: the app itself tells viewers and analysts that it is for data suppliers.
"""
from __future__ import annotations

import streamlit as st

from dashboard import signin as shared
from dashboard.signin import LOCKED, WRONG, Account

__all__ = ["COOKIE_SUFFIX", "LOCKED", "WRONG", "Account", "favicon", "require_login"]

#: this app's own sign-in cookie name (the dashboard login uses another)
COOKIE_SUFFIX = "_upload"


@st.cache_resource(show_spinner=False)
def favicon():
    """A small local favicon (a blue tile with an upward arrow): the browser fetches nothing from outside."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((2, 2, 61, 61), radius=12, fill="#0B5CAD")
    draw.polygon([(32, 10), (52, 32), (40, 32), (40, 52), (24, 52), (24, 32), (12, 32)], fill="#FFFFFF")
    return img


def _intro() -> None:
    st.title("Supply upload")
    st.caption("LCP Scorecard · Lincolnshire Locality Children's Partnerships")
    st.markdown(
        "This page is for **data suppliers** to the LCP Scorecard. Sign in with the account the scorecard "
        "team set up for you to send your organisation's data supplies."
    )


def require_login() -> Account:
    return shared.require_login(_intro, cookie_suffix=COOKIE_SUFFIX, roles=None)
