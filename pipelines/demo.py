"""Synthetic supplies in the suppliers' own formats, with their Data Specification Agreements.

`write_demo(out)` writes, for the county, one folder per supplier (docs/architecture.md, "Supply
directory"), agreement.yaml plus one file per dataset and period (2020/21 to 2024/25):

| folder | supplier | datasets (format) |
|---|---|---|
| lchs | Lincolnshire Community Health Services NHS Trust | ncmp (xlsx) |
| ulh | United Lincolnshire Hospitals NHS Trust | injury_admissions |
| yos | Lincolnshire Youth Offending Service | yjs_disposals, yos_closures |
| lcc_csc | LCC Children's Social Care | cin_referrals, cin_assessments, cp_plan_starts, cp_plan_ends, lac_31mar, care_leavers |
| lcc_edu | LCC Education | eyfsp, ks2, ks4 (xlsx), school_census, attainment_19 |
| connexions | LCC Connexions | ccis_activity (xlsx) |
| lcc_phealth | LCC Public Health (0-19 Health Services) | infant_feeding |
| lish | Lincolnshire Integrated Sexual Health Service | teenage_conceptions, chlamydia_tests |
| lrsp | Lincolnshire Road Safety Partnership | road_casualties (aggregate: counts by district) |
| lcc_bi | LCC Business Intelligence | low_income_children (aggregate: counts by ward) |

(csv unless marked). The records are invented but sized and shaped like the real thing, so that the
pipeline downstream meets what it will meet in practice:

- cohorts come from the ONS mid-2020 ward population by sex and single year of age (geo/population.csv):
  NCMP Reception ~ 95% of the children aged 4, Year 6 ~ 95% of those aged 10; school cohorts by
  academic age (born 1 September - 31 August); injury admissions ~ 90 per 10,000 aged 0-17 a year;
  first-time entrants ~ 160 per 100,000 aged 10-17; referrals ~ 500 per 10,000 0-17; child protection
  plans ~ 45 and looked-after children ~ 48 per 10,000; births from the population aged 0;
- prevalences and rates move with the ward's IDACI score (geo/deprivation_ward.csv): Reception obesity
  ~7% -> ~13%, Year 6 ~17% -> ~30%, injuries and youth justice ~0.6x -> ~1.8x, social care and
  teenage conceptions more steeply; attainment, breastfeeding and participation fall with it (on the
  logit scale, with free school meals, SEN, looked-after and ethnic-group effects for pupils); plus a
  persistent ward effect, ward-year noise and a year trend (COVID years: an obesity bump, an injury
  dip, teacher-assessed grades, higher absence and NEET);
- small wards give small counts (suppression is exercised), large deprived wards give large ones;
- every file contains rows the indicators must exclude (elective / cause 'other' admissions, a few
  18-19 year olds, court and non-court disposals, repeat disposals that are not first-time entries,
  core and initial assessments, short-break placements, 20-24 year olds and retests among chlamydia
  tests, 18-19 year olds among conceptions, activity not known, ...).

Everything is drawn from numpy Generators seeded from `seed` (one stream per dataset), so the same seed
gives byte-identical files (XLSX parts carry fixed dates).
"""
from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from pipelines import geography
from pipelines import config

PERIODS: tuple[str, ...] = ("2020/21", "2021/22", "2022/23", "2023/24", "2024/25")
SCALES = ("county", "10x", "national")
DATE_FMT = "%d/%m/%Y"
#: XLSX document properties are pinned so that a given seed gives byte-identical workbooks.
_XLSX_CREATED = dt.datetime(2025, 10, 15, 9, 0, 0)
_EPOCH = np.datetime64("1970-01-01", "D")

# Ethnicity shares (Appendix 5 codes), children in Lincolnshire. Code 1 and code 5 are set per ward.
_ETH_OTHER = {
    2: 0.003, 3: 0.001, 4: 0.004, 6: 0.005, 7: 0.002, 8: 0.007, 9: 0.006, 10: 0.004, 11: 0.002,
    12: 0.001, 13: 0.004, 14: 0.001, 15: 0.005, 16: 0.001, 17: 0.003, 18: 0.004, 19: 0.006, 20: 0.007,
}
#: Boston and South Holland: large Eastern European communities (code 5).
_EAST_EUROPEAN_DISTRICTS = {"E07000136": 0.17, "E07000140": 0.15}
_CODE5_ELSEWHERE = 0.035

YJS_DISPOSALS = (
    "reprimand", "final_warning", "youth_caution", "youth_conditional_caution",
    "referral_order", "fine", "community_sentence", "custody",
)
COURT_DISPOSALS = ("referral_order", "fine", "community_sentence", "custody")


# ---------------------------------------------------------------- periods and dates
def period_slug(period: str) -> str:
    """'2023/24' -> '2023-24' (file names)."""
    return period.replace("/", "-")


def period_bounds(period: str, basis: str) -> tuple[dt.date, dt.date]:
    """First and last day of a period: financial year April-March or academic year September-August."""
    y = int(period[:4])
    if basis == "financial_year":
        return dt.date(y, 4, 1), dt.date(y + 1, 3, 31)
    if basis == "academic_year":
        return dt.date(y, 9, 1), dt.date(y + 1, 8, 31)
    raise ValueError(f"unknown period basis {basis!r}")


def _days(d: dt.date) -> int:
    return int((np.datetime64(d, "D") - _EPOCH).astype(int))


def _to_weekday(days: np.ndarray) -> np.ndarray:
    """Move Saturdays and Sundays to the following Monday (1970-01-01 was a Thursday)."""
    dow = (days + 3) % 7  # 0 = Monday
    return days + np.where(dow == 5, 2, np.where(dow == 6, 1, 0))


def _date_series(name: str, days: np.ndarray) -> pl.Series:
    return pl.Series(name, days.astype(np.int32)).cast(pl.Date)


