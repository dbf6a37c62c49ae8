"""pipelines.demo: synthetic supplies, their agreements, and the realism the pipeline relies on."""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines import geography
from pipelines.config import GEO_DIR
from pipelines.demo import write_demo
from pipelines.specs import COMMON_FIELDS, load_agreement

PERIODS = ("2020-21", "2021-22", "2022-23", "2023-24", "2024-25")
EXPECTED = {  # supplier folder -> (dataset, format, period_basis, id field, event date field, other fields)
    "lchs": ("ncmp", "xlsx", "academic_year", "child_id", "measurement_date", ["school_year", "bmi_centile"]),
    "ulh": ("injury_admissions", "csv", "financial_year", "episode_id", "admission_date",
            ["admission_method", "cause"]),
    "yos": ("yjs_disposals", "csv", "financial_year", "young_person_id", "disposal_date",
            ["disposal_type", "court_disposal", "first_time_entrant"]),
}
COURT = {"referral_order", "fine", "community_sentence", "custody"}


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo") / "supplies"
    return out, write_demo(out, seed=2026)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def _read(path: Path) -> pl.DataFrame:
    """A supply file as the supplier sent it, every column as text."""
    if path.suffix == ".xlsx":
        return pl.read_excel(path, infer_schema_length=0)
    return pl.read_csv(path, infer_schema_length=0)


def _age(dob: pl.Expr, at: pl.Expr) -> pl.Expr:
    def md(e: pl.Expr) -> pl.Expr:  # month() and day() are Int8: widen before * 100
        return e.dt.month().cast(pl.Int32) * 100 + e.dt.day().cast(pl.Int32)

    return (at.dt.year() - dob.dt.year()) - (md(at) < md(dob)).cast(pl.Int32)


def _prior_31aug(d: pl.Expr) -> pl.Expr:
    return pl.date(pl.when(d.dt.month() >= 9).then(d.dt.year()).otherwise(d.dt.year() - 1), 8, 31)


@pytest.fixture(scope="module")
def frames(demo) -> dict[str, pl.DataFrame]:
    """dataset -> all periods stacked, with `period`, parsed `dob_d`/`event_d`, ages, and the ward."""
    out, _ = demo
    pcs = geography.postcodes().select("postcode", "ward_code", "district_code")
    result = {}
    for code, (dataset, fmt, _basis, _id, event, _fields) in EXPECTED.items():
        parts = [
            _read(out / code / f"{dataset}_{p}.{fmt}").with_columns(period=pl.lit(p)) for p in PERIODS
        ]
        df = pl.concat(parts).with_columns(
            dob_d=pl.col("dob").str.strptime(pl.Date, "%d/%m/%Y", strict=False),
            event_d=pl.col(event).str.strptime(pl.Date, "%d/%m/%Y", strict=False),
        )
        df = df.with_columns(
            age=_age(pl.col("dob_d"), pl.col("event_d")),
            age_31aug=_age(pl.col("dob_d"), _prior_31aug(pl.col("event_d"))),
        ).join(pcs, on="postcode", how="left")
        result[dataset] = df
    return result


# ---------------------------------------------------------------- layout, determinism, agreements
def test_summary_and_layout(demo):
    out, summary = demo
    assert summary["suppliers"] == 3
    assert summary["files"] == 15
    assert summary["out"] == str(out)
    assert 60_000 <= summary["rows"] <= 130_000
    for code, (dataset, fmt, *_rest) in EXPECTED.items():
        names = sorted(p.name for p in (out / code).iterdir())
        assert names == ["agreement.yaml"] + [f"{dataset}_{p}.{fmt}" for p in PERIODS]
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPECTED)


def test_rows_total_matches_files(demo, frames):
    _, summary = demo
    assert sum(df.height for df in frames.values()) == summary["rows"]


def test_same_seed_byte_identical_and_other_seed_differs(demo, tmp_path):
    out, summary = demo
    again = write_demo(tmp_path / "again", seed=2026)
    assert again["rows"] == summary["rows"]
    assert _digests(tmp_path / "again") == _digests(out)
    other = write_demo(tmp_path / "other", seed=7)
    a, b = _digests(out), _digests(tmp_path / "other")
    assert a.keys() == b.keys()
    data_files = [k for k in a if not k.endswith("agreement.yaml")]
    assert all(a[k] != b[k] for k in data_files)
    assert other["rows"] != summary["rows"]


