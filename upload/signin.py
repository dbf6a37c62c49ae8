"""Sign-in for the upload app: streamlit-authenticator over the credentials file of pipelines.auth.

`require_login()` draws the sign-in form (no sign-up, no "forgot password") and stops the page until
someone is signed in; then it returns the signed-in account, re-read from the file on every run (so a
changed role, a removed or a locked account takes effect at once).

Lock-out: streamlit-authenticator refuses an account whose persisted `failed_login_attempts` has
reached `auth.MAX_FAILED_LOGINS`. It is given a copy of the credentials (not the file path), so it
never rewrites the file itself; each counter it changed during this run is persisted here with
`auth.record_login` (locked, atomic, 0600), which keeps a lock-out across restarts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth

from pipelines import auth
from upload.service import plain

#: this app's own sign-in cookie name (the dashboard login uses another)
COOKIE_SUFFIX = "_upload"
LOCKED = (
    "This account is locked after {n} failed sign-ins. Ask the scorecard team to unlock it "
    "(they set a new password for you)."
)
WRONG = "Incorrect user name or password."


@dataclass(frozen=True)
class Account:
    user: auth.User
    authenticator: Any


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
    try:
        data = auth.authenticator_config()
    except auth.AuthError as e:
        _intro()
        st.error(f"Sign-in is not available: {plain(e)}", icon=":material/error:")
        st.stop()
    creds = data["credentials"]
    cookie = data["cookie"]
    before = {u: int(e.get("failed_login_attempts") or 0) for u, e in creds["usernames"].items()}
    was_signed_in = bool(st.session_state.get("authentication_status"))

    if not was_signed_in:
        _intro()
    authenticator = stauth.Authenticate(
        creds,
        cookie_name=str(cookie.get("name") or auth.COOKIE_NAME) + COOKIE_SUFFIX,
        cookie_key=str(cookie["key"]),
        cookie_expiry_days=float(cookie.get("expiry_days") or 0),
        auto_hash=False,
        login_sleep_time=0,
    )
    locked = False
    try:
        authenticator.login(
            location="main",
            max_login_attempts=auth.MAX_FAILED_LOGINS,
            fields={"Form name": "Sign in", "Username": "User name", "Password": "Password", "Login": "Sign in"},
            key="sign_in",
        )
    except stauth.LoginError:  # only raised for a locked account (we use no captcha or user limits)
        locked = True
    for username, entry in creds["usernames"].items():  # persist what this attempt changed
        after = int(entry.get("failed_login_attempts") or 0)
        if after != before.get(username, 0):
            stored = auth.record_login(username, ok=after == 0)
            if stored is not None and stored.locked:
                locked = True

    status = st.session_state.get("authentication_status")
    if status:
        user = auth.get_user(st.session_state.get("username"))
        if user is None or user.locked:  # removed, or locked meanwhile (from another session)
            authenticator.logout(location="unrendered")
            message = LOCKED.format(n=auth.MAX_FAILED_LOGINS) if user else "This account is no longer active."
            st.error(message, icon=":material/lock:")
            st.stop()
        if not was_signed_in:
            st.rerun()  # draw the signed-in page without the form
        return Account(user, authenticator)

    if locked:
        st.error(LOCKED.format(n=auth.MAX_FAILED_LOGINS), icon=":material/lock:")
    elif status is False:
        st.error(WRONG, icon=":material/error:")
    st.caption("Forgotten password or locked account? Contact the scorecard team: there is no self-service reset.")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() does not return
