"""pipelines.demo: synthetic supplies, their agreements, and the realism the pipeline relies on."""
from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines import geography
from pipelines.config import GEO_DIR
from pipelines.demo import write_demo
from pipelines.specs import COMMON_FIELDS, load_agreement, load_indicators

PERIODS = ("2020-21", "2021-22", "2022-23", "2023-24", "2024-25")
EXPECTED = {  # the original supplier folders -> (dataset, format, period_basis, id field, event date field, fields)
    "lchs": ("ncmp", "xlsx", "academic_year", "child_id", "measurement_date", ["school_year", "bmi_centile"]),
    "ulh": ("injury_admissions", "csv", "financial_year", "episode_id", "admission_date",
            ["admission_method", "cause"]),
    "yos": ("yjs_disposals", "csv", "financial_year", "young_person_id", "disposal_date",
            ["disposal_type", "court_disposal", "first_time_entrant"]),
}
#: every supplier folder and its datasets (format), as docs/architecture.md lists them
DATASETS = {
    "lchs": {"ncmp": "xlsx"},
    "ulh": {"injury_admissions": "csv"},
    "yos": {"yjs_disposals": "csv", "yos_closures": "csv"},
    "lcc_csc": {"cin_referrals": "csv", "cin_assessments": "csv", "cp_plan_starts": "csv", "cp_plan_ends": "csv",
                "lac_31mar": "csv", "care_leavers": "csv"},
    "lcc_edu": {"eyfsp": "csv", "ks2": "csv", "ks4": "xlsx", "school_census": "csv", "attainment_19": "csv"},
    "connexions": {"ccis_activity": "xlsx"},
    "lcc_phealth": {"infant_feeding": "csv"},
    "lish": {"teenage_conceptions": "csv", "chlamydia_tests": "csv"},
}
#: the aggregate supplies (counts by district or ward, not client records; issue 14)
AGGREGATE = {
    "lrsp": {"road_casualties": "csv"},
    "lcc_bi": {"low_income_children": "csv"},
}
ALL_DATASETS = {**DATASETS, **AGGREGATE}
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


def _load(out: Path, code: str, dataset: str, periods=PERIODS) -> pl.DataFrame:
    """One dataset, the given periods stacked, with `period`, parsed `dob_d`/`event_d`, ages and the ward."""
    ag = load_agreement(out / code / "agreement.yaml")
    ds = ag.dataset(dataset)
    pcs = geography.postcodes().select("postcode", "ward_code", "district_code")
    df = pl.concat([
        _read(out / code / f"{dataset}_{p}.{ds.format}").with_columns(period=pl.lit(p)) for p in periods
    ]).with_columns(
        dob_d=pl.col("dob").str.strptime(pl.Date, "%d/%m/%Y", strict=False),
        event_d=pl.col(ds.event_date_field).str.strptime(pl.Date, "%d/%m/%Y", strict=False),
    )
    return df.with_columns(
        age=_age(pl.col("dob_d"), pl.col("event_d")),
        age_31aug=_age(pl.col("dob_d"), _prior_31aug(pl.col("event_d"))),
    ).join(pcs, on="postcode", how="left")


@pytest.fixture(scope="module")
def frames(demo) -> dict[str, pl.DataFrame]:
    """The original three datasets, all periods stacked (see `_load`)."""
    out, _ = demo
    return {dataset: _load(out, code, dataset) for code, (dataset, *_rest) in EXPECTED.items()}


# ---------------------------------------------------------------- layout, determinism, agreements
def test_summary_and_layout(demo):
    out, summary = demo
    assert summary["suppliers"] == len(ALL_DATASETS)
    assert summary["files"] == 5 * sum(len(d) for d in ALL_DATASETS.values())
    assert summary["out"] == str(out)
    assert 800_000 <= summary["rows"] <= 1_300_000
    for code, datasets in ALL_DATASETS.items():
        names = sorted(p.name for p in (out / code).iterdir())
        assert names == sorted(["agreement.yaml"] + [f"{d}_{p}.{f}" for d, f in datasets.items() for p in PERIODS])
    assert sorted(p.name for p in out.iterdir()) == sorted(ALL_DATASETS)


def test_rows_total_matches_files(demo):
    out, summary = demo
    total = 0
    for code, datasets in ALL_DATASETS.items():
        for d, fmt in datasets.items():
            for p in PERIODS:
                path = out / code / f"{d}_{p}.{fmt}"
                total += _read(path).height if fmt == "xlsx" else pl.scan_csv(path).select(pl.len()).collect().item()
    assert total == summary["rows"]