def test_scales():
    with pytest.raises(NotImplementedError, match="issue 10"):
        write_demo(Path("/nonexistent/never-written"), scale="national")
    with pytest.raises(ValueError, match="unknown scale 'regional'"):
        write_demo(Path("/nonexistent/never-written"), scale="regional")


def test_agreements_load_and_declare_the_architecture_table(demo):
    out, _ = demo
    for code, (dataset, fmt, basis, id_field, event, others) in EXPECTED.items():
        ag = load_agreement(out / code / "agreement.yaml")
        assert ag.supplier_code == code
        assert ag.data_protection_registration.startswith("Z") and len(ag.data_protection_registration) == 8
        assert ag.review_date > dt.date(2025, 1, 1)
        (ds,) = ag.datasets
        assert (ds.dataset, ds.format, ds.period_basis, ds.record_level, ds.frequency) == (
            dataset, fmt, basis, "client", "annual"
        )
        assert ds.id_field == id_field and ds.event_date_field == event
        assert [f.name for f in ds.fields] == [id_field, event, *others]
        assert ds.metadata.refresh_date > ds.metadata.date_provided
    ncmp = load_agreement(out / "lchs" / "agreement.yaml").datasets[0]
    assert ncmp.indicators == ["NI 55", "NI 56"]
    assert ncmp.field("school_year").values == ["R", "6"]
    assert (ncmp.field("bmi_centile").type, ncmp.field("bmi_centile").min, ncmp.field("bmi_centile").max) == (
        "number", 0, 100
    )
    inj = load_agreement(out / "ulh" / "agreement.yaml").datasets[0]
    assert inj.indicators == ["NI 70"]
    assert inj.field("admission_method").values == ["emergency", "elective"]
    assert inj.field("cause").values == ["unintentional", "deliberate", "other"]
    yjs = load_agreement(out / "yos" / "agreement.yaml").datasets[0]
    assert yjs.indicators == ["NI 111", "NI 43"]
    assert yjs.field("court_disposal").type == "flag" and yjs.field("first_time_entrant").type == "flag"
    assert set(yjs.field("disposal_type").values) >= COURT | {"youth_caution", "reprimand", "final_warning"}


def test_columns_as_declared(demo):
    out, _ = demo
    for code, (dataset, fmt, *_rest) in EXPECTED.items():
        ds = load_agreement(out / code / "agreement.yaml").dataset(dataset)
        expected = [ds.id_field, *COMMON_FIELDS, *[f.name for f in ds.fields if f.name != ds.id_field]]
        for p in PERIODS:
            assert _read(out / code / f"{dataset}_{p}.{fmt}").columns == expected, (code, p)


def test_xlsx_cells_are_text_and_numbers_as_a_supplier_sends(demo):
    out, _ = demo
    ws = openpyxl.load_workbook(out / "lchs" / "ncmp_2023-24.xlsx", read_only=True).active
    header, first = list(ws.iter_rows(min_row=1, max_row=2, values_only=True))
    row = dict(zip(header, first))
    assert isinstance(row["dob"], str) and dt.datetime.strptime(row["dob"], "%d/%m/%Y")
    assert isinstance(row["measurement_date"], str)
    assert isinstance(row["ethnicity"], int)
    assert isinstance(row["bmi_centile"], float) and round(row["bmi_centile"], 1) == row["bmi_centile"]
    assert row["school_year"] in {"R", "6"}
    typed = pl.read_excel(out / "lchs" / "ncmp_2023-24.xlsx")
    assert typed.schema["ethnicity"] == pl.Int64 and typed.schema["bmi_centile"] == pl.Float64
    assert typed.schema["dob"] == pl.String


# ---------------------------------------------------------------- common fields
def test_dates_parse_and_events_lie_in_their_period(frames):
    for dataset, df in frames.items():
        assert df["dob_d"].null_count() == 0, dataset
        assert df["event_d"].null_count() == 0, dataset
        assert df["dob"].str.contains(r"^\d{2}/\d{2}/\d{4}$").all(), dataset
        basis = EXPECTED[[k for k, v in EXPECTED.items() if v[0] == dataset][0]][2]
        y = pl.col("period").str.slice(0, 4).cast(pl.Int32)
        if basis == "financial_year":
            start, end = pl.date(y, 4, 1), pl.date(y + 1, 3, 31)
        else:
            start, end = pl.date(y, 9, 1), pl.date(y + 1, 8, 31)
        outside = df.filter(~pl.col("event_d").is_between(start, end))
        assert outside.height == 0, (dataset, outside.head())
        assert (df["dob_d"] <= df["event_d"]).all()