def _dob_for_age(event_days: np.ndarray, age: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Dates of birth (days) uniformly spread so that the exact age on the event date is `age`."""
    df = pl.DataFrame({"d": _date_series("d", event_days), "a": age.astype(np.int32), "u": u})
    y, m, d = pl.col("d").dt.year(), pl.col("d").dt.month(), pl.col("d").dt.day()

    def years_before(n: pl.Expr) -> pl.Expr:
        yy = y - n
        leap = ((yy % 4 == 0) & (yy % 100 != 0)) | (yy % 400 == 0)
        dd = pl.when((m == 2) & (d == 29) & ~leap).then(28).otherwise(d)
        return pl.date(yy, m, dd)

    out = df.select(
        hi=years_before(pl.col("a")).cast(pl.Int32),
        lo=(years_before(pl.col("a") + 1).cast(pl.Int32) + 1),
    )
    hi, lo = out["hi"].to_numpy(), out["lo"].to_numpy()
    dob = lo + np.floor(u * (hi - lo + 1)).astype(np.int64)
    dob = np.minimum(dob, hi)
    # 29 February edge: fall back to `hi`, which always has the exact age.
    bad = _exact_age(dob, event_days) != age
    return np.where(bad, hi, dob).astype(np.int64)


def _exact_age(dob_days: np.ndarray, at_days: np.ndarray) -> np.ndarray:
    """Completed years of age at a date (birthday reached on the same month and day)."""
    df = pl.DataFrame({"b": _date_series("b", dob_days), "d": _date_series("d", at_days)})
    b, d = pl.col("b"), pl.col("d")
    # month() and day() are Int8: widen before arithmetic (12 * 100 overflows Int8).
    def md(e: pl.Expr) -> pl.Expr:
        return e.dt.month().cast(pl.Int32) * 100 + e.dt.day().cast(pl.Int32)

    age = (d.dt.year() - b.dt.year()) - (md(d) < md(b)).cast(pl.Int32)
    return df.select(age.alias("age"))["age"].to_numpy()


# ---------------------------------------------------------------- reference data
@dataclass(frozen=True)
class _Geo:
    wards: np.ndarray  # ward codes, sorted
    dep: np.ndarray  # deprivation 0 (least) .. 1 (most), from the IDACI score
    pop: np.ndarray  # [ward, sex (0=F, 1=M), age 0..19]
    pc: np.ndarray  # postcodes grouped by ward
    pc_start: np.ndarray
    pc_count: np.ndarray
    eth_cdf: np.ndarray  # [ward, 20] cumulative ethnicity shares


def _geo() -> _Geo:
    return _geo_for(config.geo_dir())


@lru_cache(maxsize=2)
def _geo_for(geo_dir: Path) -> _Geo:
    """The geography in `geo_dir` (read through pipelines.geography, which follows config.geo_dir())."""
    pop = geography.population()
    wards = np.array(sorted(pop["ward_code"].unique().to_list()))
    w_index = {w: i for i, w in enumerate(wards)}
    arr = np.zeros((len(wards), 2, 20))
    wi = np.array([w_index[w] for w in pop["ward_code"].to_list()])
    si = (pop["sex"] == "M").cast(pl.Int8).to_numpy()
    arr[wi, si, pop["age"].to_numpy()] = pop["population"].to_numpy()

    dep = pl.read_csv(
        geo_dir / "deprivation_ward.csv", columns=["ward_code", "idaci_score"],
        schema_overrides={"ward_code": pl.String, "idaci_score": pl.Float64},
    )
    idaci = dict(zip(dep["ward_code"].to_list(), dep["idaci_score"].to_list()))
    missing = [w for w in wards if w not in idaci]
    if missing:
        raise ValueError(f"geo/deprivation_ward.csv has no idaci_score for wards {missing[:5]}")
    score = np.array([idaci[w] for w in wards])
    scaled = (score - score.min()) / (score.max() - score.min())

    pcs = geography.postcodes().filter(pl.col("ward_code").is_in(wards.tolist())).sort("ward_code", "postcode")
    counts = pcs.group_by("ward_code").len()
    count_map = dict(zip(counts["ward_code"].to_list(), counts["len"].to_list()))
    pc_count = np.array([count_map.get(w, 0) for w in wards])
    if (pc_count == 0).any():
        raise ValueError(f"wards without postcodes: {wards[pc_count == 0].tolist()}")
    pc_start = np.concatenate([[0], np.cumsum(pc_count)[:-1]])

    hier = geography.hierarchy()
    district = dict(zip(hier["ward_code"].to_list(), hier["district_code"].to_list()))
    shares = np.zeros((len(wards), 20))
    for code, p in _ETH_OTHER.items():
        shares[:, code - 1] = p
    shares[:, 4] = [_EAST_EUROPEAN_DISTRICTS.get(district.get(w, ""), _CODE5_ELSEWHERE) for w in wards]
    shares[:, 0] = 1.0 - shares.sum(axis=1)
    return _Geo(
        wards=wards, dep=scaled, pop=arr, pc=pcs["postcode"].to_numpy(), pc_start=pc_start,
        pc_count=pc_count, eth_cdf=np.cumsum(shares, axis=1),
    )


def _draw_cells(rng: np.random.Generator, lam: np.ndarray) -> tuple[np.ndarray, ...]:
    """Poisson counts for every cell of `lam`, returned as one index array per axis, one entry per event."""
    counts = rng.poisson(np.clip(lam, 0, None)).ravel()
    idx = np.repeat(np.arange(counts.size), counts)
    return np.unravel_index(idx, lam.shape)


def _common(rng: np.random.Generator, g: _Geo, ward: np.ndarray, sex: np.ndarray) -> dict[str, np.ndarray]:
    """gender, postcode (in the ward) and ethnicity for each row; dob is set by the caller."""
    u = rng.random(ward.size)
    pc = g.pc[g.pc_start[ward] + np.minimum((u * g.pc_count[ward]).astype(np.int64), g.pc_count[ward] - 1)]
    ue = rng.random(ward.size)
    eth = (ue[:, None] > g.eth_cdf[ward]).sum(axis=1) + 1
    eth = np.minimum(eth, 20)
    return {"gender": np.where(sex == 1, "M", "F"), "postcode": pc, "ethnicity": eth.astype(np.int64)}


def _ids(rng: np.random.Generator, prefix: str, n: int, width: int) -> np.ndarray:
    """n distinct ids like 'NCMP-000123', in random order."""
    space = 10**width
    if n > space // 2:
        raise ValueError(f"too many {prefix} ids for width {width}")
    nums = rng.choice(space - 1, size=n, replace=False) + 1
    return np.char.add(prefix, np.char.zfill(nums.astype(str), width))


def _ward_effects(rng: np.random.Generator, n_wards: int, n_years: int, sd_ward: float, sd_year: float) -> np.ndarray:
    """Multiplicative [ward, year] noise: a persistent ward effect times ward-year noise."""
    ward = rng.normal(0, sd_ward, size=(n_wards, 1))
    year = rng.normal(0, sd_year, size=(n_wards, n_years))
    return np.exp(ward + year - (sd_ward**2 + sd_year**2) / 2)


def _frame(columns: dict[str, object], order: list[str]) -> pl.DataFrame:
    return pl.DataFrame({k: columns[k] for k in order})


def _fmt_dates(df: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    return df.with_columns(pl.col(c).dt.strftime(DATE_FMT) for c in cols)


# ---------------------------------------------------------------- NCMP (lchs)
_NCMP_COLUMNS = ["child_id", "dob", "gender", "postcode", "ethnicity", "measurement_date", "school_year", "bmi_centile"]
#: year trend (relative): the 2020/21 bump in obesity, then a slow fall.
_NCMP_TREND = {"R": (1.25, 1.06, 1.0, 0.98, 0.96), "6": (1.12, 1.09, 1.04, 1.02, 1.0)}
_NCMP_OBESE = {"R": (0.07, 0.13), "6": (0.17, 0.30)}
_NCMP_AGE = {"R": 4, "6": 10}
_NCMP_MEASURED = 0.95


def _ncmp(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    n_w = len(g.wards)
    effects = {yr: _ward_effects(rng, n_w, len(PERIODS), 0.10, 0.06) for yr in ("R", "6")}
    parts: dict[str, list[dict]] = {p: [] for p in PERIODS}
    for k, period in enumerate(PERIODS):
        y = int(period[:4])
        for yr in ("R", "6"):
            age = _NCMP_AGE[yr]
            ward, sex = _draw_cells(rng, g.pop[:, :, age] * _NCMP_MEASURED)
            n = ward.size
            # dob: age `age` on 31 August before the measurement (academic year starting September y).
            lo, hi = _days(dt.date(y - age - 1, 9, 1)), _days(dt.date(y - age, 8, 31))
            dob = rng.integers(lo, hi + 1, size=n)
            # Measured in school time, October to mid-July, on a weekday.
            m_lo, m_hi = _days(dt.date(y, 10, 1)), _days(dt.date(y + 1, 7, 17))
            mdate = _to_weekday(rng.integers(m_lo, m_hi + 1, size=n))
            lo_p, hi_p = _NCMP_OBESE[yr]
            sex_f = np.where(sex == 1, 1.06, 0.94) if yr == "6" else np.where(sex == 1, 1.02, 0.98)
            p_obese = (lo_p + (hi_p - lo_p) * g.dep[ward]) * _NCMP_TREND[yr][k] * effects[yr][ward, k] * sex_f
            p_obese = np.clip(p_obese, 0.005, 0.6)
            obese = rng.random(n) < p_obese
            p_over = np.clip(0.13 / (1 - p_obese), 0, 0.9)  # ~13% overweight (85th-<95th centile)
            over = rng.random(n) < p_over
            centile = np.where(
                obese,
                95.0 + 4.9 * rng.beta(2.0, 0.8, size=n),
                np.where(over, rng.uniform(85.0, 94.94, size=n), 0.1 + 84.8 * rng.beta(1.6, 1.1, size=n)),
            )
            centile = np.round(centile, 1)
            centile = np.where(obese, np.maximum(centile, 95.0), np.minimum(centile, 94.9))
            cols = _common(rng, g, ward, sex)
            cols.update(
                dob=dob, measurement_date=mdate, school_year=np.full(n, yr), bmi_centile=centile,
            )
            parts[period].append(cols)
    total = sum(len(c["dob"]) for p in parts.values() for c in p)
    ids = _ids(rng, "NCMP-", total, 6)
    out: dict[str, pl.DataFrame] = {}
    offset = 0
    for period in PERIODS:
        cols = {k: np.concatenate([c[k] for c in parts[period]]) for k in parts[period][0]}
        n = cols["dob"].size
        cols["child_id"] = ids[offset:offset + n]
        offset += n
        cols["dob"] = _date_series("dob", cols["dob"])
        cols["measurement_date"] = _date_series("measurement_date", cols["measurement_date"])
        df = _frame(cols, _NCMP_COLUMNS).sort("measurement_date", "child_id")
        out[period] = _fmt_dates(df, ["dob", "measurement_date"])
    return out


# ---------------------------------------------------------------- injury admissions (ulh)
_INJ_COLUMNS = ["episode_id", "dob", "gender", "postcode", "ethnicity", "admission_date", "admission_method", "cause"]
_INJ_RATE = 90 / 10_000
_INJ_TREND = (0.84, 1.02, 1.0, 0.97, 0.95)  # 2020/21: lockdowns
#: relative rate by single year of age 0-17: high in infants/toddlers and older teenagers.
_INJ_AGE = np.array([1.5, 1.7, 1.4, 1.1, 0.9, 0.75, 0.7, 0.7, 0.7, 0.75, 0.8, 0.85, 0.95, 1.1, 1.25, 1.35, 1.35, 1.3])
_INJ_ADULT_RATE = 6 / 10_000  # a few 18-19 year olds in the extract, to be excluded
_INJ_EXCLUDED_SHARE = 0.11  # elective, or emergency with cause 'other'


def _injuries(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    n_w = len(g.wards)
    mult = 0.6 + 1.2 * g.dep
    effects = _ward_effects(rng, n_w, len(PERIODS), 0.12, 0.08)
    sex_f = np.array([0.85, 1.15])
    child = g.pop[:, :, :18]
    # Scale so that the county rate is ~90 per 10,000 before noise and trend.
    shape = mult[:, None, None] * sex_f[None, :, None] * _INJ_AGE[None, None, :]
    base = _INJ_RATE * child.sum() / (child * shape).sum()
    parts: dict[str, dict] = {}
    for k, period in enumerate(PERIODS):
        start, end = period_bounds(period, "financial_year")
        d_lo, d_hi = _days(start), _days(end)
        lam = child * shape * base * _INJ_TREND[k] * effects[:, k][:, None, None]
        lam_all = np.concatenate(
            [lam * (1 + _INJ_EXCLUDED_SHARE), g.pop[:, :, 18:20] * _INJ_ADULT_RATE * mult[:, None, None]], axis=2,
        )
        ward, sex, age = _draw_cells(rng, lam_all)
        n = ward.size
        adate = rng.integers(d_lo, d_hi + 1, size=n)
        dob = _dob_for_age(adate, age, rng.random(n))
        excluded = rng.random(n) < _INJ_EXCLUDED_SHARE / (1 + _INJ_EXCLUDED_SHARE)
        elective = excluded & (rng.random(n) < 0.6)
        # Deliberate injury (mostly self-harm) rises in the teens, more in girls.
        p_delib = np.where(age < 10, 0.02, np.where(age < 13, 0.06, np.where(sex == 0, 0.28, 0.12)))
        cause = np.where(rng.random(n) < p_delib, "deliberate", "unintentional")
        cause = np.where(excluded & ~elective, "other", np.where(elective & (rng.random(n) < 0.5), "other", cause))
        cols = _common(rng, g, ward, sex)
        cols.update(
            dob=dob, admission_date=adate, admission_method=np.where(elective, "elective", "emergency"), cause=cause,
        )
        parts[period] = cols
    total = sum(len(c["dob"]) for c in parts.values())
    ids = _ids(rng, "ULH-", total, 7)
    out: dict[str, pl.DataFrame] = {}
    offset = 0
    for period in PERIODS:
        cols = parts[period]
        n = cols["dob"].size
        cols["episode_id"] = ids[offset:offset + n]
        offset += n
        cols["dob"] = _date_series("dob", cols["dob"])
        cols["admission_date"] = _date_series("admission_date", cols["admission_date"])
        df = _frame(cols, _INJ_COLUMNS).sort("admission_date", "episode_id")
        out[period] = _fmt_dates(df, ["dob", "admission_date"])
    return out


# ---------------------------------------------------------------- youth justice disposals (yos)
_YJS_COLUMNS = [
    "young_person_id", "dob", "gender", "postcode", "ethnicity", "disposal_date", "disposal_type",
    "court_disposal", "first_time_entrant",
]
_FTE_RATE = 160 / 100_000
#: first-time entrants are simulated from 2018/19 so that earlier entrants' repeat disposals appear.
_FTE_YEARS = ("2018/19", "2019/20") + PERIODS
_FTE_TREND = (1.12, 1.06, 0.98, 1.0, 0.97, 0.95, 0.93)
_FTE_AGE = np.array([0.15, 0.3, 0.55, 0.9, 1.2, 1.45, 1.6, 1.7])  # ages 10..17
_FTE_SEX = np.array([0.4, 1.6])  # ~80% male
_N_DISPOSALS_P = (0.55, 0.30, 0.15)  # 1, 2 or 3 disposals per young person
# P(court) for a first and a later disposal; types within court / out-of-court.
_P_COURT = (0.30, 0.70)
#: referral_order, fine, community_sentence, custody: ~6% of court disposals in the files are custody.
_COURT_P = {0: (0.73, 0.10, 0.14, 0.03), 1: (0.35, 0.09, 0.48, 0.08)}
_OOC_P = {0: (0.75, 0.25), 1: (0.40, 0.60)}  # youth_caution, youth_conditional_caution


def _yjs(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    n_w = len(g.wards)
    mult = 0.6 + 1.2 * g.dep
    effects = _ward_effects(rng, n_w, len(_FTE_YEARS), 0.15, 0.10)
    yp = g.pop[:, :, 10:18]
    shape = mult[:, None, None] * _FTE_SEX[None, :, None] * _FTE_AGE[None, None, :]
    base = _FTE_RATE * yp.sum() / (yp * shape).sum()
    people = []
    for k, fy in enumerate(_FTE_YEARS):
        start, end = period_bounds(fy, "financial_year")
        lam = yp * shape * base * _FTE_TREND[k] * effects[:, k][:, None, None]
        ward, sex, age_i = _draw_cells(rng, lam)
        n = ward.size
        first = _to_weekday(rng.integers(_days(start), _days(end) - 2, size=n))  # weekday, still in the year
        age = age_i + 10
        dob = _dob_for_age(first, age, rng.random(n))
        people.append(dict(ward=ward, sex=sex, dob=dob, first=first))
    p = {k: np.concatenate([x[k] for x in people]) for k in people[0]}
    n_people = p["ward"].size
    p.update(_common(rng, g, p["ward"], p["sex"]))
    pid = _ids(rng, "YP-", n_people, 6)

    # Disposals: the first (first_time_entrant Y) then 0-2 later ones, 2-18 months apart.
    n_disp = rng.choice(np.arange(1, 4), size=n_people, p=_N_DISPOSALS_P)
    who = np.repeat(np.arange(n_people), n_disp)
    seq = np.arange(who.size) - np.repeat(np.cumsum(n_disp) - n_disp, n_disp)
    gaps = np.where(seq == 0, 0, rng.integers(60, 540, size=who.size))
    cum_gap = np.zeros(who.size, dtype=np.int64)
    # cumulative gap within each person (at most 3 disposals: vectorised by sequence position)
    for s in (1, 2):
        m = seq == s
        cum_gap[m] = cum_gap[np.flatnonzero(m) - 1] + gaps[m]
    ddate = _to_weekday(p["first"][who] + cum_gap)
    later = (seq > 0).astype(int)
    court = rng.random(who.size) < np.array(_P_COURT)[later]
    u = rng.random(who.size)
    court_cdf = np.cumsum(np.array([_COURT_P[0], _COURT_P[1]]), axis=1)[later]
    ooc_cdf = np.cumsum(np.array([_OOC_P[0], _OOC_P[1]]), axis=1)[later]
    court_type = np.array(COURT_DISPOSALS)[np.minimum((u[:, None] > court_cdf).sum(axis=1), 3)]
    ooc_types = np.array(["youth_caution", "youth_conditional_caution"])
    ooc_type = ooc_types[np.minimum((u[:, None] > ooc_cdf).sum(axis=1), 1)]
    dtype_ = np.where(court, court_type, ooc_type)
    age_at = _exact_age(p["dob"][who], ddate)

    frame = pl.DataFrame({
        "young_person_id": pid[who],
        "dob": _date_series("dob", p["dob"][who]),
        "gender": p["gender"][who],
        "postcode": p["postcode"][who],
        "ethnicity": p["ethnicity"][who],
        "disposal_date": _date_series("disposal_date", ddate),
        "disposal_type": dtype_,
        "court_disposal": np.where(court, "Y", "N"),
        "first_time_entrant": np.where(seq == 0, "Y", "N"),
        "_age": age_at,
    }).filter(pl.col("_age") <= 17).drop("_age")  # adults' disposals are not the YOS's
    out: dict[str, pl.DataFrame] = {}
    for period in PERIODS:
        start, end = period_bounds(period, "financial_year")
        df = frame.filter(pl.col("disposal_date").is_between(start, end)).sort("disposal_date", "young_person_id")
        out[period] = _fmt_dates(df.select(_YJS_COLUMNS), ["dob", "disposal_date"])
    return out


# ---------------------------------------------------------------- children's services datasets: helpers
_N_P = len(PERIODS)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _pick(rng: np.random.Generator, n: int, choices: tuple[str, ...], probs) -> np.ndarray:
    """n draws from `choices` with probabilities `probs` (one row of probabilities, or one row per draw)."""
    p = np.asarray(probs, dtype=float)
    cdf = np.cumsum(p, axis=-1)
    cdf = cdf / cdf[..., -1:]
    u = rng.random(n)
    idx = (u[:, None] > (cdf if cdf.ndim == 2 else cdf[None, :])).sum(axis=1)
    return np.asarray(choices)[np.minimum(idx, len(choices) - 1)]


def _dep_c(g: _Geo) -> np.ndarray:
    """Deprivation centred on the county's mean ward (logit-scale covariate)."""
    return g.dep - g.dep.mean()


def _re(rng: np.random.Generator, g: _Geo, sd_ward: float, sd_year: float, n_years: int = _N_P) -> np.ndarray:
    """Additive [ward, year] random effect on the logit or log scale."""
    return rng.normal(0, sd_ward, size=(len(g.wards), 1)) + rng.normal(0, sd_year, size=(len(g.wards), n_years))


#: logit shifts of attainment by Appendix 5 code (index = code): Traveller and Gypsy/Roma pupils far
#: below, Chinese and Indian pupils above, as in DfE attainment by ethnicity.
_ETH_ATTAIN = np.zeros(21)
_ETH_ATTAIN[[3, 4]] = -1.4
_ETH_ATTAIN[[10, 17]] = 0.5
_ETH_ATTAIN[[5]] = -0.15
_ETH_ATTAIN[[14, 16]] = -0.2
_ETH_ATTAIN[[19, 20]] = -0.3


def _start_year(period: str) -> int:
    return int(period[:4])


def _uniform_days(rng: np.random.Generator, lo: dt.date, hi: dt.date, n: int, weekday: bool = True) -> np.ndarray:
    """Days uniformly in [lo, hi], moved off weekends (staying on or before hi)."""
    d = rng.integers(_days(lo), _days(hi) + 1, size=n)
    if weekday:
        d = _to_weekday(d)
        d = np.where(d > _days(hi), d - 3, d)
    return d


def _academic_dob(rng: np.random.Generator, year: int, age: np.ndarray) -> np.ndarray:
    """Dates of birth (days) for academic age `age` at 31 August `year` (born 1 Sep - 31 Aug)."""
    lo = np.array([_days(dt.date(year - a - 1, 9, 1)) for a in range(0, 26)])
    hi = np.array([_days(dt.date(year - a, 8, 31)) for a in range(0, 26)])
    return lo[age] + np.floor(rng.random(age.size) * (hi[age] - lo[age] + 1)).astype(np.int64)


def _exact_dob(event_days: np.ndarray, age: int) -> np.ndarray:
    """Dates of birth exactly `age` years before the event (a birthday on the event date)."""
    return _dob_for_age(event_days, np.full(event_days.size, age), np.full(event_days.size, 0.999999))


def _pupil_traits(rng: np.random.Generator, g: _Geo, ward: np.ndarray, age: np.ndarray) -> dict[str, np.ndarray]:
    """FSM eligibility (about 22%, more in deprived wards, fewer among older pupils) and SEN
    (about 13% SEN support, 3.5% EHC plan)."""
    dep = _dep_c(g)[ward]
    p_fsm = _sigmoid(_logit(0.21) + 2.6 * dep - 0.02 * (age - 10))
    fsm = rng.random(ward.size) < p_fsm
    lin = 0.35 * fsm + 0.8 * dep
    p_ehcp = _sigmoid(_logit(0.033) + lin)
    p_sup = _sigmoid(_logit(0.13) + lin)
    u = rng.random(ward.size)
    sen = np.where(u < p_ehcp, "ehcp", np.where(u < p_ehcp + p_sup * (1 - p_ehcp), "sen_support", "none"))
    return {"fsm": fsm, "sen": sen}


def _with_nulls(name: str, values: np.ndarray, present: np.ndarray) -> pl.Series:
    """`values` where `present`, else null (an empty cell in the supply)."""
    return pl.DataFrame({"v": values, "p": present}).select(pl.when(pl.col("p")).then(pl.col("v")).alias(name))[name]


def _flag(b: np.ndarray) -> np.ndarray:
    return np.where(b, "Y", "N")


def _series(name: str, values) -> pl.Series:
    """A column for polars: numpy text through its distinct values (much faster than element by element)."""
    if isinstance(values, pl.Series):
        return values.rename(name)
    arr = np.asarray(values)
    if arr.dtype.kind == "U":
        uniq, inverse = np.unique(arr, return_inverse=True)
        return pl.Series(name, uniq).gather(inverse.astype(np.int64))
    return pl.Series(name, arr)


def _assemble(
    rng: np.random.Generator,
    parts: dict[str, dict[str, np.ndarray]],
    id_field: str,
    prefix: str,
    width: int,
    order: list[str],
    date_cols: list[str],
    event: str,
) -> dict[str, pl.DataFrame]:
    """One frame per period from column arrays (dates as day numbers): ids distinct across the dataset
    and in random order, rows sorted by event date and id, dates as DD/MM/YYYY."""
    total = sum(len(c["dob"]) for c in parts.values())
    space = 10**width
    if total > space // 2:
        raise ValueError(f"too many {prefix} ids for width {width}")
    nums = rng.choice(space - 1, size=total, replace=False) + 1
    out: dict[str, pl.DataFrame] = {}
    offset = 0
    for period in PERIODS:
        cols = parts[period]
        n = cols["dob"].size
        frame = {c: _series(c, cols[c]) for c in order if c != id_field and c not in date_cols}
        for c in date_cols:  # day numbers: they sort as the dates do
            frame[c] = pl.Series(c, np.asarray(cols[c], dtype=np.int64))
        frame["_num"] = pl.Series("_num", nums[offset:offset + n])
        offset += n
        df = pl.DataFrame(frame).sort(event, "_num").with_columns(
            pl.concat_str([pl.lit(prefix), pl.col("_num").cast(pl.String).str.zfill(width)]).alias(id_field),
            *[_day_text(pl.col(c)).alias(c) for c in date_cols],
        )
        out[period] = df.select(order)
    return out


_DAY_TEXT_FROM = _days(dt.date(1990, 1, 1))
#: DD/MM/YYYY of every day from 1990 to 2030, looked up by day number (much faster than formatting).
_DAY_TEXT = pl.Series(
    "t",
    [f"{d[8:10]}/{d[5:7]}/{d[:4]}" for d in np.datetime_as_string(
        np.arange(_DAY_TEXT_FROM, _days(dt.date(2031, 1, 1))).astype("datetime64[D]"))],
)


def _day_text(days: pl.Expr) -> pl.Expr:
    return pl.lit(_DAY_TEXT).gather(days - _DAY_TEXT_FROM)


def _people(
    rng: np.random.Generator, g: _Geo, lam: np.ndarray, ages: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson counts over lam[ward, sex, age index] -> ward, sex, age (years) per person."""
    ward, sex, ai = _draw_cells(rng, lam)
    return ward, sex, ages[ai]


# ---------------------------------------------------------------- children's social care (lcc_csc)
CSC_SUPPLIER = "Lincolnshire County Council Children's Social Care"
_REF_RATE = 500 / 10_000  # referrals a year per child aged 0-17
_REF_AGE = np.array([1.6, 1.2, 1.1, 1.0, 1.0, 0.95, 0.9, 0.9, 0.85, 0.85, 0.9, 0.95, 1.0, 1.1, 1.15, 1.15, 1.05, 0.9])
_REF_TREND = (0.92, 1.0, 1.03, 1.05, 1.04)
_REF_SOURCES = ("police", "school", "health", "la_services", "individual", "other")
_REF_SOURCE_P = (0.29, 0.20, 0.15, 0.13, 0.08, 0.15)
_REF_COLUMNS = ["referral_id", "dob", "gender", "postcode", "ethnicity", "referral_date", "referral_source",
                "led_to_assessment", "re_referral"]
_ASS_COLUMNS = ["assessment_id", "dob", "gender", "postcode", "ethnicity", "completion_date", "assessment_type",
                "start_date", "working_days"]
_CPS_COLUMNS = ["plan_id", "dob", "gender", "postcode", "ethnicity", "plan_start_date", "initial_category",
                "previous_plan"]
_CPE_COLUMNS = ["plan_id", "dob", "gender", "postcode", "ethnicity", "plan_end_date", "plan_start_date",
                "duration_days"]
_CP_CATEGORIES = ("neglect", "emotional_abuse", "physical_abuse", "sexual_abuse", "multiple")
_CP_CATEGORY_P = (0.50, 0.33, 0.07, 0.04, 0.06)
_CP_RATE = 45 / 10_000
_CP_AGE = np.array([2.0, 1.5, 1.4, 1.3, 1.2, 1.1, 1.05, 1.0, 0.95, 0.9, 0.85, 0.8, 0.8, 0.75, 0.7, 0.6, 0.5, 0.35])
_LAC_COLUMNS = ["child_id", "dob", "gender", "postcode", "ethnicity", "snapshot_date", "legal_status",
                "placements_in_year", "months_looked_after", "months_in_placement", "placed_for_adoption", "sdq_score"]
LAC_LEGAL_STATUS = ("C1", "C2", "E1", "J2", "L2", "V2", "V3", "V4")
_LAC_STATUS_P = (0.08, 0.64, 0.06, 0.01, 0.01, 0.17, 0.02, 0.01)
_LAC_RATE = 48 / 10_000
_LAC_AGE = np.array([0.7, 0.8, 0.8, 0.8, 0.8, 0.85, 0.85, 0.9, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6])
_CL_COLUMNS = ["young_person_id", "dob", "gender", "postcode", "ethnicity", "birthday_19", "accommodation", "activity"]
CARE_LEAVER_ACTIVITY = ("higher_education", "other_education", "training", "employment", "neet_illness_disability",
                        "neet_other", "not_in_touch")
_CL_ACTIVITY_P = (0.07, 0.19, 0.08, 0.24, 0.10, 0.24, 0.08)


#: Bank holidays in England and Wales 2019-2026 (gov.uk; 2020 VE day, 2022 jubilee and state funeral,
#: 2023 coronation included), YYYYMMDD.
_BANK_HOLIDAYS = (
    "20190101 20190419 20190422 20190506 20190527 20190826 20191225 20191226 20200101 20200410 20200413 20200508 "
    "20200525 20200831 20201225 20201228 20210101 20210402 20210405 20210503 20210531 20210830 20211227 20211228 "
    "20220103 20220415 20220418 20220502 20220602 20220603 20220829 20220919 20221226 20221227 20230102 20230407 "
    "20230410 20230501 20230508 20230529 20230828 20231225 20231226 20240101 20240329 20240401 20240506 20240527 "
    "20240826 20241225 20241226 20250101 20250418 20250421 20250505 20250526 20250825 20251225 20251226 20260101 "
    "20260403 20260406 20260504 20260525 20260831 20261225 20261228"
)


def _bank_holidays() -> np.ndarray:
    return np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in _BANK_HOLIDAYS.split()], dtype="datetime64[D]")


def _referrals(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    dep = _dep_c(g)
    re_rate = _re(rng, g, 0.15, 0.08)
    re_p = _re(rng, g, 0.35, 0.20)
    ages = np.arange(18)
    child = g.pop[:, :, :18]
    shape = np.exp(1.6 * dep)[:, None, None] * _REF_AGE[None, None, :]
    base = _REF_RATE * child.sum() / (child * shape).sum()
    parts = {}
    for k, period in enumerate(PERIODS):
        lo, hi = period_bounds(period, "financial_year")
        lam = child * shape * base * _REF_TREND[k] * np.exp(re_rate[:, k])[:, None, None]
        ward, sex, age = _people(rng, g, lam, ages)
        n = ward.size
        rdate = _uniform_days(rng, lo, hi, n)
        cols = _common(rng, g, ward, sex)
        p_ia = _sigmoid(_logit(0.78) + 0.03 * k + re_p[ward, k] + 0.4 * dep[ward])
        cols.update(
            dob=_dob_for_age(rdate, age, rng.random(n)), referral_date=rdate,
            referral_source=_pick(rng, n, _REF_SOURCES, _REF_SOURCE_P),
            led_to_assessment=_flag(rng.random(n) < p_ia), re_referral=_flag(rng.random(n) < 0.21 + 0.06 * dep[ward]),
        )
        parts[period] = cols
    return _assemble(rng, parts, "referral_id", "REF-", 7, _REF_COLUMNS, ["dob", "referral_date"], "referral_date")


def _assessments(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    """Initial (~78% of referrals) and core assessments; working days counted without weekends and
    bank holidays, from the start (referral or commencement) to completion."""
    dep = _dep_c(g)
    hol = _bank_holidays()
    re_rate = _re(rng, g, 0.15, 0.08)
    re_i = _re(rng, g, 0.45, 0.30)
    re_c = _re(rng, g, 0.45, 0.30)
    ages = np.arange(18)
    child = g.pop[:, :, :18]
    shape = np.exp(1.6 * dep)[:, None, None] * _REF_AGE[None, None, :]
    base = _REF_RATE * child.sum() / (child * shape).sum()
    parts = {}
    for k, period in enumerate(PERIODS):
        lo, hi = period_bounds(period, "financial_year")
        lam = child * shape * base * _REF_TREND[k] * np.exp(re_rate[:, k])[:, None, None] * 1.12
        ward, sex, age = _people(rng, g, lam, ages)
        n = ward.size
        core = rng.random(n) < 0.31
        completion = np.busday_offset(
            (_uniform_days(rng, lo, hi - dt.timedelta(days=6), n) + _EPOCH).astype("datetime64[D]"), 0,
            roll="forward", holidays=hol,
        )
        p_in = np.where(
            core, _sigmoid(_logit(0.80) + 0.1 * k + re_c[ward, k]), _sigmoid(_logit(0.74) + 0.12 * k + re_i[ward, k])
        )
        within = rng.random(n) < p_in
        wd = np.where(
            core,
            np.where(within, rng.integers(12, 36, n), 36 + rng.geometric(0.08, n)),
            np.where(within, rng.integers(1, 8, n), 8 + rng.geometric(0.15, n)),
        )
        start = np.busday_offset(completion, -wd, roll="forward", holidays=hol)
        completion_days = (completion - _EPOCH).astype(np.int64)
        cols = _common(rng, g, ward, sex)
        cols.update(
            dob=_dob_for_age(completion_days, age, rng.random(n)), completion_date=completion_days,
            assessment_type=np.where(core, "core", "initial"), start_date=(start - _EPOCH).astype(np.int64),
            working_days=np.busday_count(start, completion, holidays=hol).astype(np.int64),
        )
        parts[period] = cols
    return _assemble(rng, parts, "assessment_id", "ASM-", 7, _ASS_COLUMNS, ["dob", "completion_date", "start_date"],
                     "completion_date")


def _cp_lam(g: _Geo, dep: np.ndarray, re: np.ndarray, k: int, trend: tuple[float, ...]) -> np.ndarray:
    child = g.pop[:, :, :18]
    shape = np.exp(2.0 * dep)[:, None, None] * _CP_AGE[None, None, :]
    base = _CP_RATE * child.sum() / (child * shape).sum()
    return child * shape * base * trend[k] * np.exp(re[:, k])[:, None, None]


def _cp_starts(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    dep = _dep_c(g)
    re = _re(rng, g, 0.25, 0.12)
    re_p = _re(rng, g, 0.30, 0.20)
    parts = {}
    for k, period in enumerate(PERIODS):
        lo, hi = period_bounds(period, "financial_year")
        ward, sex, age = _people(rng, g, _cp_lam(g, dep, re, k, (0.95, 1.0, 1.02, 1.0, 0.98)), np.arange(18))
        n = ward.size
        start = _uniform_days(rng, lo, hi, n)
        cols = _common(rng, g, ward, sex)
        cols.update(
            dob=_dob_for_age(start, age, rng.random(n)), plan_start_date=start,
            initial_category=_pick(rng, n, _CP_CATEGORIES, _CP_CATEGORY_P),
            previous_plan=_flag(rng.random(n) < _sigmoid(_logit(0.22) + re_p[ward, k] + 0.3 * dep[ward])),
        )
        parts[period] = cols
    return _assemble(rng, parts, "plan_id", "CPP-", 6, _CPS_COLUMNS, ["dob", "plan_start_date"], "plan_start_date")


def _cp_ends(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    dep = _dep_c(g)
    re = _re(rng, g, 0.25, 0.12)
    parts = {}
    for k, period in enumerate(PERIODS):
        lo, hi = period_bounds(period, "financial_year")
        ward, sex, age = _people(rng, g, _cp_lam(g, dep, re, k, (0.93, 1.0, 1.03, 1.01, 0.98)), np.arange(18))
        n = ward.size
        end = _uniform_days(rng, lo, hi, n)
        long_ = rng.random(n) < 0.035 + 0.01 * (k == 0)
        duration = np.where(long_, rng.integers(730, 1100, n), np.minimum(rng.gamma(2.2, 120, n).astype(np.int64) + 20, 729))
        dob = _dob_for_age(end, age, rng.random(n))
        duration = np.minimum(duration, end - dob)  # a plan cannot start before birth
        cols = _common(rng, g, ward, sex)
        cols.update(dob=dob, plan_end_date=end, plan_start_date=end - duration, duration_days=duration)
        parts[period] = cols
    return _assemble(rng, parts, "plan_id", "CPE-", 6, _CPE_COLUMNS, ["dob", "plan_end_date", "plan_start_date"],
                     "plan_end_date")


def _lac(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    """Children looked after at 31 March (SSDA903 snapshot): the event date is the 31 March."""
    dep = _dep_c(g)
    re = _re(rng, g, 0.25, 0.06)
    re_move = _re(rng, g, 0.25, 0.20)
    child = g.pop[:, :, :18]
    shape = np.exp(2.2 * dep)[:, None, None] * _LAC_AGE[None, None, :]
    base = _LAC_RATE * child.sum() / (child * shape).sum()
    parts = {}
    for k, period in enumerate(PERIODS):
        snap = _days(dt.date(_start_year(period) + 1, 3, 31))
        lam = child * shape * base * (0.97, 1.0, 1.02, 1.03, 1.04)[k] * np.exp(re[:, k])[:, None, None]
        ward, sex, age = _people(rng, g, lam, np.arange(18))
        n = ward.size
        snapshot = np.full(n, snap)
        status = _pick(rng, n, LAC_LEGAL_STATUS, _LAC_STATUS_P)
        age_months = age * 12 + rng.integers(0, 12, n)
        mla = np.minimum(np.round(rng.exponential(34, n)).astype(np.int64) + 1, age_months + 1)
        moves = np.where(
            rng.random(n) < _sigmoid(_logit(0.10) + 0.25 * (age >= 13) + re_move[ward, k]),
            3 + rng.poisson(0.6, n), 1 + (rng.random(n) < 0.25),
        )
        stable = rng.random(n) < 0.70
        mip = np.where(stable & (mla >= 24), rng.integers(24, np.maximum(mla, 24) + 1), rng.integers(0, np.minimum(mla, 23) + 1))
        mip = np.minimum(mip, mla)
        adoption = (status == "E1") & (mip < 24) & (rng.random(n) < 0.5)
        eligible = (age >= 4) & (age <= 16) & (mla >= 12)
        has_sdq = eligible & (rng.random(n) < 0.78)
        sdq = np.clip(np.round(rng.normal(13.6 + 1.4 * (age >= 10) + 1.5 * dep[ward], 6.5)), 0, 40).astype(np.int64)
        cols = _common(rng, g, ward, sex)
        cols.update(
            dob=_dob_for_age(snapshot, age, rng.random(n)), snapshot_date=snapshot, legal_status=status,
            placements_in_year=moves.astype(np.int64), months_looked_after=mla, months_in_placement=mip,
            placed_for_adoption=_flag(adoption),
            sdq_score=_with_nulls("sdq_score", sdq, has_sdq),  # blank: no valid SDQ
        )
        parts[period] = cols
    return _assemble(rng, parts, "child_id", "LAC-", 6, _LAC_COLUMNS, ["dob", "snapshot_date"], "snapshot_date")


def _care_leavers(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    """Former relevant young people, one record at their 19th birthday."""
    dep = _dep_c(g)
    re = _re(rng, g, 0.2, 0.1)
    pop18 = g.pop[:, :, 18:19]
    shape = np.exp(2.2 * dep)[:, None, None]
    base = 0.013 * pop18.sum() / (pop18 * shape).sum()
    parts = {}
    for k, period in enumerate(PERIODS):
        lo, hi = period_bounds(period, "financial_year")
        ward, sex, _ = _people(rng, g, pop18 * shape * base * np.exp(re[:, k])[:, None, None], np.array([19]))
        n = ward.size
        bday = rng.integers(_days(lo), _days(hi) + 1, size=n)
        suitable = rng.random(n) < 0.86 + 0.01 * k
        cols = _common(rng, g, ward, sex)
        cols.update(
            dob=_exact_dob(bday, 19), birthday_19=bday,
            accommodation=np.where(suitable, "suitable", np.where(rng.random(n) < 0.6, "unsuitable", "not_known")),
            activity=_pick(rng, n, CARE_LEAVER_ACTIVITY, _CL_ACTIVITY_P),
        )
        parts[period] = cols
    return _assemble(rng, parts, "young_person_id", "CL-", 5, _CL_COLUMNS, ["dob", "birthday_19"], "birthday_19")


# ---------------------------------------------------------------- education (lcc_edu)
EDU_SUPPLIER = "Lincolnshire County Council Education"
SEN_VALUES = ("none", "sen_support", "ehcp")
_EYFSP_COLUMNS = ["pupil_id", "dob", "gender", "postcode", "ethnicity", "assessment_date", "gld", "total_points",
                  "fsm", "sen"]
_KS2_COLUMNS = ["pupil_id", "dob", "gender", "postcode", "ethnicity", "assessment_date", "english_expected",
                "maths_expected", "rwm_expected", "fsm", "sen", "looked_after"]
_KS4_COLUMNS = ["pupil_id", "dob", "gender", "postcode", "ethnicity", "results_date", "english_grade", "maths_grade",
                "attainment8", "fsm", "sen", "looked_after"]
_CENSUS_COLUMNS = ["pupil_id", "dob", "gender", "postcode", "ethnicity", "census_date", "phase", "fsm", "sen",
                   "sessions_possible", "sessions_absent", "absence_pct", "permanently_excluded", "suspensions"]
_A19_COLUMNS = ["learner_id", "dob", "gender", "postcode", "ethnicity", "record_date", "level2_by_19", "level3_by_19",
                "fsm_at_15"]
#: share of resident children in state-funded schools and assessed
_IN_STATE_SCHOOL = 0.95
_LAC_SHARE = 0.005  # looked after continuously for 12 months at 31 March


def _cohort(rng: np.random.Generator, g: _Geo, ages: list[int], year: int, share: float = _IN_STATE_SCHOOL):
    """Pupils of the given academic ages resident in each ward: ward, sex, age, dob (days)."""
    ward, sex, age = _people(rng, g, g.pop[:, :, ages] * share, np.asarray(ages))
    return ward, sex, age, _academic_dob(rng, year, age)


def _attain_lin(g: _Geo, ward: np.ndarray, traits: dict, eth: np.ndarray, re: np.ndarray, k: int,
                lac: np.ndarray | None = None) -> np.ndarray:
    """Linear predictor of attainment: deprivation, FSM, SEN, ethnicity, looked after, ward-year effect."""
    out = (
        -1.1 * _dep_c(g)[ward] - 0.85 * traits["fsm"] - 1.5 * (traits["sen"] == "sen_support")
        - 2.8 * (traits["sen"] == "ehcp") + _ETH_ATTAIN[eth] + re[ward, k]
    )
    if lac is not None:
        out = out - 1.0 * lac
    return out


def _eyfsp(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    re = _re(rng, g, 0.20, 0.10)
    trend = (0.60, 0.64, 0.665, 0.675, 0.685)
    parts = {}
    for k, period in enumerate(PERIODS):
        y = _start_year(period)
        ward, sex, age, dob = _cohort(rng, g, [4], y)
        n = ward.size
        traits = _pupil_traits(rng, g, ward, age)
        cols = _common(rng, g, ward, sex)
        lin = _attain_lin(g, ward, traits, cols["ethnicity"], re, k) + np.where(sex == 0, 0.25, -0.25)
        gld = rng.random(n) < _sigmoid(_logit(trend[k]) + 0.6 + lin)
        points = np.where(gld, rng.integers(30, 35, n), rng.integers(17, 32, n))
        cols.update(
            dob=dob, assessment_date=_uniform_days(rng, dt.date(y + 1, 6, 3), dt.date(y + 1, 6, 28), n),
            gld=_flag(gld), total_points=points.astype(np.int64), fsm=_flag(traits["fsm"]), sen=traits["sen"],
        )
        parts[period] = cols
    return _assemble(rng, parts, "pupil_id", "EY", 7, _EYFSP_COLUMNS, ["dob", "assessment_date"], "assessment_date")


def _ks2(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    re = _re(rng, g, 0.20, 0.10)
    trend = (0.60, 0.57, 0.58, 0.59, 0.60)
    parts = {}
    for k, period in enumerate(PERIODS):
        y = _start_year(period)
        ward, sex, age, dob = _cohort(rng, g, [10], y)
        n = ward.size
        traits = _pupil_traits(rng, g, ward, age)
        lac = rng.random(n) < _LAC_SHARE * np.exp(1.5 * _dep_c(g)[ward])
        cols = _common(rng, g, ward, sex)
        lin = _attain_lin(g, ward, traits, cols["ethnicity"], re, k, lac) + _logit(trend[k]) + 0.55
        eng = rng.random(n) < _sigmoid(lin + 0.75 + np.where(sex == 0, 0.3, -0.3))
        maths = rng.random(n) < _sigmoid(lin + np.where(eng, 1.5, -1.7))
        cols.update(
            dob=dob, assessment_date=_uniform_days(rng, dt.date(y + 1, 7, 1), dt.date(y + 1, 7, 12), n),
            english_expected=_flag(eng), maths_expected=_flag(maths), rwm_expected=_flag(eng & maths),
            fsm=_flag(traits["fsm"]), sen=traits["sen"], looked_after=_flag(lac),
        )
        parts[period] = cols
    return _assemble(rng, parts, "pupil_id", "K2", 7, _KS2_COLUMNS, ["dob", "assessment_date"], "assessment_date")


def _ks4(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    re = _re(rng, g, 0.15, 0.08)
    trend = (0.45, 0.30, 0.05, 0.03, 0.04)  # teacher-assessed grades in 2020/21, then back to normal
    parts = {}
    for k, period in enumerate(PERIODS):
        y = _start_year(period)
        ward, sex, age, dob = _cohort(rng, g, [15], y)
        n = ward.size
        traits = _pupil_traits(rng, g, ward, age)
        lac = rng.random(n) < _LAC_SHARE * np.exp(1.5 * _dep_c(g)[ward])
        cols = _common(rng, g, ward, sex)
        ability = 0.62 * (_attain_lin(g, ward, traits, cols["ethnicity"], re, k) - 1.6 * lac) + rng.normal(0, 1, n)
        eng = np.clip(np.round(5.3 + trend[k] + 1.55 * ability + rng.normal(0, 0.8, n) + np.where(sex == 0, 0.3, -0.3)), 0, 9)
        mat = np.clip(np.round(5.1 + trend[k] + 1.6 * ability + rng.normal(0, 0.8, n)), 0, 9)
        a8 = np.clip(np.round(50 + 10 * trend[k] + 17 * ability + rng.normal(0, 4, n)), 0, 90)
        cols.update(
            dob=dob, results_date=np.full(n, _thursday_on_or_after(dt.date(y + 1, 8, 18))),
            english_grade=eng.astype(np.int64), maths_grade=mat.astype(np.int64), attainment8=a8.astype(np.int64),
            fsm=_flag(traits["fsm"]), sen=traits["sen"], looked_after=_flag(lac),
        )
        parts[period] = cols
    return _assemble(rng, parts, "pupil_id", "K4", 7, _KS4_COLUMNS, ["dob", "results_date"], "results_date")


def _thursday_on_or_after(d: dt.date) -> int:
    first = _days(d)
    return first + (3 - (first + 3) % 7) % 7  # 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on a Monday


def _census_day(year: int) -> int:
    """The spring school census: the third Thursday of January."""
    return _thursday_on_or_after(dt.date(year, 1, 1)) + 14


def _school_census(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    """Spring census pupils (academic ages 4-15) with the year's absence and exclusions."""
    re = _re(rng, g, 0.15, 0.08)
    # persistent absence (20%+) rose after the pandemic
    pa_trend = (0.0, 0.35, 0.30, 0.22, 0.18)
    parts = {}
    for k, period in enumerate(PERIODS):
        y = _start_year(period)
        ward, sex, age, dob = _cohort(rng, g, list(range(4, 16)), y)
        n = ward.size
        traits = _pupil_traits(rng, g, ward, age)
        secondary = age >= 11
        special = (traits["sen"] == "ehcp") & (rng.random(n) < 0.45)
        phase = np.where(special, "special", np.where(secondary, "secondary", "primary"))
        possible = np.where(rng.random(n) < 0.93, rng.integers(318, 331, n), rng.integers(120, 318, n))
        mean = np.exp(
            np.log(np.where(secondary, 0.072, 0.050)) + pa_trend[k] + 0.45 * traits["fsm"] + 0.35 * _dep_c(g)[ward]
            + 0.35 * (traits["sen"] != "none") + 0.8 * re[ward, k]
        )
        pct = np.clip(rng.gamma(1.3, mean / 1.3), 0, 1)
        absent = np.round(pct * possible).astype(np.int64)
        p_excl = np.where(secondary, 0.0011, 0.0001) * np.where(traits["fsm"], 3.0, 0.7) * (1 + 1.5 * (traits["sen"] != "none"))
        cols = _common(rng, g, ward, sex)
        cols.update(
            dob=dob, census_date=np.full(n, _census_day(y + 1)), phase=phase, fsm=_flag(traits["fsm"]),
            sen=traits["sen"], sessions_possible=possible.astype(np.int64), sessions_absent=absent,
            absence_pct=np.round(100 * absent / possible, 1), permanently_excluded=_flag(rng.random(n) < p_excl),
            suspensions=rng.poisson(np.where(secondary, 0.11, 0.02) * np.where(traits["fsm"], 2.5, 0.8)).astype(np.int64),
        )
        parts[period] = cols
    return _assemble(rng, parts, "pupil_id", "SC", 7, _CENSUS_COLUMNS, ["dob", "census_date"], "census_date")


def _attainment_19(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    """Matched attainment by 19 (NPD/ILR) of young people of academic age 18, by residence at 15."""
    re = _re(rng, g, 0.15, 0.08)
    parts = {}
    for k, period in enumerate(PERIODS):
        y = _start_year(period)
        ward, sex, age, dob = _cohort(rng, g, [18], y)
        n = ward.size
        traits = _pupil_traits(rng, g, ward, np.full(n, 15))
        cols = _common(rng, g, ward, sex)
        lin = _attain_lin(g, ward, traits, cols["ethnicity"], re, k) + np.where(sex == 0, 0.2, -0.2)
        l2 = rng.random(n) < _sigmoid(_logit(0.80) + 0.45 + 0.8 * lin)
        l3 = l2 & (rng.random(n) < _sigmoid(_logit(0.70) + 0.55 + 0.8 * lin + 0.02 * k))
        cols.update(
            dob=dob, record_date=np.full(n, _days(dt.date(y + 1, 7, 31))), level2_by_19=_flag(l2),
            level3_by_19=_flag(l3), fsm_at_15=_flag(traits["fsm"]),
        )
        parts[period] = cols
    return _assemble(rng, parts, "learner_id", "A19-", 6, _A19_COLUMNS, ["dob", "record_date"], "record_date")


# ---------------------------------------------------------------- Connexions (connexions)
CONNEXIONS_SUPPLIER = "Lincolnshire County Council Connexions"
CCIS_ACTIVITIES = (
    "full_time_education", "apprenticeship", "work_based_learning", "employment_with_training",
    "employment_without_training", "temporary_break", "neet_available", "neet_not_available", "custody",
    "asylum_seeker", "not_known",
)
#: activity shares at academic age 16, 17 and 18 (before the NEET and deprivation adjustment)
_CCIS_P = {
    16: (0.880, 0.040, 0.020, 0.010, 0.010, 0.004, 0.016, 0.008, 0.001, 0.001, 0.010),
    17: (0.780, 0.070, 0.030, 0.020, 0.025, 0.005, 0.030, 0.013, 0.002, 0.001, 0.024),
    18: (0.450, 0.100, 0.030, 0.070, 0.150, 0.010, 0.060, 0.030, 0.002, 0.001, 0.097),
}
_CCIS_COLUMNS = ["young_person_id", "dob", "gender", "postcode", "ethnicity", "snapshot_date", "activity"]


def _ccis(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    """Young people of academic age 16-18 known to Connexions at the end-January snapshot."""
    re = _re(rng, g, 0.20, 0.12)
    dep = _dep_c(g)
    probs = np.array([_CCIS_P[a] for a in (16, 17, 18)])
    neet = np.array([i for i, a in enumerate(CCIS_ACTIVITIES) if a.startswith("neet")])
    parts = {}
    for k, period in enumerate(PERIODS):
        y = _start_year(period)
        ward, sex, age, dob = _cohort(rng, g, [16, 17, 18], y, share=0.97)
        n = ward.size
        p = probs[age - 16].copy()
        # NEET odds rise with deprivation, the ward's effect and a 2020/21 peak
        p[:, neet] *= np.exp(1.3 * dep[ward] + re[ward, k] + (0.25, 0.1, 0.0, -0.05, -0.05)[k])[:, None]
        cols = _common(rng, g, ward, sex)
        cols.update(
            dob=dob, snapshot_date=np.full(n, _days(dt.date(y + 1, 1, 31))), activity=_pick(rng, n, CCIS_ACTIVITIES, p),
        )
        parts[period] = cols
    return _assemble(rng, parts, "young_person_id", "CX", 7, _CCIS_COLUMNS, ["dob", "snapshot_date"], "snapshot_date")


# ---------------------------------------------------------------- 0-19 health services (lcc_phealth)
PHEALTH_SUPPLIER = "Lincolnshire County Council Public Health (0-19 Health Services)"
FEEDING_STATUS = ("totally_breastfed", "partially_breastfed", "not_breastfed", "not_known")
_FEED_COLUMNS = ["infant_id", "dob", "gender", "postcode", "ethnicity", "check_due_date", "feeding_status"]


def _infant_feeding(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    """Infants due their 6-8 week check (due at 8 weeks old), with feeding status."""
    re = _re(rng, g, 0.20, 0.15)
    dep = _dep_c(g)
    parts = {}
    for k, period in enumerate(PERIODS):
        lo, hi = period_bounds(period, "financial_year")
        ward, sex, _ = _people(rng, g, g.pop[:, :, 0:1] * (1.0, 0.98, 0.97, 0.96, 0.95)[k], np.array([0]))
        n = ward.size
        due = rng.integers(_days(lo), _days(hi) + 1, size=n)
        cols = _common(rng, g, ward, sex)
        eth = cols["ethnicity"]
        lin = _logit(0.45) + 0.03 * k - 1.5 * dep[ward] + re[ward, k] + np.where(eth == 1, 0.0, 0.9)
        any_bf = rng.random(n) < _sigmoid(lin)
        known = rng.random(n) < 0.96
        status = np.where(
            ~known, "not_known",
            np.where(any_bf, np.where(rng.random(n) < 0.66, "totally_breastfed", "partially_breastfed"), "not_breastfed"),
        )
        cols.update(dob=due - 56, check_due_date=due, feeding_status=status)
        parts[period] = cols
    return _assemble(rng, parts, "infant_id", "INF-", 6, _FEED_COLUMNS, ["dob", "check_due_date"], "check_due_date")


# ---------------------------------------------------------------- sexual health (lish)
SH_SUPPLIER = "Lincolnshire Integrated Sexual Health Service"
_CONC_COLUMNS = ["conception_id", "dob", "gender", "postcode", "ethnicity", "conception_date", "outcome"]
#: conceptions a year per girl by age 13-19
_CONC_RATE = np.array([0.0005, 0.002, 0.006, 0.014, 0.026, 0.038, 0.050])
_CHL_COLUMNS = ["test_id", "dob", "gender", "postcode", "ethnicity", "test_date", "setting", "result",
                "first_test_in_year"]
CHLAMYDIA_SETTINGS = ("sexual_health_clinic", "gp", "pharmacy", "online", "other")
#: people tested a year per resident, by age 15-24 (20-24 from the age-19 population), girls then boys
_CHL_RATE = np.array([
    [0.03, 0.08, 0.14, 0.20, 0.24, 0.25, 0.25, 0.23, 0.21, 0.19],
    [0.01, 0.03, 0.05, 0.08, 0.10, 0.11, 0.11, 0.10, 0.09, 0.08],
])


def _conceptions(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    re = _re(rng, g, 0.25, 0.15)
    dep = _dep_c(g)
    girls = g.pop[:, 0, 13:20]
    parts = {}
    for k, period in enumerate(PERIODS):
        lo, hi = period_bounds(period, "financial_year")
        lam = girls * _CONC_RATE[None, :] * np.exp(2.4 * dep + re[:, k] - 0.5)[:, None] * (1.0, 0.97, 0.95, 0.93, 0.92)[k]
        ward, ai = _draw_cells(rng, lam)
        n = ward.size
        age = ai + 13
        when = rng.integers(_days(lo), _days(hi) + 1, size=n)
        cols = _common(rng, g, ward, np.zeros(n, dtype=np.int64))
        cols.update(
            dob=_dob_for_age(when, age, rng.random(n)), conception_date=when,
            outcome=np.where(rng.random(n) < np.where(age < 18, 0.55, 0.45), "abortion", "maternity"),
        )
        parts[period] = cols
    return _assemble(rng, parts, "conception_id", "TC-", 5, _CONC_COLUMNS, ["dob", "conception_date"],
                     "conception_date")


def _chlamydia(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    """Tests of 15-24 year olds; a person's first test in the financial year is flagged, a retest is not."""
    re = _re(rng, g, 0.20, 0.12)
    pop = np.concatenate([g.pop[:, :, 15:20], np.repeat(g.pop[:, :, 19:20], 5, axis=2)], axis=2)
    parts = {}
    for k, period in enumerate(PERIODS):
        lo, hi = period_bounds(period, "financial_year")
        lam = pop * _CHL_RATE[None, :, :] * np.exp(re[:, k])[:, None, None] * (0.85, 0.95, 1.0, 1.0, 1.02)[k]
        ward, sex, ai = _draw_cells(rng, lam)
        n = ward.size
        age = ai + 15
        first = rng.integers(_days(lo), _days(hi) + 1, size=n)
        retest = (rng.random(n) < 0.18) & (first < _days(hi) - 60)
        second = first + rng.integers(30, 120, size=n)
        keep2 = retest & (second <= _days(hi))
        w = np.concatenate([ward, ward[keep2]])
        s = np.concatenate([sex, sex[keep2]])
        person = _common(rng, g, ward, sex)
        m = w.size
        when = np.concatenate([first, second[keep2]])
        dob = _dob_for_age(first, age, rng.random(n))
        positive = rng.random(m) < np.where(s == 0, 0.08, 0.10)
        invalid = rng.random(m) < 0.01
        cols = {key: np.concatenate([v, v[keep2]]) for key, v in person.items()}
        cols.update(
            dob=np.concatenate([dob, dob[keep2]]), test_date=when,
            setting=_pick(rng, m, CHLAMYDIA_SETTINGS, (0.35, 0.22, 0.13, 0.25, 0.05)),
            result=np.where(invalid, "invalid", np.where(positive, "positive", "negative")),
            first_test_in_year=_flag(np.arange(m) < n),
        )
        parts[period] = cols
    return _assemble(rng, parts, "test_id", "CT-", 7, _CHL_COLUMNS, ["dob", "test_date"], "test_date")


# ---------------------------------------------------------------- YOS closures (yos)
YOS_INTERVENTIONS = ("youth_caution_intervention", "referral_order", "youth_rehabilitation_order", "dto_licence")
_CLOSE_COLUMNS = ["young_person_id", "dob", "gender", "postcode", "ethnicity", "closure_date", "intervention",
                  "ete_hours", "ete_suitable", "accommodation_suitable"]


def _yos_closures(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    """YOS-supervised interventions closing in the year (about 40 per 10,000 aged 10-17)."""
    re = _re(rng, g, 0.2, 0.1)
    dep = _dep_c(g)
    yp = g.pop[:, :, 10:18]
    shape = np.exp(1.5 * dep)[:, None, None] * _FTE_SEX[None, :, None] * _FTE_AGE[None, None, :]
    base = 40 / 10_000 * yp.sum() / (yp * shape).sum()
    parts = {}
    for k, period in enumerate(PERIODS):
        lo, hi = period_bounds(period, "financial_year")
        lam = yp * shape * base * np.exp(re[:, k])[:, None, None] * (1.05, 1.0, 0.97, 0.95, 0.93)[k]
        ward, sex, age = _people(rng, g, lam, np.arange(10, 18))
        n = ward.size
        closed = _uniform_days(rng, lo, hi, n)
        school_age = age < 16
        engaged = rng.random(n) < _sigmoid(_logit(0.72) - 0.8 * dep[ward] + 0.05 * k)
        need = np.where(school_age, 25, 16)
        hours = np.where(engaged, need + rng.integers(0, 8, n), rng.integers(0, need))
        cols = _common(rng, g, ward, sex)
        cols.update(
            dob=_dob_for_age(closed, age, rng.random(n)), closure_date=closed,
            intervention=_pick(rng, n, YOS_INTERVENTIONS, (0.35, 0.40, 0.20, 0.05)),
            ete_hours=hours.astype(np.int64), ete_suitable=_flag(hours >= need),
            accommodation_suitable=_flag(rng.random(n) < 0.93),
        )
        parts[period] = cols
    return _assemble(rng, parts, "young_person_id", "YC-", 6, _CLOSE_COLUMNS, ["dob", "closure_date"], "closure_date")


# ---------------------------------------------------------------- aggregate supplies (counts, not records)
ROAD_SUPPLIER = "Lincolnshire Road Safety Partnership"
#: child (0-15) road casualties a year per 100,000 by sex (girls, boys): killed or seriously injured,
#: and slightly injured
_KSI_RATE = np.array([16.0, 30.0]) / 100_000
_SLIGHT_RATE = np.array([95.0, 125.0]) / 100_000
_ROAD_TREND = (0.78, 0.95, 1.0, 0.98, 0.96)  # 2020/21: lockdowns
_ROAD_COLUMNS = ["area_code", "period", "measure", "breakdown", "numerator"]


def _road_casualties(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    """Child road casualties by district of residence, sex and severity (STATS19 casualty home postcode):
    counts, one row per district, measure and breakdown (`all`, `sex=F`, `sex=M`)."""
    hier = geography.hierarchy()
    district = dict(zip(hier["ward_code"].to_list(), hier["district_code"].to_list()))
    codes = sorted({district[w] for w in g.wards})  # the districts of these wards (a chunk of a synthetic England)
    d_of_ward = np.array([codes.index(district[w]) for w in g.wards])
    children = np.zeros((len(codes), 2))
    np.add.at(children, d_of_ward, g.pop[:, :, 0:16].sum(axis=2))
    rural = 1.0 + 0.3 * (1.0 - np.bincount(d_of_ward, weights=g.dep) / np.bincount(d_of_ward))  # rural roads
    parts = {}
    for k, period in enumerate(PERIODS):
        rows = []
        ksi = rng.poisson(children * _KSI_RATE[None, :] * rural[:, None] * _ROAD_TREND[k])
        slight = rng.poisson(children * _SLIGHT_RATE[None, :] * _ROAD_TREND[k])
        for measure, counts in (("ksi", ksi), ("all_severities", ksi + slight)):
            for i, code in enumerate(codes):
                rows.append((code, period, measure, "all", int(counts[i].sum())))
                rows.extend((code, period, measure, f"sex={s}", int(counts[i, j])) for j, s in enumerate("FM"))
        parts[period] = pl.DataFrame(rows, schema=_ROAD_COLUMNS, orient="row")
    return parts


LOW_INCOME_SUPPLIER = "Lincolnshire County Council Business Intelligence"
_LOW_INCOME_BANDS = ((0, 4), (5, 10), (11, 15))
_LOW_INCOME_TREND = (0.0, 0.03, 0.08, 0.10, 0.09)  # logit shifts: cost of living from 2022/23
_LOW_INCOME_COLUMNS = ["area_code", "period", "breakdown", "numerator", "denominator"]


def _low_income(rng: np.random.Generator, g: _Geo) -> dict[str, pl.DataFrame]:
    """Children under 16 in relative low-income families by ward and age band (DWP/HMRC Children in
    Low Income Families local statistics, as the council's intelligence unit supplies them): counts,
    numerator and denominator, one row per ward and breakdown (`all`, `age=0-4`, `age=5-10`, `age=11-15`)."""
    re = _re(rng, g, 0.15, 0.05)
    dep = _dep_c(g)
    parts = {}
    for k, period in enumerate(PERIODS):
        rows = []
        p = _sigmoid(_logit(0.17) + 2.2 * dep[:, None] + re[:, k:k + 1] + _LOW_INCOME_TREND[k]
                     + np.array([0.12, 0.0, -0.08])[None, :])
        den = np.stack([rng.binomial(np.round(g.pop[:, :, lo:hi + 1].sum(axis=(1, 2))).astype(np.int64), 0.96)
                        for lo, hi in _LOW_INCOME_BANDS], axis=1)
        num = rng.binomial(den, p)
        for i, ward in enumerate(g.wards):
            rows.append((ward, period, "all", int(num[i].sum()), int(den[i].sum())))
            rows.extend((ward, period, f"age={lo}-{hi}", int(num[i, j]), int(den[i, j]))
                        for j, (lo, hi) in enumerate(_LOW_INCOME_BANDS))
        parts[period] = pl.DataFrame(rows, schema=_LOW_INCOME_COLUMNS, orient="row")
    return parts


def _aggregate_agreements(fy: str) -> dict[str, dict]:
    return {
        "lrsp": {
            "supplier": ROAD_SUPPLIER,
            "supplier_code": "lrsp",
            "data_protection_registration": "Z1094482",
            "contact": "Road Safety Partnership Data and Intelligence Officer",
            "review_date": dt.date(2026, 9, 30),
            "datasets": [{
                "dataset": "road_casualties", "title": "Child road casualties (aged 0-15) by district of residence",
                "record_level": "aggregate", "indicators": ["NI 48"], "frequency": "annual", "format": "csv",
                "period_basis": "financial_year", "measures": ["ksi", "all_severities"],
                "deviations": "By financial year of the collision (the NI used calendar years) and by the casualty's "
                              "district of residence (STATS19 casualty home postcode), not where the collision "
                              "happened. Counts by district only: ward counts are too small to be useful.",
                "metadata": _metadata(
                    "Counts of casualties aged 0-15 in reported personal-injury road collisions (STATS19), by "
                    "district of residence and sex: `ksi` killed or seriously injured, `all_severities` every "
                    "casualty.", dt.date(2025, 7, 31), dt.date(2026, 7, 31), f"Lincolnshire residents; {fy}"),
            }],
        },
        "lcc_bi": {
            "supplier": LOW_INCOME_SUPPLIER,
            "supplier_code": "lcc_bi",
            "data_protection_registration": LCC_REGISTRATION,
            "contact": "Business Intelligence Manager, Children's Services",
            "review_date": dt.date(2026, 6, 30),
            "datasets": [{
                "dataset": "low_income_children",
                "title": "Children under 16 in relative low-income families, by ward and age band",
                "record_level": "aggregate", "indicators": ["NI 116"], "frequency": "annual", "format": "csv",
                "period_basis": "financial_year", "denominator": True,
                "deviations": "DWP/HMRC Children in Low Income Families local statistics (relative low income, "
                              "before housing costs), the successor of the HMRC measure the NI used; counts "
                              "re-supplied by ward on 2025 boundaries.",
                "metadata": _metadata(
                    "Numerator: children under 16 in families with relative low income (below 60% of median, "
                    "before housing costs) claiming Child Benefit and at least one other benefit; denominator: "
                    "children under 16 in families claiming Child Benefit. By ward and age band.",
                    dt.date(2025, 4, 30), dt.date(2026, 4, 30), f"Lincolnshire residents; {fy}"),
            }],
        },
    }


# ---------------------------------------------------------------- agreements (protocol Appendix 1)
def _metadata(description: str, provided: dt.date, refresh: dt.date, coverage: str) -> dict:
    return {"description": description, "date_provided": provided, "refresh_date": refresh, "coverage": coverage}


def _agreements() -> dict[str, dict]:
    return {
        "lchs": {
            "supplier": "Lincolnshire Community Health Services NHS Trust",
            "supplier_code": "lchs",
            "data_protection_registration": "Z2718548",
            "contact": "Information Governance Lead, School Nursing Service",
            "review_date": dt.date(2026, 9, 1),
            "datasets": [{
                "dataset": "ncmp",
                "title": "National Child Measurement Programme: Reception and Year 6 measurements",
                "record_level": "client",
                "indicators": ["NI 55", "NI 56"],
                "frequency": "annual",
                "format": "xlsx",
                "period_basis": "academic_year",
                "event_date_field": "measurement_date",
                "id_field": "child_id",
                "fields": [
                    {"name": "child_id", "type": "string", "description": "NCMP child identifier, stable per child"},
                    {"name": "measurement_date", "type": "date", "description": "date measured (DD/MM/YYYY)"},
                    {"name": "school_year", "type": "category", "values": ["R", "6"],
                     "description": "R = Reception, 6 = Year 6"},
                    {"name": "bmi_centile", "type": "number", "min": 0, "max": 100,
                     "description": "BMI centile, UK90 reference for age and sex, 1 decimal place"},
                ],
                "deviations": "Ethnicity as recorded in the school census; code 20 where not yet obtained. "
                              "Children measured but not resident in Lincolnshire are excluded by the supplier.",
                "metadata": _metadata(
                    "One row per child measured in the academic year's NCMP with a valid height and weight.",
                    dt.date(2025, 10, 15), dt.date(2026, 10, 15),
                    "Lincolnshire-resident children in Reception and Year 6 of state-maintained schools, "
                    "academic years 2020/21 to 2024/25",
                ),
            }],
        },
        "ulh": {
            "supplier": "United Lincolnshire Hospitals NHS Trust",
            "supplier_code": "ulh",
            "data_protection_registration": "Z5861247",
            "contact": "Head of Information Services",
            "review_date": dt.date(2026, 6, 30),
            "datasets": [{
                "dataset": "injury_admissions",
                "title": "Hospital admissions of children and young people for injury or poisoning",
                "record_level": "client",
                "indicators": ["NI 70"],
                "frequency": "annual",
                "format": "csv",
                "period_basis": "financial_year",
                "event_date_field": "admission_date",
                "id_field": "episode_id",
                "fields": [
                    {"name": "episode_id", "type": "string", "description": "hospital provider spell identifier"},
                    {"name": "admission_date", "type": "date", "description": "date of admission (DD/MM/YYYY)"},
                    {"name": "admission_method", "type": "category", "values": ["emergency", "elective"]},
                    {"name": "cause", "type": "category", "values": ["unintentional", "deliberate", "other"],
                     "description": "external cause: ICD-10 V01-X59 unintentional, X60-Y09 deliberate, other"},
                ],
                "deviations": "Ethnicity mapped from the NHS ethnic category (A-Z) to the Appendix 5 codes; "
                              "'Z not stated' is sent as 19. The extract is by age 0-19 at admission; "
                              "the receiver selects ages 0-17.",
                "metadata": _metadata(
                    "One row per admission (provider spell) with a primary diagnosis of injury or poisoning "
                    "(ICD-10 S00-T79) of a Lincolnshire resident aged 0-19.",
                    dt.date(2025, 6, 30), dt.date(2026, 6, 30),
                    "ULH sites (Lincoln County, Pilgrim Boston, Grantham); financial years 2020/21 to 2024/25",
                ),
            }],
        },
        "yos": {
            "supplier": "Lincolnshire Youth Offending Service",
            "supplier_code": "yos",
            "data_protection_registration": "Z9126354",
            "contact": "Youth Offending Service Performance and Information Manager",
            "review_date": dt.date(2026, 6, 30),
            "datasets": [{
                "dataset": "yjs_disposals",
                "title": "Youth justice disposals (pre-court and court) for young people aged 10-17",
                "record_level": "client",
                "indicators": ["NI 111", "NI 43"],
                "frequency": "annual",
                "format": "csv",
                "period_basis": "financial_year",
                "event_date_field": "disposal_date",
                "id_field": "young_person_id",
                "fields": [
                    {"name": "young_person_id", "type": "string",
                     "description": "YOS case identifier, stable per young person"},
                    {"name": "disposal_date", "type": "date", "description": "date of the disposal (DD/MM/YYYY)"},
                    {"name": "disposal_type", "type": "category", "values": list(YJS_DISPOSALS)},
                    {"name": "court_disposal", "type": "flag", "values": ["Y", "N"],
                     "description": "Y for a disposal following conviction in court"},
                    {"name": "first_time_entrant", "type": "flag", "values": ["Y", "N"],
                     "description": "Y for the young person's first reprimand, warning, caution or conviction"},
                ],
                "deviations": "Reprimand and final warning are kept in the code list for continuity; they have "
                              "not been given since April 2013 (LASPO Act 2012) and do not occur in these years.",
                "metadata": _metadata(
                    "One row per substantive outcome (caution or court disposal) given to a Lincolnshire-resident "
                    "young person aged 10-17, from the YOS case management system.",
                    dt.date(2025, 6, 30), dt.date(2026, 6, 30),
                    "Lincolnshire; financial years 2020/21 to 2024/25; Youth Court and Crown Court outcomes",
                ),
            }, _yos_closures_agreement()],
        },
        **_children_agreements(),
        **_aggregate_agreements("financial years 2020/21 to 2024/25"),
    }


LCC_REGISTRATION = "Z8397628"  # the protocol's Appendix 2: Lincolnshire County Council


def _f(name: str, type_: str, description: str = "", **kw) -> dict:
    out = {"name": name, "type": type_, **kw}
    if description:
        out["description"] = description
    return out


def _dataset(dataset: str, title: str, indicators: list[str], frequency: str, fmt: str, basis: str, event: str,
             id_field: str, fields: list[dict], deviations: str, metadata: dict) -> dict:
    return {
        "dataset": dataset, "title": title, "record_level": "client", "indicators": indicators,
        "frequency": frequency, "format": fmt, "period_basis": basis, "event_date_field": event,
        "id_field": id_field, "fields": fields, "deviations": deviations, "metadata": metadata,
    }


_FLAG = {"values": ["Y", "N"]}
_SEN = {"values": list(SEN_VALUES)}


def _children_agreements() -> dict[str, dict]:
    """The agreements of the children's services suppliers added for the NI set (issue 5)."""
    fy = "financial years 2020/21 to 2024/25"
    ay = "academic years 2020/21 to 2024/25"
    csc_meta = lambda d: _metadata(d, dt.date(2025, 5, 30), dt.date(2026, 5, 29), f"Lincolnshire; {fy}")  # noqa: E731
    edu_meta = lambda d: _metadata(d, dt.date(2025, 10, 31), dt.date(2026, 10, 30), f"Lincolnshire residents; {ay}")  # noqa: E731
    return {
        "lcc_csc": {
            "supplier": CSC_SUPPLIER,
            "supplier_code": "lcc_csc",
            "data_protection_registration": LCC_REGISTRATION,
            "contact": "Head of Performance and Intelligence, Children's Services",
            "review_date": dt.date(2026, 5, 31),
            "datasets": [
                _dataset(
                    "cin_referrals", "Referrals to children's social care", ["NI 68"], "quarterly", "csv",
                    "financial_year", "referral_date", "referral_id",
                    [_f("referral_id", "string", "referral identifier (Mosaic)"),
                     _f("referral_date", "date", "date the referral was received (DD/MM/YYYY)"),
                     _f("referral_source", "category", "CIN census source of referral, grouped",
                        values=list(_REF_SOURCES)),
                     _f("led_to_assessment", "flag", "Y where the referral led to an initial (single) assessment",
                        **_FLAG),
                     _f("re_referral", "flag", "Y where the child was referred within 12 months of a previous referral",
                        **_FLAG)],
                    "Referrals of unborn children are not supplied (no date of birth). Since 2013 the single "
                    "assessment has replaced the initial assessment: led_to_assessment marks a single assessment.",
                    csc_meta("One row per referral of a child aged 0-17 received in the period (CIN census extract)."),
                ),
                _dataset(
                    "cin_assessments", "Initial and core assessments completed", ["NI 59", "NI 60"], "quarterly",
                    "csv", "financial_year", "completion_date", "assessment_id",
                    [_f("assessment_id", "string", "assessment identifier"),
                     _f("completion_date", "date", "date the assessment was completed (authorised)"),
                     _f("assessment_type", "category", values=["initial", "core"]),
                     _f("start_date", "date", "referral date (initial) or commencement date (core)"),
                     _f("working_days", "integer", "working days from start to completion, excluding weekends and "
                        "bank holidays in England", min=0, max=400)],
                    "Assessments are recorded as single assessments since 2013; the supplier classes each as initial "
                    "(first 10 working days) or core for continuity with NI 59 and NI 60.",
                    csc_meta("One row per assessment completed in the period."),
                ),
                _dataset(
                    "cp_plan_starts", "Child protection plans starting", ["NI 65"], "annual", "csv",
                    "financial_year", "plan_start_date", "plan_id",
                    [_f("plan_id", "string", "child protection plan identifier"),
                     _f("plan_start_date", "date", "date the plan started (initial child protection conference)"),
                     _f("initial_category", "category", "initial category of abuse", values=list(_CP_CATEGORIES)),
                     _f("previous_plan", "flag", "Y where the child was subject to a plan (or on the register) of "
                        "this council before, however long ago", **_FLAG)],
                    "Plans for unborn children are not supplied.",
                    csc_meta("One row per child protection plan starting in the period."),
                ),
                _dataset(
                    "cp_plan_ends", "Child protection plans ending", ["NI 64"], "annual", "csv", "financial_year",
                    "plan_end_date", "plan_id",
                    [_f("plan_id", "string", "child protection plan identifier"),
                     _f("plan_end_date", "date", "date the plan ended"),
                     _f("plan_start_date", "date", "date the plan started"),
                     _f("duration_days", "integer", "days from start to end", min=0, max=7000)],
                    "None",
                    csc_meta("One row per child protection plan ending in the period."),
                ),
                _dataset(
                    "lac_31mar", "Children looked after at 31 March (SSDA903)", ["NI 58", "NI 62", "NI 63"],
                    "annual", "csv", "financial_year", "snapshot_date", "child_id",
                    [_f("child_id", "string", "SSDA903 child identifier"),
                     _f("snapshot_date", "date", "31 March of the year (the snapshot date)"),
                     _f("legal_status", "category", "SSDA903 legal status at 31 March (V3/V4: short breaks)",
                        values=list(LAC_LEGAL_STATUS)),
                     _f("placements_in_year", "integer", "separate placements during the year to 31 March", min=1,
                        max=40),
                     _f("months_looked_after", "integer", "months looked after continuously up to 31 March", min=0,
                        max=220),
                     _f("months_in_placement", "integer", "months in the current placement at 31 March", min=0,
                        max=220),
                     _f("placed_for_adoption", "flag", "Y where placed for adoption and the adoptive and previous "
                        "placement together last 2 years or more", **_FLAG),
                     _f("sdq_score", "integer", "SDQ total difficulties score (0-40) in the year; blank where not "
                        "eligible (aged 4-16, looked after 12 months) or no valid score", required=False, min=0,
                        max=40)],
                    "None",
                    csc_meta("One row per child looked after at 31 March (SSDA903 episodes)."),
                ),
                _dataset(
                    "care_leavers", "Care leavers at their 19th birthday", ["NI 147", "NI 148"], "annual", "csv",
                    "financial_year", "birthday_19", "young_person_id",
                    [_f("young_person_id", "string", "SSDA903 child identifier"),
                     _f("birthday_19", "date", "the young person's 19th birthday"),
                     _f("accommodation", "category", "accommodation around the 19th birthday",
                        values=["suitable", "unsuitable", "not_known"]),
                     _f("activity", "category", "main activity around the 19th birthday",
                        values=list(CARE_LEAVER_ACTIVITY))],
                    "Postcode at the 19th birthday may be outside Lincolnshire (such records are warned and not "
                    "counted).",
                    csc_meta("One row per former relevant young person whose 19th birthday fell in the period."),
                ),
            ],
        },
        "lcc_edu": {
            "supplier": EDU_SUPPLIER,
            "supplier_code": "lcc_edu",
            "data_protection_registration": LCC_REGISTRATION,
            "contact": "Education Data and Statistics Manager",
            "review_date": dt.date(2026, 10, 31),
            "datasets": [
                _dataset(
                    "eyfsp", "Early Years Foundation Stage Profile results", ["NI 72"], "annual", "csv",
                    "academic_year", "assessment_date", "pupil_id",
                    [_f("pupil_id", "string", "pupil identifier (UPN)"),
                     _f("assessment_date", "date", "date the profile was completed (June)"),
                     _f("gld", "flag", "Y for a good level of development", **_FLAG),
                     _f("total_points", "integer", "sum over the 17 early learning goals (1 emerging, 2 expected)",
                        min=17, max=34),
                     _f("fsm", "flag", "eligible for free school meals", **_FLAG),
                     _f("sen", "category", "special educational needs provision", **_SEN)],
                    "The 2019/20 and 2020/21 profiles were not collected nationally (COVID-19); the demo supplies them.",
                    edu_meta("One row per child at the end of Reception with an EYFS profile."),
                ),
                _dataset(
                    "ks2", "Key Stage 2 results", ["NI 73", "NI 99", "NI 100", "NI 102a", "NI 104"], "annual", "csv",
                    "academic_year", "assessment_date", "pupil_id",
                    [_f("pupil_id", "string", "pupil identifier (UPN)"),
                     _f("assessment_date", "date", "date the results were returned (July)"),
                     _f("english_expected", "flag", "expected standard in reading and in writing", **_FLAG),
                     _f("maths_expected", "flag", "expected standard in mathematics", **_FLAG),
                     _f("rwm_expected", "flag", "expected standard in reading, writing and mathematics", **_FLAG),
                     _f("fsm", "flag", "eligible for free school meals at the KS2 census", **_FLAG),
                     _f("sen", "category", "special educational needs provision", **_SEN),
                     _f("looked_after", "flag", "looked after continuously for 12 months at 31 March", **_FLAG)],
                    "KS2 tests were cancelled in 2019/20 and 2020/21 (COVID-19); the demo supplies 2020/21.",
                    edu_meta("One row per pupil at the end of KS2 (academic age 10), by residence."),
                ),
                _dataset(
                    "ks4", "Key Stage 4 results", ["NI 75", "NI 101", "NI 102b", "NI 105"], "annual", "xlsx",
                    "academic_year", "results_date", "pupil_id",
                    [_f("pupil_id", "string", "pupil identifier (UPN)"),
                     _f("results_date", "date", "GCSE results day"),
                     _f("english_grade", "integer", "best of English language and literature, 9-1 (0 = U or none)",
                        min=0, max=9),
                     _f("maths_grade", "integer", "GCSE mathematics, 9-1 (0 = U or none)", min=0, max=9),
                     _f("attainment8", "integer", "Attainment 8 score (whole points)", min=0, max=90),
                     _f("fsm", "flag", "eligible for free school meals at the KS4 census", **_FLAG),
                     _f("sen", "category", "special educational needs provision", **_SEN),
                     _f("looked_after", "flag", "looked after continuously for 12 months at 31 March", **_FLAG)],
                    "2019/20 and 2020/21 grades were centre- and teacher-assessed.",
                    edu_meta("One row per pupil at the end of KS4 (academic age 15), by residence."),
                ),
                _dataset(
                    "school_census", "Spring school census with the year's absence and exclusions", ["NI 87", "NI 114"],
                    "annual", "csv", "academic_year", "census_date", "pupil_id",
                    [_f("pupil_id", "string", "pupil identifier (UPN)"),
                     _f("census_date", "date", "spring census day (January)"),
                     _f("phase", "category", "school phase", values=["primary", "secondary", "special"]),
                     _f("fsm", "flag", "eligible for free school meals", **_FLAG),
                     _f("sen", "category", "special educational needs provision", **_SEN),
                     _f("sessions_possible", "integer", "possible half-day sessions in the year", min=0, max=400),
                     _f("sessions_absent", "integer", "half-day sessions missed (authorised or not)", min=0,
                        max=400),
                     _f("absence_pct", "number", "sessions_absent / sessions_possible x 100, 1 decimal place",
                        min=0, max=100),
                     _f("permanently_excluded", "flag", "permanently excluded during the year", **_FLAG),
                     _f("suspensions", "integer", "suspensions (fixed-period exclusions) in the year", min=0,
                        max=100)],
                    "Pupils in state-funded primary, secondary and special schools aged 4-15 (academic age); "
                    "sixth-form and independent-school pupils are not supplied.",
                    edu_meta("One row per pupil enrolment at the spring census, with the full year's absence and "
                             "exclusions."),
                ),
                _dataset(
                    "attainment_19", "Attainment by age 19 (matched NPD/ILR)", ["NI 79", "NI 80", "NI 81", "NI 82"],
                    "annual", "csv", "academic_year", "record_date", "learner_id",
                    [_f("learner_id", "string", "learner identifier"),
                     _f("record_date", "date", "end of the academic year in which the cohort turned 19"),
                     _f("level2_by_19", "flag", "full Level 2 by 19", **_FLAG),
                     _f("level3_by_19", "flag", "full Level 3 by 19", **_FLAG),
                     _f("fsm_at_15", "flag", "eligible for free school meals at academic age 15", **_FLAG)],
                    "Postcode and attribution are the young person's residence at academic age 15.",
                    edu_meta("One row per young person of academic age 18 in the year (aged 19 by its end)."),
                ),
            ],
        },
        "connexions": {
            "supplier": CONNEXIONS_SUPPLIER,
            "supplier_code": "connexions",
            "data_protection_registration": LCC_REGISTRATION,
            "contact": "Connexions Information Manager",
            "review_date": dt.date(2026, 3, 31),
            "datasets": [
                _dataset(
                    "ccis_activity", "Activity of young people aged 16-18 (CCIS end-January snapshot)",
                    ["NI 91", "NI 117"], "annual", "xlsx", "academic_year", "snapshot_date", "young_person_id",
                    [_f("young_person_id", "string", "CCIS identifier"),
                     _f("snapshot_date", "date", "the snapshot date (31 January)"),
                     _f("activity", "category", "current activity, grouped CCIS codes", values=list(CCIS_ACTIVITIES))],
                    "One snapshot (end of January) instead of the average of November, December and January.",
                    _metadata("One row per young person of academic age 16-18 known to Connexions at the snapshot.",
                              dt.date(2025, 3, 14), dt.date(2026, 3, 13), f"Lincolnshire residents; {ay}"),
                ),
            ],
        },
        "lcc_phealth": {
            "supplier": PHEALTH_SUPPLIER,
            "supplier_code": "lcc_phealth",
            "data_protection_registration": LCC_REGISTRATION,
            "contact": "0-19 Health Services Information Lead",
            "review_date": dt.date(2026, 6, 30),
            "datasets": [
                _dataset(
                    "infant_feeding", "Infant feeding at the 6-8 week review", ["NI 53"], "quarterly", "csv",
                    "financial_year", "check_due_date", "infant_id",
                    [_f("infant_id", "string", "child health record identifier"),
                     _f("check_due_date", "date", "date the 6-8 week review was due (8 weeks after birth)"),
                     _f("feeding_status", "category", "feeding status at the review", values=list(FEEDING_STATUS))],
                    "Sex and ethnicity are the infant's.",
                    _metadata("One row per infant due a 6-8 week review in the period.", dt.date(2025, 7, 15),
                              dt.date(2025, 10, 15), f"Lincolnshire residents; {fy}; resupplied each quarter"),
                ),
            ],
        },
        "lish": {
            "supplier": SH_SUPPLIER,
            "supplier_code": "lish",
            "data_protection_registration": "Z3316724",
            "contact": "Service Manager, Integrated Sexual Health",
            "review_date": dt.date(2026, 6, 30),
            "datasets": [
                _dataset(
                    "teenage_conceptions", "Conceptions to young women aged 13-19", ["NI 112"], "quarterly", "csv",
                    "financial_year", "conception_date", "conception_id",
                    [_f("conception_id", "string", "record identifier"),
                     _f("conception_date", "date", "estimated date of conception"),
                     _f("outcome", "category", "maternity or legal abortion", values=["maternity", "abortion"])],
                    "Local maternity and abortion records (the NI used ONS birth registrations and abortion "
                    "notifications). Conceptions are supplied once their outcome is known.",
                    _metadata("One row per conception to a Lincolnshire resident aged 13-19 at conception.",
                              dt.date(2025, 9, 30), dt.date(2025, 12, 31), f"Lincolnshire residents; {fy}"),
                ),
                _dataset(
                    "chlamydia_tests", "Chlamydia tests of young people aged 15-24", ["NI 113"], "quarterly", "csv",
                    "financial_year", "test_date", "test_id",
                    [_f("test_id", "string", "laboratory test identifier"),
                     _f("test_date", "date", "date the specimen was taken"),
                     _f("setting", "category", "testing setting", values=list(CHLAMYDIA_SETTINGS)),
                     _f("result", "category", values=["positive", "negative", "invalid"]),
                     _f("first_test_in_year", "flag", "Y for the person's first test in the financial year",
                        **_FLAG)],
                    "Ages 15-24 as the NCSP; the scorecard counts 15-19 (the ward populations held).",
                    _metadata("One row per chlamydia test of a Lincolnshire resident aged 15-24.",
                              dt.date(2025, 7, 31), dt.date(2025, 10, 31), f"Lincolnshire residents; {fy}"),
                ),
            ],
        },
    }


def _yos_closures_agreement() -> dict:
    return _dataset(
        "yos_closures", "YOS-supervised interventions closed", ["NI 45", "NI 46"], "annual", "csv", "financial_year",
        "closure_date", "young_person_id",
        [_f("young_person_id", "string", "YOS case identifier"),
         _f("closure_date", "date", "date the intervention closed"),
         _f("intervention", "category", values=list(YOS_INTERVENTIONS)),
         _f("ete_hours", "integer", "hours of education, training or employment a week at closure", min=0, max=60),
         _f("ete_suitable", "flag", "Y for 25+ hours (school age) or 16+ hours (above school age)", **_FLAG),
         _f("accommodation_suitable", "flag", "Y where the accommodation at closure was suitable", **_FLAG)],
        "None",
        _metadata("One row per youth caution with intervention, referral order, youth rehabilitation order or DTO "
                  "licence closed in the period.", dt.date(2025, 6, 30), dt.date(2026, 6, 30),
                  "Lincolnshire; financial years 2020/21 to 2024/25"),
    )


# ---------------------------------------------------------------- writing
def _write_csv(df: pl.DataFrame, path: Path) -> None:
    df.write_csv(path)


_XLSX_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XLSX_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _xml_escape(e: pl.Expr) -> pl.Expr:
    return e.str.replace_all("&", "&amp;", literal=True).str.replace_all("<", "&lt;", literal=True).str.replace_all(
        ">", "&gt;", literal=True
    )


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _write_xlsx(df: pl.DataFrame, path: Path, sheet: str, author: str) -> None:
    """One-sheet workbook: header row, strings as shared strings, numbers as numbers.

    Written directly (vectorised XML, fixed zip timestamps and document dates) rather than cell by cell
    through xlsxwriter, which takes ~2 s per 16,000-row NCMP file; the output is a plain OOXML workbook
    that Excel, openpyxl and calamine (polars.read_excel) read as a supplier's spreadsheet.
    """
    str_cols = [c for c, t in df.schema.items() if t == pl.String]
    sst = pl.concat(
        [pl.Series("v", df.columns, dtype=pl.String)] + [df[c].rename("v") for c in str_cols]
    ).unique(maintain_order=True)
    index = {v: i for i, v in enumerate(df.columns)}  # the header comes first in the shared strings
    as_index = pl.Enum(sst)  # its physical codes are the shared-string indices
    cells = []
    row_no = pl.int_range(2, pl.len() + 2).cast(pl.String)
    for j, c in enumerate(df.columns):
        ref = pl.concat_str([pl.lit(_col_letter(j)), row_no])
        if c in str_cols:
            v = pl.col(c).cast(as_index).to_physical().cast(pl.String)
            cells.append(pl.concat_str([pl.lit('<c r="'), ref, pl.lit('" t="s"><v>'), v, pl.lit("</v></c>")]))
        else:
            v = pl.col(c).cast(pl.String)
            cells.append(pl.concat_str([pl.lit('<c r="'), ref, pl.lit('"><v>'), v, pl.lit("</v></c>")]))
    rows = df.select(
        pl.concat_str([pl.lit('<row r="'), row_no, pl.lit('">'), *cells, pl.lit("</row>")]).alias("x")
    )["x"]
    last = _col_letter(df.width - 1)
    header = "".join(
        f'<c r="{_col_letter(j)}1" s="1" t="s"><v>{index[c]}</v></c>' for j, c in enumerate(df.columns)
    )
    widths = "".join(
        f'<col min="{j + 1}" max="{j + 1}" width="{max(10, len(c) + 3)}" customWidth="1"/>'
        for j, c in enumerate(df.columns)
    )
    sheet_xml = (
        f'{_XML_HEAD}<worksheet xmlns="{_XLSX_MAIN}" xmlns:r="{_XLSX_REL}">'
        f'<dimension ref="A1:{last}{df.height + 1}"/>'
        '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{widths}</cols>'
        f'<sheetData><row r="1">{header}</row>{"".join(rows.to_list())}</sheetData>'
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
    )
    escaped = pl.DataFrame({"v": sst}).select(_xml_escape(pl.col("v")))["v"].to_list()
    sst_xml = (
        f'{_XML_HEAD}<sst xmlns="{_XLSX_MAIN}" count="{df.height * len(str_cols) + df.width}" '
        f'uniqueCount="{len(escaped)}">' + "".join(f"<si><t>{s}</t></si>" for s in escaped) + "</sst>"
    )
    created = _XLSX_CREATED.strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = {
        "[Content_Types].xml": (
            f'{_XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_XLSX_REL}/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
            'metadata/core-properties" Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{_XLSX_REL}/extended-properties" Target="docProps/app.xml"/>'
            "</Relationships>"
        ),
        "docProps/core.xml": (
            f'{_XML_HEAD}<cp:coreProperties '
            'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:title>{path.stem}</dc:title><dc:creator>{author}</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified></cp:coreProperties>'
        ),
        "docProps/app.xml": (
            f'{_XML_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            "<Application>Microsoft Excel</Application></Properties>"
        ),
        "xl/workbook.xml": (
            f'{_XML_HEAD}<workbook xmlns="{_XLSX_MAIN}" xmlns:r="{_XLSX_REL}">'
            '<bookViews><workbookView/></bookViews>'
            f'<sheets><sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_XLSX_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_XLSX_REL}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId3" Type="{_XLSX_REL}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/styles.xml": (
            f'{_XML_HEAD}<styleSheet xmlns="{_XLSX_MAIN}">'
            '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
        ),
        "xl/sharedStrings.xml": sst_xml,
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in parts.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zf.writestr(info, text.encode("utf-8"), compresslevel=1)


def _generators() -> dict:
    """(supplier folder, dataset) -> generator; one random stream per dataset, spawned in this order
    (new datasets go at the end: the others keep their data)."""
    return {
        ("lchs", "ncmp"): _ncmp,
        ("ulh", "injury_admissions"): _injuries,
        ("yos", "yjs_disposals"): _yjs,
        ("lcc_csc", "cin_referrals"): _referrals,
        ("lcc_csc", "cin_assessments"): _assessments,
        ("lcc_csc", "cp_plan_starts"): _cp_starts,
        ("lcc_csc", "cp_plan_ends"): _cp_ends,
        ("lcc_csc", "lac_31mar"): _lac,
        ("lcc_csc", "care_leavers"): _care_leavers,
        ("lcc_edu", "eyfsp"): _eyfsp,
        ("lcc_edu", "ks2"): _ks2,
        ("lcc_edu", "ks4"): _ks4,
        ("lcc_edu", "school_census"): _school_census,
        ("lcc_edu", "attainment_19"): _attainment_19,
        ("connexions", "ccis_activity"): _ccis,
        ("lcc_phealth", "infant_feeding"): _infant_feeding,
        ("lish", "teenage_conceptions"): _conceptions,
        ("lish", "chlamydia_tests"): _chlamydia,
        ("yos", "yos_closures"): _yos_closures,
        ("lrsp", "road_casualties"): _road_casualties,
        ("lcc_bi", "low_income_children"): _low_income,
    }


GENERATORS = _generators()


def write_demo(out: Path, seed: int = 2026, scale: str = "county", only: set[str] | None = None) -> dict:
    """Write the synthetic supplies (one folder per supplier, agreement.yaml + one file per period).

    `only`: write just these datasets (and their suppliers' folders); the data of a dataset does not
    depend on which others are written. `scale` '10x' / 'national': a synthetic England-shaped
    geography and its supplies (pipelines.demo_scale).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: use one of {', '.join(SCALES)}")
    if scale != "county":
        from pipelines.demo_scale import write_synthetic

        return write_synthetic(Path(out), seed=seed, scale=scale, only=only)
    out = Path(out)
    g = _geo()
    root = np.random.SeedSequence(int(seed))
    generators = GENERATORS
    streams = root.spawn(len(generators))
    unknown = set(only or ()) - {d for _, d in generators}
    if unknown:
        raise ValueError(f"unknown demo datasets {sorted(unknown)}")
    data = {
        key: fn(np.random.default_rng(ss), g)
        for (key, fn), ss in zip(generators.items(), streams)
        if only is None or key[1] in only
    }
    agreements = {code: a for code, a in _agreements().items() if any(k[0] == code for k in data)}
    files = rows = 0
    for code, agreement in agreements.items():
        folder = out / code
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "agreement.yaml").write_text(
            yaml.safe_dump(agreement, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8",
        )
        for ds in agreement["datasets"]:
            for period, df in data.get((code, ds["dataset"]), {}).items():
                path = folder / f"{ds['dataset']}_{period_slug(period)}.{ds['format']}"
                if ds["format"] == "xlsx":
                    _write_xlsx(df, path, sheet=ds["dataset"].upper(), author=agreement["supplier"])
                else:
                    _write_csv(df, path)
                files += 1
                rows += df.height
    return {"suppliers": len(agreements), "files": files, "rows": rows, "out": str(out)}
