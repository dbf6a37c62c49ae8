"""Ingest: validation (every problem at once), minimisation, pseudonymisation, all-or-nothing loading."""
from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
import yaml

from pipelines import config
from pipelines.ingest import IngestError, SupplyResult, ingest_dir, mask_value, person_key
from pipelines.restricted_store import RestrictedStore, pseudonym_key

# Real Lincolnshire postcodes (first rows of geo/postcodes.csv) and their wards.
PC1, WARD1 = "DN17 3AP", "E05009650"
PC2, WARD2 = "LN11 0AA", "E05009890"
OUT_OF_COUNTY = "SW1A 1AA"

YOS_AGREEMENT = {
    "supplier": "Lincolnshire Youth Offending Service",
    "supplier_code": "yos",
    "data_protection_registration": "Z0000000",
    "contact": "data@example.org",
    "review_date": "2026-03-31",
    "datasets": [
        {
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
                {"name": "offences", "type": "integer", "min": 1, "max": 50, "required": False},
                {"name": "note", "type": "string", "required": False},
            ],
            "metadata": {"description": "YOS disposals", "date_provided": "2024-05-01",
                         "refresh_date": "2025-05-01"},
        },
    ],
}

LCHS_AGREEMENT = {
    "supplier": "Lincolnshire Community Health Services NHS Trust",
    "supplier_code": "lchs",
    "data_protection_registration": "Z0000001",
    "contact": "data@example.org",
    "review_date": "2026-03-31",
    "datasets": [
        {
            "dataset": "ncmp",
            "title": "National Child Measurement Programme",
            "indicators": ["NI 55", "NI 56"],
            "frequency": "annual",
            "format": "xlsx",
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
        },
    ],
}

YOS_HEADER = ["young_person_id", "dob", "gender", "postcode", "ethnicity", "disposal_date", "disposal_type",
              "court_disposal", "offences", "note"]
GOOD_YOS = [
    ["YP0001", "15/10/2010", "M", PC1, "1", "10/06/2023", "reprimand", "N", "1", "first"],
    ["YP0002", "01/01/2008", "f", "ln110aa", "14", "31/03/2024", "Custody", "y", "", ""],
    ["YP0003", "29/02/2008", " F ", PC2, "20", "01/04/2023", "final_warning", "N", "3", "x"],
]


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "data"
    monkeypatch.setenv("LCP_DATA_DIR", str(d))
    return d


def write_agreement(folder: Path, agreement: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agreement.yaml").write_text(yaml.safe_dump(agreement, sort_keys=False), encoding="utf-8")


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, sep: str = ",", encoding: str = "utf-8",
              bom: bool = False) -> Path:
    text = "\n".join(sep.join(r) for r in [header, *rows]) + "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def yos_supply(root: Path, rows=GOOD_YOS, name="yjs_disposals_2023-24.csv", header=YOS_HEADER, **kw) -> Path:
    folder = root / "yos"
    write_agreement(folder, YOS_AGREEMENT)
    return write_csv(folder / name, header, rows, **kw)


def by_file(results: list[SupplyResult]) -> dict[str, SupplyResult]:
    return {Path(r.file).name: r for r in results}


def snapshot(store: RestrictedStore):
    sup = store.supplies().drop("loaded_at").sort("supply_id")
    return sup.to_dicts(), {d: store.scan(d).sort(pl.all()).to_dicts() for d in store.datasets()}


