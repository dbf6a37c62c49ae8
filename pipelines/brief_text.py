"""The words every brief carries (PDF, PowerPoint and PNG say the same things), and the brief's error.

Light on purpose (imports only `pipelines.config`): `pipelines.commands_brief` imports it for its
USER_ERRORS without pulling in reportlab, python-pptx or plotly.
"""
from __future__ import annotations

import datetime as dt
import re

from pipelines import config

FORMATS = (".pdf", ".pptx", ".png")
#: Print resolution of the PNG brief (the PDF page rasterised by poppler's pdftoppm).
PNG_DPI = 150
#: How many exceptions the page lists (the rest are named in one line).
TOP_EXCEPTIONS = 5


class BriefError(ValueError):
    """A problem the user can fix (unknown area, bad suffix, a missing tool); printed as one line."""


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def clean_text(value) -> str:
    """Free text made safe to draw: control characters (which XML, hence PDF markup and PowerPoint, cannot
    hold) become spaces. Nothing else changes: markup characters are escaped where the text is drawn."""
    return _NOT_XML.sub(" ", str(value if value is not None else ""))


def date_text(value) -> str:
    """'26 November 2026' for a date or datetime; the value as text otherwise."""
    if isinstance(value, (dt.datetime, dt.date)):
        return f"{value.day} {value:%B %Y}"
    return str(value) if value not in (None, "") else "unknown date"


def suppression_note(threshold: int = config.DEFAULT_SUPPRESSION_THRESHOLD) -> str:
    return (
        f"Figures for {threshold} or fewer children are withheld ({config.WITHHELD_SYMBOL}), "
        "as are figures that would reveal them."
    )


def method_note(methods_version: str | None = None) -> str:
    version = f" Methods version {methods_version}; full methods in docs/methods.md." if methods_version else ""
    return (
        "Each value is the latest period published for the indicator. 95% confidence intervals: Wilson score "
        "method for percentages, Byar's method for rates (exact Poisson below 10 events). RAG compares the area "
        "with England: green where the whole 95% interval is on the better side of England's value, red where it "
        "is wholly on the worse side, amber where it overlaps England; where the indicator has a local target, "
        "green also needs the target met within its tolerance and red also needs it missed beyond it (each "
        "indicator's rule is on the dashboard's Data and methods page). Direction of travel compares with the "
        "previous period and counts only a statistically significant change (95% level), so an arrow is never "
        "chance alone. Quartile ranks the area among areas of the same kind, 1 = best, whichever way is better "
        f"for the indicator.{version}"
    )


def attribution() -> str:
    return f"{config.ATTRIBUTION} Published under the {config.LICENCE}."


def source_line(release_id: str, built_at) -> str:
    """The chart source line: 'Source: LCP Scorecard release <id>, built <date>'."""
    return f"Source: LCP Scorecard release {release_id}, built {date_text(built_at)}"


def polarity_text(polarity: str | None) -> str:
    return {"lower_better": "lower is better", "higher_better": "higher is better"}.get(
        polarity or "", "no judgement of better or worse"
    )