def test_same_seed_byte_identical_and_other_seed_differs(demo, tmp_path):
    """Each dataset has its own random stream: the same seed gives byte-identical files whichever
    datasets are written with it (a few here, to keep the test short), another seed different ones."""
    out, _ = demo
    few = {"ncmp", "yjs_disposals", "lac_31mar", "ks4", "infant_feeding", "cin_assessments"}
    again = write_demo(tmp_path / "again", seed=2026, only=few)
    a, b = _digests(out), _digests(tmp_path / "again")
    data_files = [k for k in b if not k.endswith("agreement.yaml")]
    assert again["files"] == len(data_files) == 5 * len(few)
    assert all(a[k] == b[k] for k in b)  # agreements too
    other = write_demo(tmp_path / "other", seed=7, only=few)
    c = _digests(tmp_path / "other")
    assert c.keys() == b.keys()
    assert all(c[k] != b[k] for k in data_files)
    assert other["rows"] != again["rows"]


def test_scales():  # 10x and national: tests/test_scale.py
    with pytest.raises(ValueError, match="unknown scale 'regional'"):
        write_demo(Path("/nonexistent/never-written"), scale="regional")
    with pytest.raises(ValueError, match="unknown demo datasets"):
        write_demo(Path("/nonexistent/never-written"), only={"arrests"})


def test_agreements_load_and_declare_the_architecture_table(demo):
    out, _ = demo
    for code, (dataset, fmt, basis, id_field, event, others) in EXPECTED.items():
        ag = load_agreement(out / code / "agreement.yaml")
        assert ag.supplier_code == code
        assert ag.data_protection_registration.startswith("Z") and len(ag.data_protection_registration) == 8
        assert ag.review_date > dt.date(2025, 1, 1)
        ds = ag.datasets[0]
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


def test_every_agreement_covers_its_datasets_and_the_indicators_that_use_them(demo):
    out, _ = demo
    specs = load_indicators()
    for code, datasets in ALL_DATASETS.items():
        ag = load_agreement(out / code / "agreement.yaml")
        assert ag.supplier_code == code
        assert [d.dataset for d in ag.datasets] == list(datasets)
        for ds in ag.datasets:
            assert ds.format == datasets[ds.dataset]
            assert ds.metadata.refresh_date > ds.metadata.date_provided
            users = sorted(s.id for s in specs if s.dataset == ds.dataset and not s.local)
            assert sorted(ds.indicators) == users, ds.dataset
            names = {f.name for f in ds.fields}
            for s in specs:
                if s.dataset == ds.dataset:
                    assert s.fields_used() <= names, (s.id, s.fields_used() - names)
                    assert s.period_basis == ds.period_basis, s.id


def test_columns_as_declared(demo):
    out, _ = demo
    for code, datasets in DATASETS.items():
        for dataset, fmt in datasets.items():
            ds = load_agreement(out / code / "agreement.yaml").dataset(dataset)
            expected = [ds.id_field, *COMMON_FIELDS, *[f.name for f in ds.fields if f.name != ds.id_field]]
            for p in PERIODS:
                path = out / code / f"{dataset}_{p}.{fmt}"
                cols = pl.read_excel(path, infer_schema_length=0).columns if fmt == "xlsx" else pl.read_csv(
                    path, n_rows=1, infer_schema_length=0).columns
                assert cols == expected, (code, dataset, p)


def test_aggregate_supplies_are_counts_that_validate_and_add_up(demo):
    """The aggregate supplies: counts by district (road casualties, two measures feeding NI 48 and L 03)
    and by ward (children in low-income families, with denominators, feeding NI 116); every file passes
    validation, the breakdown parts add up to `all`."""
    from pipelines.ingest import validate_file

    out, _ = demo
    specs = load_indicators()
    for code, datasets in AGGREGATE.items():
        ag = load_agreement(out / code / "agreement.yaml")
        for dataset in datasets:
            ds = ag.dataset(dataset)
            assert ds.record_level == "aggregate" and not ds.fields
            expected = ["area_code", "period", *(["measure"] if ds.measures else []), "breakdown", "numerator",
                        *(["denominator"] if ds.denominator else [])]
            for p in PERIODS:
                path = out / code / f"{dataset}_{p}.csv"
                df = pl.read_csv(path)
                assert df.columns == expected
                result, frame, _ = validate_file(path, ag)
                assert result.outcome == "loaded" and not result.warnings, (path, result.errors[:3])
                keys = [c for c in ("area_code", "measure") if c in df.columns]
                parts = df.filter(pl.col("breakdown") != "all").group_by(keys).agg(pl.col("numerator").sum())
                total = df.filter(pl.col("breakdown") == "all").select(*keys, pl.col("numerator").alias("t"))
                assert parts.join(total, on=keys).filter(pl.col("numerator") != pl.col("t")).height == 0
    roads = pl.read_csv(out / "lrsp" / "road_casualties_2023-24.csv")
    assert set(roads["area_code"]) == set(geography.hierarchy()["district_code"])
    assert {s.id for s in specs if s.dataset == "road_casualties"} == {"NI 48", "L 03"}
    poverty = pl.read_csv(out / "lcc_bi" / "low_income_children_2023-24.csv")
    assert set(poverty["area_code"]) == set(geography.hierarchy()["ward_code"])
    share = poverty.filter(pl.col("breakdown") == "all").select(pl.col("numerator").sum() / pl.col("denominator").sum())
    assert 0.12 < share.item() < 0.28


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