# ---------------------------------------------------------------- good supplies
def test_good_csv_loads_typed_minimised_rows(tmp_path):
    yos_supply(tmp_path / "in", bom=True)
    with RestrictedStore() as store:
        [res] = ingest_dir(tmp_path / "in", store)
        assert res.outcome == "loaded", res.errors
        assert (res.rows, res.dataset, res.period, res.errors) == (3, "yjs_disposals", "2023/24", [])
        df = store.scan("yjs_disposals").sort("event_date")
        sup = store.supplies()
    assert df.height == 3
    assert df.schema["event_date"] == pl.Date and df.schema["age_at_31aug"] == pl.Int32
    assert df.schema["offences"] == pl.Int64 and df.schema["ethnicity"] == pl.Int32
    first = df.row(0, named=True)  # YP0003: 29/02/2008, event 01/04/2023
    assert first["age_at_event"] == 15 and first["age_at_31aug"] == 14 and first["sex"] == "F"
    yp1 = df.filter(pl.col("event_date") == dt.date(2023, 6, 10)).row(0, named=True)
    # dob 15/10/2010, event 10/06/2023: 12 at the event; 11 on 31/08/2022 (the 31 August before it)
    assert (yp1["age_at_event"], yp1["age_at_31aug"], yp1["ward_code"]) == (12, 11, WARD1)
    # and 13 on 31/03/2024 (the 31 March ending the financial year); the 29 February child is 16 then
    assert (yp1["age_at_31mar"], first["age_at_31mar"]) == (13, 16)
    assert (yp1["sex"], yp1["ethnicity"], yp1["disposal_type"], yp1["court_disposal"]) == ("M", 1, "reprimand", "N")
    yp2 = df.filter(pl.col("ethnicity") == 14).row(0, named=True)
    assert (yp2["ward_code"], yp2["disposal_type"], yp2["court_disposal"], yp2["offences"]) == (
        WARD2, "custody", "Y", None)
    assert yp2["person_key"] == person_key(pseudonym_key(), "yos", "YP0002")
    assert sup.height == 1
    s = sup.row(0, named=True)
    assert s["supply_id"] == res.supply_id and s["rows"] == 3 and s["period"] == "2023/24"
    assert (s["supplier_code"], s["record_level"], s["file_name"]) == ("yos", "client", "yjs_disposals_2023-24.csv")
    assert s["date_provided"] == dt.date(2024, 5, 1) and s["refresh_date"] == dt.date(2025, 5, 1)
    assert len(s["file_sha256"]) == 64


def test_good_xlsx_loads(tmp_path):
    folder = tmp_path / "in" / "lchs"
    write_agreement(folder, LCHS_AGREEMENT)
    wb = xlsxwriter.Workbook(str(folder / "ncmp_2023-24.xlsx"))
    ws = wb.add_worksheet()
    datefmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_row(0, 0, ["child_id", "dob", "gender", "postcode", "ethnicity", "measurement_date", "school_year",
                        "bmi_centile"])
    ws.write_row(1, 0, ["C1", "15/10/2010", "M", PC1, 1, "01/09/2023", "6", 97.5])
    ws.write_row(2, 0, ["C2", "02/02/2019", "F", PC2, 5, None, "R", 40])
    ws.write_datetime(2, 5, dt.datetime(2024, 8, 31), datefmt)  # a real Excel date cell
    ws.write_row(3, 0, ["C3", "02/02/2019", "F", OUT_OF_COUNTY, 5, "01/10/2023", "r", "50"])
    wb.close()
    with RestrictedStore() as store:
        [res] = ingest_dir(tmp_path / "in", store)
        assert res.outcome == "loaded", res.errors
        df = store.scan("ncmp").sort("event_date")
    assert res.rows == 2 and res.rows_read == 3
    assert [(w.row, w.field) for w in res.warnings] == [(4, "postcode")]
    assert df["bmi_centile"].to_list() == [97.5, 40.0] and df.schema["bmi_centile"] == pl.Float64
    assert df["school_year"].to_list() == ["6", "R"]
    assert df["event_date"].to_list() == [dt.date(2023, 9, 1), dt.date(2024, 8, 31)]
    # 15/10/2010 on 31/08/2023 -> 12; 02/02/2019 on 31/08/2024 -> 5
    assert df["age_at_31aug"].to_list() == [12, 5]
    assert df["ward_code"].to_list() == [WARD1, WARD2]


def test_store_holds_no_identifiers(tmp_path):
    yos_supply(tmp_path / "in")
    with RestrictedStore() as store:
        [res] = ingest_dir(tmp_path / "in", store)
        assert res.outcome == "loaded"
        df = store.scan("yjs_disposals")
        sup = store.supplies()
    for forbidden in ("dob", "postcode", "young_person_id", "gender"):
        assert forbidden not in df.columns
    raw = config.restricted_db_path().read_bytes()
    wal = config.restricted_db_path().with_name("store.duckdb.wal")
    raw += wal.read_bytes() if wal.exists() else b""
    for value in (b"YP0001", b"YP0002", b"15/10/2010", b"2010-10-15", PC1.encode(), b"LN11 0AA"):
        assert value not in raw
    text = str(df.to_dicts()) + str(sup.to_dicts())
    assert "YP000" not in text and PC1 not in text


def test_person_key_stable_across_supplies(tmp_path):
    root = tmp_path / "in"
    yos_supply(root)
    rows_next = [["YP0001", "15/10/2010", "M", PC1, "1", "10/06/2024", "custody", "Y", "2", ""]]
    write_csv(root / "yos" / "yjs_disposals_2024-25.csv", YOS_HEADER, rows_next)
    with RestrictedStore() as store:
        results = ingest_dir(root, store)
        assert [r.outcome for r in results] == ["loaded", "loaded"]
        df = store.scan("yjs_disposals")
    keys = df.filter(pl.col("age_at_31aug").is_in([11, 12]) & (pl.col("sex") == "M"))["person_key"].unique()
    assert keys.len() == 1 and len(keys[0]) == 64
    assert df["person_key"].n_unique() == 3