def test_common_fields_follow_appendix_5(frames):
    valid = set(pl.read_csv(GEO_DIR / "postcodes.csv", infer_schema_length=0)["postcode"].to_list())
    for dataset, df in frames.items():
        assert set(df["gender"].unique().to_list()) == {"M", "F"}, dataset
        assert set(df["postcode"].unique().to_list()) <= valid, dataset
        assert all(geography.normalise_postcode(p) == p for p in df["postcode"].unique().to_list())
        eth = df["ethnicity"].cast(pl.Int64, strict=True)
        assert eth.min() >= 1 and eth.max() <= 20, dataset
    eth = pl.concat([df["ethnicity"].cast(pl.Int64) for df in frames.values()])
    share = eth.value_counts(normalize=True)
    shares = dict(zip(share["ethnicity"].to_list(), share["proportion"].to_list()))
    assert 0.82 <= shares[1] <= 0.93
    assert 0.03 <= shares[5] <= 0.09
    assert len(shares) >= 15  # the small groups are there, including 19 and 20
    assert shares.get(19, 0) > 0 and shares.get(20, 0) > 0
    # Eastern European families are concentrated in Boston and South Holland.
    ncmp = frames["ncmp"].with_columns(east=pl.col("district_code").is_in(["E07000136", "E07000140"]))
    by = ncmp.group_by("east").agg((pl.col("ethnicity") == "5").mean().alias("s"))
    s = dict(zip(by["east"].to_list(), by["s"].to_list()))
    assert s[True] > 2.5 * s[False]


def test_ids_stable_and_unique(frames):
    assert frames["ncmp"]["child_id"].is_unique().all()
    assert frames["ncmp"]["child_id"].str.contains(r"^NCMP-\d{6}$").all()
    assert frames["injury_admissions"]["episode_id"].is_unique().all()
    yjs = frames["yjs_disposals"]
    person = yjs.group_by("young_person_id").agg(
        pl.len(), pl.col("dob").n_unique().alias("dobs"), pl.col("gender").n_unique().alias("g"),
        pl.col("postcode").n_unique().alias("pc"), (pl.col("first_time_entrant") == "Y").sum().alias("fte"),
    )
    assert (person["dobs"] == 1).all() and (person["g"] == 1).all() and (person["pc"] == 1).all()
    assert (person["fte"] <= 1).all()  # first-time entry happens once
    assert (person["len"] > 1).sum() >= 50  # repeat disposals share the young person's id
    # A young person's first-time entry precedes any later disposal.
    first = yjs.filter(pl.col("first_time_entrant") == "Y").select("young_person_id", fte_d="event_d")
    later = yjs.filter(pl.col("first_time_entrant") == "N").join(first, on="young_person_id")
    assert later.height > 0 and (later["event_d"] > later["fte_d"]).all()


# ---------------------------------------------------------------- ages and dataset fields
def test_ncmp_ages_and_values(frames):
    df = frames["ncmp"]
    assert set(df["school_year"].unique().to_list()) == {"R", "6"}
    r, y6 = df.filter(pl.col("school_year") == "R"), df.filter(pl.col("school_year") == "6")
    assert (r["age_31aug"] == 4).all() and r["age"].is_between(4, 5).all()
    assert (y6["age_31aug"] == 10).all() and y6["age"].is_between(10, 11).all()
    c = df["bmi_centile"].cast(pl.Float64)
    assert c.min() >= 0 and c.max() <= 100
    assert (c.round(1) == c).all()
    # Cohorts ~95% of the ward population aged 4 (Reception) and 10 (Year 6), every year.
    pop = geography.population()
    for yr, age in (("R", 4), ("6", 10)):
        expected = pop.filter(pl.col("age") == age)["population"].sum() * 0.95
        per_year = df.filter(pl.col("school_year") == yr).group_by("period").len()["len"]
        assert ((per_year / expected - 1).abs() < 0.06).all(), (yr, per_year.to_list(), expected)
    obese = df.group_by("school_year").agg((pl.col("bmi_centile").cast(pl.Float64) >= 95).mean().alias("p"))
    p = dict(zip(obese["school_year"].to_list(), obese["p"].to_list()))
    assert 0.07 <= p["R"] <= 0.13 and 0.17 <= p["6"] <= 0.30