# ---------------------------------------------------------------- the children's services datasets
NEW = {d: code for code, ds in DATASETS.items() for d in ds if code not in ("lchs", "ulh") and d != "yjs_disposals"}


@pytest.fixture(scope="module")
def kids(demo) -> dict[str, pl.DataFrame]:
    """Every dataset added for the NI set, all periods stacked (see `_load`)."""
    out, _ = demo
    return {d: _load(out, code, d) for d, code in NEW.items()}


def test_new_datasets_pass_ingest(demo, tmp_path, monkeypatch):
    """One period of every new dataset through pipelines.ingest.ingest_dir: loaded, no errors."""
    out, _ = demo
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "data"))
    supplies = tmp_path / "supplies"
    for d, code in NEW.items():
        folder = supplies / code
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / code / "agreement.yaml", folder / "agreement.yaml")
        fmt = DATASETS[code][d]
        shutil.copy(out / code / f"{d}_2023-24.{fmt}", folder / f"{d}_2023-24.{fmt}")
    from pipelines.ingest import ingest_dir
    from pipelines.restricted_store import RestrictedStore

    with RestrictedStore(tmp_path / "store.duckdb") as store:
        results = ingest_dir(supplies, store)
        assert sorted(r.dataset for r in results) == sorted(NEW)
        assert all(r.outcome == "loaded" and not r.errors for r in results), [
            str(r.errors[0]) for r in results if r.errors]
        for r in results:  # every record is in the county (postcodes from the lookup)
            assert r.rows == r.rows_read > 0, r.file
        lac = store.scan("lac_31mar")
    assert (lac["event_date"] == dt.date(2024, 3, 31)).all()


def test_new_datasets_dates_ages_and_common_fields(kids):
    basis = {"financial_year": ((4, 1), (3, 31)), "academic_year": ((9, 1), (8, 31))}
    for d, df in kids.items():
        assert df["dob_d"].null_count() == 0 and df["event_d"].null_count() == 0, d
        assert (df["dob_d"] <= df["event_d"]).all(), d
        assert df["ward_code"].null_count() == 0, d
        assert set(df["gender"].unique()) <= {"F", "M"}, d
        assert df["ethnicity"].cast(pl.Int64).is_between(1, 20).all(), d
        ds_basis = load_agreement_for(d).period_basis
        (sm, sd), (em, ed) = basis[ds_basis]
        y = pl.col("period").str.slice(0, 4).cast(pl.Int32)
        outside = df.filter(~pl.col("event_d").is_between(pl.date(y, sm, sd), pl.date(y + 1, em, ed)))
        assert outside.height == 0, d
        assert df["age"].max() <= 25, d
    # academic ages of school cohorts and the snapshot ages
    for d, age in (("eyfsp", 4), ("ks2", 10), ("ks4", 15), ("attainment_19", 18)):
        assert (kids[d]["age_31aug"] == age).all(), d
    assert kids["school_census"]["age_31aug"].is_between(4, 15).all()
    assert kids["ccis_activity"]["age_31aug"].is_between(16, 18).all()
    assert (kids["care_leavers"]["age"] == 19).all()
    cl = kids["care_leavers"]  # the event is the 19th birthday itself
    assert (cl["dob_d"].dt.offset_by("19y") == cl["event_d"]).mean() > 0.99
    assert (kids["infant_feeding"]["event_d"] - kids["infant_feeding"]["dob_d"]).dt.total_days().unique().to_list() == [56]
    lac = kids["lac_31mar"]
    assert (lac["event_d"].dt.month() == 3).all() and (lac["event_d"].dt.day() == 31).all()
    assert lac["age"].is_between(0, 17).all()
    assert set(kids["teenage_conceptions"]["gender"].unique()) == {"F"}
    assert kids["teenage_conceptions"]["age"].is_between(13, 19).all()
    assert kids["chlamydia_tests"]["age"].is_between(15, 25).all()
    assert kids["yos_closures"]["age"].is_between(10, 17).all()


