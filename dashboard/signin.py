"""Sign-in shared by the dashboard (partner login) and the upload app: streamlit-authenticator over the
credentials file of pipelines.auth.

`require_login(intro, cookie_suffix=..., roles=...)` draws `intro()` and the sign-in form (no sign-up,
no "forgot password") and stops the page until someone is signed in; then it returns the signed-in
account, re-read from the file on every run (so a changed role, a removed or a locked account takes
effect at once). An account whose role is not in `roles` is signed out again and told why.

Lock-out: streamlit-authenticator refuses an account whose persisted `failed_login_attempts` has
reached `auth.MAX_FAILED_LOGINS`. It is given a copy of the credentials (not the file path), so it
never rewrites the file itself; each counter it changed during this run is persisted here with
`auth.record_login` (locked, atomic, 0600), which keeps a lock-out across restarts.

`signed_in_user(roles)` is the cheap check for code that runs after the gate (no widgets): the
account signed in in this session, if it still exists, is not locked and has one of `roles`.

Imports pipelines.auth and pipelines.text only (never the upload app: import-linter).
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth

from pipelines import auth
from pipelines.text import plain

LOCKED = (
    "This account is locked after {n} failed sign-ins. Ask the scorecard team to unlock it "
    "(they set a new password for you)."
)
WRONG = "Incorrect user name or password."
GONE = "This account is no longer active."
HELP = "Forgotten password or locked account? Contact the scorecard team: there is no self-service reset."
FIELDS = {"Form name": "Sign in", "Username": "User name", "Password": "Password", "Login": "Sign in"}


@dataclass(frozen=True)
class Account:
    user: auth.User
    authenticator: Any


def signed_in_user(roles: Collection[str] | None = None) -> auth.User | None:
    """The account signed in in this session (re-read from the credentials file), or None when nobody
    is, the account was removed or locked meanwhile, its role is not in `roles`, or the file cannot be read."""
    if not st.session_state.get("authentication_status"):
        return None
    try:
        user = auth.get_user(st.session_state.get("username"))
    except auth.AuthError:
        return None
    if user is None or user.locked or (roles is not None and user.role not in roles):
        return None
    return user


def require_login(
    intro: Callable[[], None],
    *,
    cookie_suffix: str,
    roles: Collection[str] | None = None,
    refused: str = "This account cannot sign in here.",
    form_key: str = "sign_in",
) -> Account:
    """The signed-in account; until there is one, `intro()`, the sign-in form and st.stop().

    `cookie_suffix` keeps each app's sign-in cookie apart (`auth.COOKIE_NAME` + suffix); `roles`: the
    roles allowed in (None: every role); `refused`: what an account of another role is told (may name
    `{role}`), after which it is signed out again.
    """
    try:
        data = auth.authenticator_config()
    except auth.AuthError as e:
        intro()
        st.error(f"Sign-in is not available: {plain(e)}", icon=":material/error:")
        st.stop()
    creds = data["credentials"]
    cookie = data["cookie"]
    before = {u: int(e.get("failed_login_attempts") or 0) for u, e in creds["usernames"].items()}
    was_signed_in = bool(st.session_state.get("authentication_status"))

    if not was_signed_in:
        intro()
    authenticator = stauth.Authenticate(
        creds,
        cookie_name=str(cookie.get("name") or auth.COOKIE_NAME) + cookie_suffix,
        cookie_key=str(cookie["key"]),
        cookie_expiry_days=float(cookie.get("expiry_days") or 0),
        auto_hash=False,
        login_sleep_time=0,
    )
    locked = False
    try:
        authenticator.login(location="main", max_login_attempts=auth.MAX_FAILED_LOGINS, fields=FIELDS,
                            key=form_key)
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
            st.error(LOCKED.format(n=auth.MAX_FAILED_LOGINS) if user else GONE, icon=":material/lock:")
            st.stop()
        if roles is not None and user.role not in roles:
            authenticator.logout(location="unrendered")
            if was_signed_in:  # the role changed while signed in: the form was not drawn in this run
                intro()
            st.error(refused.format(role=user.role), icon=":material/block:")
            st.caption(HELP)
            st.stop()
        if not was_signed_in:
            st.rerun()  # draw the signed-in page without the form
        return Account(user, authenticator)

    if locked:
        st.error(LOCKED.format(n=auth.MAX_FAILED_LOGINS), icon=":material/lock:")
    elif status is False:
        st.error(WRONG, icon=":material/error:")
    st.caption(HELP)
    st.stop()
    raise AssertionError("unreachable")  # st.stop() does not return
