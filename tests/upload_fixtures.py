"""Small fixtures for the upload app's tests: two suppliers' agreements in a restricted store, accounts.

`make_upload_data(data_dir)` writes two supplier folders (yos: yjs_disposals, lchs: ncmp), loads one
tiny supply of each with `ingest_dir` (which saves both agreements in the store), and writes a
credentials file with a yos supplier account, an lchs supplier account and an analyst.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from pipelines import auth
from pipelines.ingest import ingest_dir

PASSWORD = "yos-password-123"
OTHER_PASSWORD = "lchs-password-123"
ANALYST_PASSWORD = "analyst-password-1"

YOS = {
    "supplier": "Lincolnshire Youth Offending Service",
    "supplier_code": "yos",
    "data_protection_registration": "Z0000000",
    "contact": "data@example.org",
    "review_date": "2027-03-31",
    "datasets": [{
        "dataset": "yjs_disposals",
        "title": "Youth justice disposals",
        "indicators": ["NI 111"],
        "frequency": "annual",
        "format": "csv",
        "period_basis": "financial_year",
        "event_date_field": "disposal_date",
        "id_field": "young_person_id",
        "fields": [
            {"name": "young_person_id", "type": "string"},
            {"name": "disposal_date", "type": "date"},
            {"name": "disposal_type", "type": "category", "values": ["reprimand", "final_warning", "custody"]},
            {"name": "court_disposal", "type": "flag"},
        ],
        "metadata": {"description": "YOS disposals", "date_provided": "2024-05-01", "refresh_date": "2025-05-01"},
    }],
}

LCHS = {
    "supplier": "Lincolnshire Community Health Services NHS Trust",
    "supplier_code": "lchs",
    "data_protection_registration": "Z0000001",
    "contact": "data@example.org",
    "review_date": "2027-03-31",
    "datasets": [{
        "dataset": "ncmp",
        "title": "National Child Measurement Programme",
        "indicators": ["NI 55", "NI 56"],
        "frequency": "annual",
        "format": "csv",
        "period_basis": "academic_year",
        "event_date_field": "measurement_date",
        "id_field": "child_id",
        "fields": [
            {"name": "child_id", "type": "string"},
            {"name": "measurement_date", "type": "date"},
            {"name": "school_year", "type": "category", "values": ["R", "6"]},
            {"name": "bmi_centile", "type": "number", "min": 0, "max": 100},
        ],
        "metadata": {"description": "NCMP", "date_provided": "2024-09-30", "refresh_date": "2025-09-30"},
    }],
}

YOS_HEADER = "young_person_id,dob,gender,postcode,ethnicity,disposal_date,disposal_type,court_disposal"
YOS_2022 = f"{YOS_HEADER}\nYP0001,15/10/2008,M,DN17 3AP,1,10/06/2022,reprimand,N\n"
#: a good supply for 2023-24 (real Lincolnshire postcodes)
GOOD_2023 = (
    f"{YOS_HEADER}\n"
    "YP0001,15/10/2008,M,DN17 3AP,1,10/06/2023,reprimand,N\n"
    "YP0002,01/01/2008,F,LN11 0AA,14,31/03/2024,custody,Y\n"
).encode()
#: a bad supply for 2023-24: a gender, an ethnicity code and a date that cannot be right
BAD_2023 = (
    f"{YOS_HEADER}\n"
    "YP0001,15/10/2008,M,DN17 3AP,1,10/06/2023,reprimand,N\n"
    "YP0002,01/01/2008,X,LN11 0AA,33,31/13/2023,custody,Y\n"
).encode()
LCHS_2023 = (
    "child_id,dob,gender,postcode,ethnicity,measurement_date,school_year,bmi_centile\n"
    "C0001,01/02/2013,F,DN17 3AP,1,10/10/2023,R,55.5\n"
)


def make_upload_data(data_dir: Path, auth_file: Path | None = None) -> Path:
    """Store with both agreements and one supply each; accounts yos_upload, lchs_upload, ana. Returns auth file."""
    supplies = data_dir / "incoming"
    for agreement, name, text in ((YOS, "yjs_disposals_2022-23.csv", YOS_2022),
                                  (LCHS, "ncmp_2023-24.csv", LCHS_2023)):
        folder = supplies / agreement["supplier_code"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "agreement.yaml").write_text(yaml.safe_dump(agreement, sort_keys=False), encoding="utf-8")
        (folder / name).write_text(text, encoding="utf-8")
    results = ingest_dir(supplies, actor="test")
    assert all(r.outcome == "loaded" for r in results), [r.summary() for r in results]
    path = auth_file or data_dir / "auth" / "users.yaml"
    auth.add_or_update_user("yos_upload", "supplier", PASSWORD, "yos", display_name="Sam Taylor", path=path)
    auth.add_or_update_user("lchs_upload", "supplier", OTHER_PASSWORD, "lchs", path=path)
    auth.add_or_update_user("ana", "analyst", ANALYST_PASSWORD, path=path)
    return path