# ---------------------------------------------------------------- rejected supplies
BAD_CASES = {
    "bad_date": (0, "dob", "31/02/2011", 2, "not a date in DD/MM/YYYY"),
    "bad_date_shape": (0, "dob", "2011-02-01", 2, "not a date in DD/MM/YYYY"),
    "future_dob": (0, "dob", "01/01/2099", 2, "future"),
    "too_old": (0, "dob", "01/01/1990", 2, "over 25"),
    "gender": (1, "gender", "X", 3, "not M or F"),
    "postcode": (2, "postcode", "NOTAPC", 4, "not a valid UK postcode"),
    "ethnicity": (0, "ethnicity", "21", 2, "1-20"),
    "formula": (1, "note", "=cmd()", 3, "spreadsheet formula"),
    "outside_period": (2, "disposal_date", "01/04/2024", 4, "outside the period 2023/24"),
    "category": (0, "disposal_type", "caution", 2, "not one of"),
    "flag": (0, "court_disposal", "maybe", 2, "not Y or N"),
    "integer_max": (0, "offences", "51", 2, "above the maximum 50"),
    "integer": (0, "offences", "1.5", 2, "not a whole number"),
    "required": (1, "young_person_id", "", 3, "required value missing"),
}


@pytest.fixture
def loaded(tmp_path):
    """A store holding one good supply; returns (supply root, before-snapshot)."""
    root = tmp_path / "in"
    yos_supply(root)
    with RestrictedStore() as store:
        assert ingest_dir(root, store)[0].outcome == "loaded"
        before = snapshot(store)
    return root, before


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_value_rejects_whole_supply(loaded, case):
    root, before = loaded
    row, fld, value, line, rule = BAD_CASES[case]
    rows = [list(r) for r in GOOD_YOS]
    rows[row][YOS_HEADER.index(fld)] = value
    yos_supply(root, rows)
    with RestrictedStore() as store:
        [res] = ingest_dir(root, store)
        after = snapshot(store)
    assert res.outcome == "rejected" and res.supply_id is None
    assert {(p.row, p.field) for p in res.errors} == {(line, fld)}, res.errors
    assert any(rule in p.rule for p in res.errors)
    assert after == before
    msg = str(res.error())
    assert "\n" not in msg and f"row {line}" in msg and f"field {fld}" in msg and "yjs_disposals_2023-24.csv" in msg
    if value:
        text = msg.replace(str(root), "")  # the temporary path may hold the same digits
        assert value not in text or len(value) == 1  # values are masked


def test_all_problems_reported_at_once(tmp_path):
    rows = [list(r) for r in GOOD_YOS]
    rows[0][YOS_HEADER.index("dob")] = "12/3/2015"
    rows[0][YOS_HEADER.index("gender")] = "X"
    rows[2][YOS_HEADER.index("postcode")] = "NOTAPC"
    yos_supply(tmp_path / "in", rows)
    [res] = ingest_dir(tmp_path / "in")
    assert [(p.row, p.field) for p in res.errors] == [(2, "dob"), (2, "gender"), (4, "postcode")]
    assert res.errors[0].value_masked == "**/*/****" and res.errors[2].value_masked == "N*****"
    assert str(res.error()).startswith(f"{res.file}: 3 errors; first: row 2, field dob: not a date in DD/MM/YYYY")
    with RestrictedStore() as store:
        assert store.supplies().height == 0 and store.datasets() == []


