"""The one configuration module. Imported by everything; imports nothing of ours.

Paths are functions, not constants, so that `LCP_DATA_DIR` set after import (tests, CLI) is honoured.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEO_DIR = ROOT / "geo"
SPECS_DIR = ROOT / "pipelines" / "specs"
DASHBOARD_DIR = ROOT / "dashboard"
UPLOAD_DIR = ROOT / "upload"

COUNTY_CODE = "E10000019"
COUNTY_NAME = "Lincolnshire"
AREA_LEVELS = ("ward", "district", "partnership", "county")

#: The protocol: "publish on 11 or more, suppress on 10 or less" (zero included).
DEFAULT_SUPPRESSION_THRESHOLD = 10
METHODS_VERSION = "2026.1"
#: How a withheld value is shown everywhere (GSS/DfE convention: c = confidential).
WITHHELD_SYMBOL = "c"

#: Appendix 5 of the protocol: ethnicity codes 1-20.
ETHNICITY_CODES: dict[int, str] = {
    1: "White - British",
    2: "White - Irish",
    3: "White - Traveller of Irish heritage",
    4: "White - Gypsy/Roma",
    5: "White - any other White background",
    6: "Mixed - White and Black Caribbean",
    7: "Mixed - White and Black African",
    8: "Mixed - White and Asian",
    9: "Mixed - any other mixed background",
    10: "Asian or Asian British - Indian",
    11: "Asian or Asian British - Pakistani",
    12: "Asian or Asian British - Bangladeshi",
    13: "Asian or Asian British - any other Asian background",
    14: "Black or Black British - Caribbean",
    15: "Black or Black British - African",
    16: "Black or Black British - any other Black background",
    17: "Chinese",
    18: "Any other ethnic group",
    19: "Parent/pupil preferred not to say",
    20: "Information not yet obtained",
}

ATTRIBUTION = (
    "Contains OS data © Crown copyright and database right 2025. Contains Royal Mail data © Royal Mail "
    "copyright and database right 2025. Contains National Statistics data © Crown copyright and database "
    "right 2025. Source: Office for National Statistics licensed under the Open Government Licence v3.0."
)
LICENCE = "Open Government Licence v3.0"


def data_dir() -> Path:
    return Path(os.environ.get("LCP_DATA_DIR", str(ROOT / "data"))).resolve()


def geo_dir() -> Path:
    """The geography the pipeline reads: `LCP_GEO_DIR`, else `<data dir>/geo/` when it holds one (the
    synthetic England of `lcp demo --scale national`), else the county's geo/ in the repository."""
    if os.environ.get("LCP_GEO_DIR"):
        return Path(os.environ["LCP_GEO_DIR"]).resolve()
    local = data_dir() / "geo"
    return local if (local / "hierarchy.csv").is_file() else GEO_DIR


def restricted_dir() -> Path:
    return data_dir() / "restricted"


def published_dir() -> Path:
    return data_dir() / "published"


def release_path() -> Path:
    return published_dir() / "scorecard.duckdb"


def draft_release_path() -> Path:
    """A release candidate (`lcp build --draft`): seen in the dashboard by analysts only, never published."""
    return published_dir() / "draft.duckdb"


def restricted_db_path() -> Path:
    return restricted_dir() / "store.duckdb"


def pseudonym_key_path() -> Path:
    return restricted_dir() / "pseudonym.key"


def suppression_threshold() -> int:
    return int(os.environ.get("LCP_SUPPRESSION_THRESHOLD", DEFAULT_SUPPRESSION_THRESHOLD))


def login_required() -> bool:
    return os.environ.get("LCP_LOGIN", "0") in {"1", "true", "yes"}


# ---------------------------------------------------------------- supplies governance (docs/supplies.md)
#: The protocol, section 7: "All data supplied to LCC will be retained for 5 years".
DEFAULT_RETENTION_YEARS = 5


def audit_log_path() -> Path:
    """The append-only, hash-chained audit log of every supply attempt, purge and correction."""
    return restricted_dir() / "audit.log"


def reports_dir() -> Path:
    """Validation reports, one folder per supplier (masked values only: they go back to the supplier)."""
    return data_dir() / "reports"


def working_dir() -> Path:
    return data_dir() / "working"


def working_db_path() -> Path:
    """The partnership's working data (corrections; later commentary, priorities and plans)."""
    return working_dir() / "working.duckdb"


def retention_years() -> int:
    """Years client-level records are kept (`LCP_RETENTION_YEARS`, default 5)."""
    raw = os.environ.get("LCP_RETENTION_YEARS", str(DEFAULT_RETENTION_YEARS))
    try:
        years = int(raw)
    except ValueError:
        raise ValueError(f"LCP_RETENTION_YEARS must be a whole number of years, not {raw!r}") from None
    if years < 1:
        raise ValueError(f"LCP_RETENTION_YEARS must be 1 or more, not {years}")
    return years


def edit_enabled() -> bool:
    """Whether the open dashboard (no login) lets users write commentary and see the draft release
    (`LCP_EDIT=1`); behind the login (`LCP_LOGIN=1`) the analyst role decides instead."""
    return os.environ.get("LCP_EDIT", "0").strip().lower() in {"1", "true", "yes"}