def load_agreement_for(dataset: str):
    code = NEW[dataset]
    return next(d for d in _AGREEMENTS[code].datasets if d.dataset == dataset)


_AGREEMENTS: dict = {}


@pytest.fixture(scope="module", autouse=True)
def _agreements(demo):
    out, _ = demo
    for code in DATASETS:
        _AGREEMENTS[code] = load_agreement(out / code / "agreement.yaml")


def _share(df: pl.DataFrame, cond: pl.Expr) -> float:
    return df.select(cond.mean()).item()


def test_new_datasets_have_realistic_levels(kids):
    pop = geography.population()
    aged = lambda lo, hi, sex=("F", "M"): pop.filter(  # noqa: E731
        pl.col("age").is_between(lo, hi) & pl.col("sex").is_in(list(sex)))["population"].sum()
    k = kids
    per_year = lambda df: df.height / len(PERIODS)  # noqa: E731
    assert 400 <= per_year(k["cin_referrals"]) / aged(0, 17) * 10_000 <= 650  # referrals per 10,000
    assert 0.72 <= _share(k["cin_referrals"], pl.col("led_to_assessment") == "Y") <= 0.86
    ini = k["cin_assessments"].filter(pl.col("assessment_type") == "initial")
    core = k["cin_assessments"].filter(pl.col("assessment_type") == "core")
    assert 0.65 <= _share(ini, pl.col("working_days").cast(pl.Int64) <= 7) <= 0.88
    assert 0.70 <= _share(core, pl.col("working_days").cast(pl.Int64) <= 35) <= 0.90
    assert 30 <= per_year(k["cp_plan_starts"]) / aged(0, 17) * 10_000 <= 60
    assert 0.15 <= _share(k["cp_plan_starts"], pl.col("previous_plan") == "Y") <= 0.30
    assert 0.01 <= _share(k["cp_plan_ends"], pl.col("duration_days").cast(pl.Int64) >= 730) <= 0.07
    assert 35 <= per_year(k["lac_31mar"]) / aged(0, 17) * 10_000 <= 65
    lac = k["lac_31mar"].with_columns(pl.col("sdq_score").cast(pl.Int64))
    assert 0.07 <= _share(lac, pl.col("placements_in_year").cast(pl.Int64) >= 3) <= 0.16
    assert lac.filter(~pl.col("age").is_between(4, 16))["sdq_score"].null_count() == lac.filter(
        ~pl.col("age").is_between(4, 16)).height  # no SDQ outside the ages
    assert 12.5 <= lac["sdq_score"].mean() <= 16.5
    assert 60 <= per_year(k["care_leavers"]) <= 140
    assert 0.58 <= _share(k["eyfsp"], pl.col("gld") == "Y") <= 0.72
    assert 0.55 <= _share(k["ks2"], pl.col("rwm_expected") == "Y") <= 0.68
    em = (pl.col("english_grade").cast(pl.Int64) >= 4) & (pl.col("maths_grade").cast(pl.Int64) >= 4)
    assert 0.58 <= _share(k["ks4"], em) <= 0.72
    assert 0.17 <= _share(k["ks2"], pl.col("fsm") == "Y") <= 0.30
    assert 0.25 <= _share(k["ks4"], pl.col("looked_after") == "Y") * 100 <= 1.2
    sec = k["school_census"].filter(pl.col("phase") == "secondary")
    assert 0.07 <= _share(sec, pl.col("absence_pct").cast(pl.Float64) >= 20) <= 0.2
    assert 0.0004 <= _share(k["school_census"], pl.col("permanently_excluded") == "Y") <= 0.0015
    assert 0.7 <= _share(k["attainment_19"], pl.col("level2_by_19") == "Y") <= 0.88
    known = k["ccis_activity"].filter(~pl.col("activity").is_in(["custody", "asylum_seeker", "not_known"]))
    assert 0.04 <= _share(known, pl.col("activity").str.starts_with("neet")) <= 0.09
    assert 0.38 <= _share(k["infant_feeding"], pl.col("feeding_status").str.ends_with("breastfed")
                          & ~pl.col("feeding_status").str.starts_with("not")) <= 0.55
    u18 = k["teenage_conceptions"].filter(pl.col("age") <= 17).height / len(PERIODS)
    assert 8 <= u18 / aged(15, 17, ("F",)) * 1000 <= 22  # per 1,000 girls aged 15-17
    first = k["chlamydia_tests"].filter((pl.col("first_test_in_year") == "Y") & (pl.col("age") <= 19))
    assert 0.06 <= first.height / len(PERIODS) / aged(15, 19) <= 0.14
    assert 0.6 <= _share(k["yos_closures"], pl.col("ete_suitable") == "Y") <= 0.85


