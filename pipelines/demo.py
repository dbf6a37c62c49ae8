"""Synthetic supplies in the suppliers' own formats, with their Data Specification Agreements.

`write_demo(out)` writes, for the county, one folder per supplier (docs/architecture.md, "Supply
directory"):

    out/lchs/agreement.yaml, out/lchs/ncmp_2020-21.xlsx ... ncmp_2024-25.xlsx
    out/ulh/agreement.yaml,  out/ulh/injury_admissions_2020-21.csv ...
    out/yos/agreement.yaml,  out/yos/yjs_disposals_2020-21.csv ...

The records are invented but sized and shaped like the real thing, so that the pipeline downstream
meets what it will meet in practice:

- cohorts come from the ONS mid-2020 ward population by sex and single year of age (geo/population.csv):
  NCMP Reception ~ 95% of the children aged 4, Year 6 ~ 95% of those aged 10; injury admissions
  ~ 90 per 10,000 aged 0-17 a year; first-time entrants ~ 160 per 100,000 aged 10-17 a year;
- prevalences and rates rise with the ward's IDACI score (geo/deprivation_ward.csv): Reception obesity
  ~7% -> ~13%, Year 6 ~17% -> ~30%, injuries and youth justice ~0.6x -> ~1.8x; plus a persistent
  ward effect, ward-year noise, a modest year trend (a COVID-year bump in obesity and dip in injuries);
- small wards give small counts (suppression is exercised), large deprived wards give large ones;
- every file contains rows the indicators must exclude (elective / cause 'other' admissions, a few
  18-19 year olds, court and non-court disposals, repeat disposals that are not first-time entries).

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
from pipelines.config import GEO_DIR

PERIODS: tuple[str, ...] = ("2020/21", "2021/22", "2022/23", "2023/24", "2024/25")
SCALES = ("county", "national")
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


@lru_cache(maxsize=1)
def _geo() -> _Geo:
    pop = geography.population()
    wards = np.array(sorted(pop["ward_code"].unique().to_list()))
    w_index = {w: i for i, w in enumerate(wards)}
    arr = np.zeros((len(wards), 2, 20))
    wi = np.array([w_index[w] for w in pop["ward_code"].to_list()])
    si = (pop["sex"] == "M").cast(pl.Int8).to_numpy()
    arr[wi, si, pop["age"].to_numpy()] = pop["population"].to_numpy()

    dep = pl.read_csv(
        GEO_DIR / "deprivation_ward.csv", columns=["ward_code", "idaci_score"],
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
            }],
        },
    }


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


def write_demo(out: Path, seed: int = 2026, scale: str = "county") -> dict:
    """Write the synthetic supplies (one folder per supplier, agreement.yaml + one file per period)."""
    if scale == "national":
        raise NotImplementedError("national scale is issue 10")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: use one of {', '.join(SCALES)}")
    out = Path(out)
    g = _geo()
    root = np.random.SeedSequence(int(seed))
    streams = dict(zip(("ncmp", "injury_admissions", "yjs_disposals"), root.spawn(3)))
    data = {
        ("lchs", "ncmp"): _ncmp(np.random.default_rng(streams["ncmp"]), g),
        ("ulh", "injury_admissions"): _injuries(np.random.default_rng(streams["injury_admissions"]), g),
        ("yos", "yjs_disposals"): _yjs(np.random.default_rng(streams["yjs_disposals"]), g),
    }
    agreements = _agreements()
    files = rows = 0
    for code, agreement in agreements.items():
        folder = out / code
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "agreement.yaml").write_text(
            yaml.safe_dump(agreement, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8",
        )
        for ds in agreement["datasets"]:
            for period, df in data[(code, ds["dataset"])].items():
                path = folder / f"{ds['dataset']}_{period_slug(period)}.{ds['format']}"
                if ds["format"] == "xlsx":
                    _write_xlsx(df, path, sheet=ds["dataset"].upper(), author=agreement["supplier"])
                else:
                    _write_csv(df, path)
                files += 1
                rows += df.height
    return {"suppliers": len(agreements), "files": files, "rows": rows, "out": str(out)}