def test_injury_ages_and_exclusions(frames):
    df = frames["injury_admissions"]
    assert df["age"].min() >= 0 and df["age"].max() <= 19
    adults = df.filter(pl.col("age") >= 18).height
    assert 0 < adults < 0.05 * df.height
    assert set(df["admission_method"].unique().to_list()) == {"emergency", "elective"}
    assert set(df["cause"].unique().to_list()) == {"unintentional", "deliberate", "other"}
    counted = df.filter(
        (pl.col("admission_method") == "emergency") & pl.col("cause").is_in(["unintentional", "deliberate"])
        & pl.col("age").is_between(0, 17)
    )
    assert 0.05 <= 1 - counted.height / df.height <= 0.2  # rows the indicator must exclude
    pop017 = geography.population().filter(pl.col("age") <= 17)["population"].sum()
    rate = counted.height / len(PERIODS) / pop017 * 10_000
    assert 65 <= rate <= 115, rate
    assert (counted["gender"] == "M").mean() > 0.5


def test_yjs_ages_and_disposals(frames):
    df = frames["yjs_disposals"]
    assert df["age"].is_between(10, 17).all()
    assert set(df["court_disposal"].unique().to_list()) == {"Y", "N"}
    assert set(df["first_time_entrant"].unique().to_list()) == {"Y", "N"}
    assert (df["disposal_type"].is_in(list(COURT)) == (df["court_disposal"] == "Y")).all()
    fte = df.filter(pl.col("first_time_entrant") == "Y")
    pop = geography.population().filter(pl.col("age").is_between(10, 17))["population"].sum()
    rate = fte.height / len(PERIODS) / pop * 100_000
    assert 110 <= rate <= 210, rate
    assert 0.7 <= (fte["gender"] == "M").mean() <= 0.9
    court = df.filter(pl.col("court_disposal") == "Y")
    custody = (court["disposal_type"] == "custody").mean()
    assert 0.02 <= custody <= 0.12, custody
    assert 1.2 <= df.height / fte.height <= 2.5


# ---------------------------------------------------------------- small areas and variation
def test_suppression_is_exercised_but_not_total(frames):
    fte = frames["yjs_disposals"].filter(
        (pl.col("first_time_entrant") == "Y") & pl.col("age").is_between(10, 17)
    ).group_by("period", "ward_code").len()
    assert fte.filter(pl.col("len").is_between(1, 10)).height > 0
    obese_r = frames["ncmp"].filter(
        (pl.col("school_year") == "R") & (pl.col("bmi_centile").cast(pl.Float64) >= 95)
    ).group_by("period", "ward_code").len()
    assert obese_r.filter(pl.col("len") >= 11).height > 0
    assert obese_r.filter(pl.col("len") <= 10).height > 0


def test_wards_vary_with_deprivation(frames):
    dep = pl.read_csv(GEO_DIR / "deprivation_ward.csv", columns=["ward_code", "idaci_score"],
                      schema_overrides={"idaci_score": pl.Float64})
    ncmp = frames["ncmp"].filter(pl.col("school_year") == "6").group_by("ward_code").agg(
        (pl.col("bmi_centile").cast(pl.Float64) >= 95).mean().alias("p"), pl.len()
    ).join(dep, on="ward_code")
    assert ncmp.height == 155
    assert ncmp.select(pl.corr("p", "idaci_score")).item() > 0.4
    assert ncmp["p"].max() - ncmp["p"].min() > 0.1
    pop = geography.population().filter(pl.col("age") <= 17).group_by("ward_code").agg(pl.col("population").sum())
    inj = frames["injury_admissions"].filter(pl.col("age") <= 17).group_by("ward_code").len().join(
        pop, on="ward_code").join(dep, on="ward_code").with_columns(rate=pl.col("len") / pl.col("population"))
    assert inj.select(pl.corr("rate", "idaci_score")).item() > 0.4