def test_new_datasets_internal_consistency(kids):
    ass = kids["cin_assessments"].with_columns(
        start=pl.col("start_date").str.strptime(pl.Date, "%d/%m/%Y"), wd=pl.col("working_days").cast(pl.Int64))
    # working days agree with the dates: weekdays from start to completion (less bank holidays)
    import numpy as np

    weekdays = np.busday_count(ass["start"].to_numpy(), ass["event_d"].to_numpy())
    assert (ass["wd"].to_numpy() <= weekdays).all()
    assert ((weekdays - ass["wd"].to_numpy()) <= 12).all()  # at most the bank holidays of a few months
    cpe = kids["cp_plan_ends"].with_columns(start=pl.col("plan_start_date").str.strptime(pl.Date, "%d/%m/%Y"))
    assert ((cpe["event_d"] - cpe["start"]).dt.total_days() == cpe["duration_days"].cast(pl.Int64)).all()
    assert (cpe["start"] >= cpe["dob_d"]).all()
    ks2 = kids["ks2"]
    assert ((ks2["rwm_expected"] == "Y") == ((ks2["english_expected"] == "Y") & (ks2["maths_expected"] == "Y"))).all()
    sc = kids["school_census"].with_columns(pl.col("sessions_possible", "sessions_absent").cast(pl.Int64),
                                            pl.col("absence_pct").cast(pl.Float64))
    assert ((sc["sessions_absent"] / sc["sessions_possible"] * 100 - sc["absence_pct"]).abs() <= 0.05 + 1e-9).all()
    assert ((sc["phase"] == "secondary") == ((sc["age_31aug"] >= 11) & (sc["phase"] != "special"))).all()
    lac = kids["lac_31mar"].with_columns(pl.col("months_looked_after", "months_in_placement").cast(pl.Int64))
    assert (lac["months_in_placement"] <= lac["months_looked_after"]).all()
    yc = kids["yos_closures"].with_columns(pl.col("ete_hours").cast(pl.Int64))
    need = pl.when(pl.col("age") < 16).then(25).otherwise(16)
    assert (yc.select((pl.col("ete_hours") >= need) == (pl.col("ete_suitable") == "Y")).to_series()).all()
    ch = kids["chlamydia_tests"]
    assert 0.7 <= _share(ch, pl.col("first_test_in_year") == "Y") < 1.0  # retests are in the supply


def test_new_datasets_vary_with_deprivation(kids):
    dep = pl.read_csv(GEO_DIR / "deprivation_ward.csv", columns=["ward_code", "idaci_score"],
                      schema_overrides={"idaci_score": pl.Float64})
    pop = geography.population().filter(pl.col("age") <= 17).group_by("ward_code").agg(pl.col("population").sum())

    def corr(df: pl.DataFrame, value: pl.Expr) -> float:
        by = df.group_by("ward_code").agg(value.alias("v")).join(dep, on="ward_code")
        return by.select(pl.corr("v", "idaci_score")).item()

    assert corr(kids["ks2"], (pl.col("fsm") == "Y").mean()) > 0.5
    assert corr(kids["ks2"], (pl.col("rwm_expected") == "Y").mean()) < -0.3
    rate = kids["lac_31mar"].group_by("ward_code").len().join(pop, on="ward_code")
    assert rate.join(dep, on="ward_code").select(pl.corr(pl.col("len") / pl.col("population"), "idaci_score")).item() > 0.4
    known = kids["ccis_activity"].filter(~pl.col("activity").is_in(["custody", "asylum_seeker", "not_known"]))
    assert corr(known, pl.col("activity").str.starts_with("neet").mean()) > 0.3
    bf = pl.col("feeding_status").is_in(["totally_breastfed", "partially_breastfed"]).mean()
    assert corr(kids["infant_feeding"], bf) < -0.3
