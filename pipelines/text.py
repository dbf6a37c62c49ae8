"""Text helpers shared by the apps (no streamlit here).

`plain(text)`: text to put inside Streamlit markdown (messages, labels) so that it shows as typed.
"""
from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def plain(text: object) -> str:
    """Text to put inside Streamlit markdown (messages, labels) so that it shows as typed: every ASCII
    punctuation character is backslash-escaped (CommonMark), so no emphasis, link, image, directive
    (:material/...:, :red[...]), math ($) or HTML can come from a file name, an agreement's title or
    an account's name."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))