FILE_CASES = {
    "missing_column": lambda root: yos_supply(root, [r[:4] + r[5:] for r in GOOD_YOS],
                                              header=YOS_HEADER[:4] + YOS_HEADER[5:]),
    "semicolon": lambda root: yos_supply(root, sep=";"),
    "latin1": lambda root: yos_supply(root, [GOOD_YOS[0], GOOD_YOS[1][:9] + ["café"]], encoding="latin-1"),
    "empty": lambda root: (yos_supply(root), (root / "yos" / "yjs_disposals_2023-24.csv").write_bytes(b"")),
    "header_only": lambda root: yos_supply(root, []),
    "ragged": lambda root: yos_supply(root, [GOOD_YOS[0], GOOD_YOS[1] + ["extra"]]),
    "unknown_dataset": lambda root: yos_supply(root, name="arrests_2023-24.csv"),
    "bad_period_label": lambda root: yos_supply(root, name="yjs_disposals_2023-25.csv"),
    "bad_name": lambda root: yos_supply(root, name="yjs disposals.csv"),
}
FILE_EXPECT = {
    "missing_column": ("ethnicity", 1, "missing column"),
    "semicolon": ("dob", 1, "comma-separated"),
    "latin1": ("note", 3, "not UTF-8"),
    "empty": (None, None, "empty"),
    "header_only": (None, None, "no data rows"),
    "ragged": (None, 3, "11 fields"),
    "unknown_dataset": (None, None, "not in the agreement"),
    "bad_period_label": (None, None, "YYYY-YY"),
    "bad_name": (None, None, "file name"),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_bad_file_rejected_store_unchanged(loaded, case):
    root, before = loaded
    (root / "yos" / "yjs_disposals_2023-24.csv").unlink()
    FILE_CASES[case](root)
    with RestrictedStore() as store:
        [res] = ingest_dir(root, store)
        after = snapshot(store)
    assert res.outcome == "rejected"
    fld, line, rule = FILE_EXPECT[case]
    first = res.errors[0]
    assert (first.field, first.row) == (fld, line) and rule in first.rule, res.errors
    if case == "semicolon":
        assert {p.field for p in res.errors} == set(YOS_HEADER)  # one error per missing column
    assert after == before
    assert "\n" not in str(res.error())


def test_other_supplies_still_load(tmp_path):
    root = tmp_path / "in"
    yos_supply(root)
    bad = [list(r) for r in GOOD_YOS]
    bad[0][1] = "xx"
    write_csv(root / "yos" / "yjs_disposals_2022-23.csv", YOS_HEADER, bad)
    results = by_file(ingest_dir(root))
    assert results["yjs_disposals_2023-24.csv"].outcome == "loaded"
    assert results["yjs_disposals_2022-23.csv"].outcome == "rejected"
    with RestrictedStore() as store:
        assert store.supplies()["period"].to_list() == ["2023/24"]


def test_replacing_a_supply_replaces_its_rows(tmp_path):
    root = tmp_path / "in"
    yos_supply(root)
    write_csv(root / "yos" / "yjs_disposals_2022-23.csv", YOS_HEADER,
              [["YP9", "01/01/2010", "M", PC1, "1", "01/05/2022", "custody", "Y", "1", ""]])
    with RestrictedStore() as store:
        first = by_file(ingest_dir(root, store))
        (root / "yos" / "yjs_disposals_2022-23.csv").unlink()
        yos_supply(root, GOOD_YOS[:1])
        [second] = ingest_dir(root, store)
        df = store.scan("yjs_disposals")
        sup = store.supplies()
    assert second.outcome == "loaded" and second.rows == 1
    assert sorted(sup["period"].to_list()) == ["2022/23", "2023/24"]
    assert first["yjs_disposals_2023-24.csv"].supply_id not in sup["supply_id"].to_list()
    assert df.height == 2
    assert df.filter(pl.col("supply_id") == second.supply_id).height == 1


def test_out_of_county_postcode_is_a_warning(tmp_path):
    rows = [list(r) for r in GOOD_YOS]
    rows[1][YOS_HEADER.index("postcode")] = "sw1a1aa"
    yos_supply(tmp_path / "in", rows)
    [res] = ingest_dir(tmp_path / "in")
    assert res.outcome == "loaded" and res.errors == []
    assert res.rows == 2 and res.rows_read == 3
    assert [(w.row, w.field, w.value_masked) for w in res.warnings] == [(3, "postcode", "s******")]


def test_new_agreement_field_adds_a_column(tmp_path):
    root = tmp_path / "in"
    yos_supply(root)
    with RestrictedStore() as store:
        ingest_dir(root, store)
        agreement = yaml.safe_load(yaml.safe_dump(YOS_AGREEMENT))
        agreement["datasets"][0]["fields"].append({"name": "risk_score", "type": "number", "required": False})
        write_agreement(root / "yos", agreement)
        write_csv(root / "yos" / "yjs_disposals_2024-25.csv", YOS_HEADER + ["risk_score"],
                  [["YP7", "01/01/2010", "M", PC1, "1", "01/05/2024", "custody", "Y", "1", "", "2.5"]])
        results = by_file(ingest_dir(root, store))
        assert results["yjs_disposals_2023-24.csv"].outcome == "rejected"  # now lacks risk_score
        assert results["yjs_disposals_2024-25.csv"].outcome == "loaded"
        df = store.scan("yjs_disposals")
    assert df.schema["risk_score"] == pl.Float64
    assert df["risk_score"].drop_nulls().to_list() == [2.5] and df.height == 4


def test_bad_agreement_raises_naming_file_and_field(tmp_path):
    root = tmp_path / "in"
    yos_supply(root)
    bad = yaml.safe_load(yaml.safe_dump(YOS_AGREEMENT))
    bad["datasets"][0]["period_basis"] = "calendar_year"
    write_agreement(root / "yos", bad)
    with pytest.raises(IngestError) as e:
        ingest_dir(root)
    assert "agreement.yaml" in str(e.value) and "period_basis" in str(e.value)
    assert not config.restricted_db_path().exists()


def test_permissions(tmp_path):
    yos_supply(tmp_path / "in")
    ingest_dir(tmp_path / "in")
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(config.restricted_dir()) == 0o700
    assert mode(config.restricted_db_path()) == 0o600
    assert mode(config.pseudonym_key_path()) == 0o600
    assert len(config.pseudonym_key_path().read_bytes()) == 32
    assert pseudonym_key() == config.pseudonym_key_path().read_bytes()


def test_store_rolls_back_on_failure(tmp_path):
    yos_supply(tmp_path / "in")
    with RestrictedStore() as store:
        ingest_dir(tmp_path / "in", store)
        before = snapshot(store)
        meta = store.supplies().row(0, named=True)
        bad = pl.DataFrame({"person_key": ["k"], "event_date": ["not a date"]})  # String into a DATE column
        with pytest.raises(Exception):
            store.replace_supply(meta, bad)
        assert snapshot(store) == before


def test_mask_value():
    assert mask_value("12/03/2015") == "**/**/****"
    assert mask_value("LN11 1PL") == "L*** ***"
    assert mask_value("=cmd()") == "=***()"
    assert mask_value("0\n0\tx\x00") == "*?*?*?"  # one line, whatever was sent


def test_header_problems_and_unreadable_xlsx(tmp_path):
    root = tmp_path / "in"
    yos_supply(root, header=YOS_HEADER[:-1] + ["DOB"])  # 'dob' twice (case-insensitive)
    folder = tmp_path / "in2" / "lchs"
    write_agreement(folder, LCHS_AGREEMENT)
    (folder / "ncmp_2023-24.xlsx").write_bytes(b"dob,gender\n")
    [dup] = ingest_dir(root)
    [xls] = ingest_dir(tmp_path / "in2")
    assert dup.outcome == "rejected" and (dup.errors[0].row, dup.errors[0].field) == (1, "dob")
    assert xls.outcome == "rejected" and "not a readable XLSX" in xls.errors[0].rule


def test_aggregate_supply(tmp_path):
    """A short check here; every rule of aggregate supplies: tests/test_aggregate.py."""
    from pipelines import geography

    agreement = yaml.safe_load(yaml.safe_dump(YOS_AGREEMENT))
    ds = agreement["datasets"][0]
    for k in ("fields", "event_date_field", "id_field"):
        del ds[k]
    ds.update(record_level="aggregate", denominator=True)
    folder = tmp_path / "in" / "yos"
    write_agreement(folder, agreement)
    ward = geography.hierarchy()["ward_code"][0]
    header = ["area_code", "period", "breakdown", "numerator", "denominator"]
    write_csv(folder / "yjs_disposals_2023-24.csv", header,
              [[ward, "2023/24", "", "3", "10"], [ward, "2023-24", "sex=f", "1", "4"], [ward, "2023/24", "sex=M", "2", "6"]])
    [ok] = ingest_dir(tmp_path / "in")
    assert ok.outcome == "loaded" and ok.rows == 3, ok.errors
    write_csv(folder / "yjs_disposals_2023-24.csv", header,
              [["E99999999", "2023/24", "", "3", "10"], [ward, "2022/23", "", "50", "40"]])
    [bad] = ingest_dir(tmp_path / "in")
    assert [(p.row, p.field) for p in bad.errors] == [(2, "area_code"), (3, "period"), (3, "numerator")]
    with RestrictedStore() as store:
        df = store.scan("yjs_disposals").sort("breakdown")
        assert store.supplies()["record_level"].to_list() == ["aggregate"]
    assert df["breakdown"].to_list() == ["all", "sex=F", "sex=M"] and set(df["area_level"]) == {"ward"}
    assert df["numerator"].to_list() == [3, 1, 2] and set(df["period"]) == {"2023/24"}
