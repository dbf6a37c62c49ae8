"""A small, deterministic published release for tests (the real `lcp build` writes the real one).

`write_fixture_release(path)` writes every contract table (../shared/contract.md, "The published
release") plus our extra columns. The geography is real: 3 Boston wards and 3 Lincoln wards from
geo/hierarchy.csv, their districts, their partnership areas (Boston LCP = LCP01, Lincoln LCP = LCP03,
as geo/partnerships.csv codes them) and the county.

Two indicators, two periods:

- NI 55 (percentage, lower is better, client denominator). 2023/24: two Boston wards withheld (one
  primary, one complementary so the district total cannot reveal it); every other row published.
- NI 111 (rate per 100,000, lower is better, population denominator). Every ward withheld in both
  years; in 2023/24 both partnerships and districts are withheld too (7 and 9 children), the county
  is published. Withheld rows keep their population denominator, as the contract allows.

Values, limits, RAG, direction of travel and quartiles are computed here by simple rules so tests can
read the expected figures from `expected_rows()`.
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb

COUNTY = ("E10000019", "Lincolnshire")
PARTNERSHIPS = {"LCP01": ("Boston LCP", "E07000136"), "LCP03": ("Lincoln LCP", "E07000138")}
DISTRICTS = {"E07000136": "Boston", "E07000138": "Lincoln"}
#: ward_code -> (name, district_code, partnership_code); names as in geo/wards.geojson.
WARDS = {
    "E05009621": ("Coastal", "E07000136", "LCP01"),
    "E05009622": ("Fenside", "E07000136", "LCP01"),
    "E05009623": ("Fishtoft", "E07000136", "LCP01"),
    "E05010784": ("Abbey", "E07000138", "LCP03"),
    "E05010785": ("Birchwood", "E07000138", "LCP03"),
    "E05010786": ("Boultham", "E07000138", "LCP03"),
}
PERIODS = ("2022/23", "2023/24")
RELEASE_ID = "fixture-2024-25-r1"
BUILT_AT = dt.datetime(2025, 6, 30, 9, 30)
THRESHOLD = 10

INDICATORS = [
    {
        "indicator_id": "NI 55", "title": "Obesity among primary school age children in Reception Year",
        "ecm_outcome": "Be healthy", "unit": "percentage", "multiplier": 100, "polarity": "lower_better",
        "ci_method": "wilson",
        "numerator_definition": "Reception-year children with BMI at or above the 95th centile",
        "denominator_definition": "Reception-year children with a valid NCMP measurement",
        "denominator_kind": "client", "supplier": "Lincolnshire Community Health Services NHS Trust",
        "frequency": "annual", "notes": "Residence-based.", "sensitive": False, "period_basis": "academic_year",
    },
    {
        "indicator_id": "NI 111", "title": "First time entrants to the Youth Justice System aged 10-17",
        "ecm_outcome": "Make a positive contribution", "unit": "rate per 100,000", "multiplier": 100000,
        "polarity": "lower_better", "ci_method": "byars",
        "numerator_definition": "Young people aged 10-17 receiving their first reprimand, warning, caution or conviction",
        "denominator_definition": "Resident population aged 10-17 (ONS mid-2020 ward estimates)",
        "denominator_kind": "population", "supplier": "Lincolnshire Youth Offending Service",
        "frequency": "annual", "notes": "", "sensitive": True, "period_basis": "financial_year",
    },
]
ENGLAND = {("NI 55", "2022/23"): 9.2, ("NI 55", "2023/24"): 9.6, ("NI 111", "2022/23"): 155.0, ("NI 111", "2023/24"): 160.0}
EAST_MIDLANDS = {("NI 55", "2022/23"): 9.6, ("NI 55", "2023/24"): 10.0, ("NI 111", "2022/23"): 161.2, ("NI 111", "2023/24"): 166.4}

# Ward counts: (numerator, denominator). NI 55 denominators are children measured (client);
# NI 111 denominators are the 10-17 population (float, apportioned).
WARD_COUNTS = {
    ("NI 55", "2022/23"): {
        "E05009621": (15, 118), "E05009622": (13, 101), "E05009623": (12, 109),
        "E05010784": (19, 148), "E05010785": (17, 139), "E05010786": (22, 157),
    },
    ("NI 55", "2023/24"): {
        "E05009621": (14, 120), "E05009622": (8, 95), "E05009623": (12, 105),
        "E05010784": (20, 150), "E05010785": (18, 140), "E05010786": (25, 160),
    },
    ("NI 111", "2022/23"): {
        "E05009621": (5, 610.4), "E05009622": (6, 540.2), "E05009623": (4, 700.9),
        "E05010784": (8, 820.0), "E05010785": (7, 760.5), "E05010786": (7, 905.3),
    },
    ("NI 111", "2023/24"): {
        "E05009621": (2, 610.4), "E05009622": (3, 540.2), "E05009623": (2, 700.9),
        "E05010784": (4, 820.0), "E05010785": (2, 760.5), "E05010786": (3, 905.3),
    },
}
#: Wards withheld although their own count is 11 or more (complementary suppression).
COMPLEMENTARY = {("NI 55", "2023/24"): {"E05009623"}}
#: County breakdown by sex for NI 55 (parts add up to 'all'), to prove readers pick breakdown 'all'.
SEX_SPLIT = {("NI 55", "2022/23"): {"F": (47, 380), "M": (51, 392)}, ("NI 55", "2023/24"): {"F": (45, 380), "M": (52, 390)}}

Z95, Z998 = 1.959963984540054, 3.090232306167813


def wilson(num: float, den: float, z: float, mult: float) -> tuple[float, float]:
    p = num / den
    centre = p + z * z / (2 * den)
    half = z * math.sqrt(p * (1 - p) / den + z * z / (4 * den * den))
    scale = 1 + z * z / den
    return (centre - half) / scale * mult, (centre + half) / scale * mult


def byars(num: float, den: float, z: float, mult: float) -> tuple[float, float]:
    lo = 0.0 if num == 0 else num * (1 - 1 / (9 * num) - z / (3 * math.sqrt(num))) ** 3
    o = num + 1
    hi = o * (1 - 1 / (9 * o) + z / (3 * math.sqrt(o))) ** 3
    return lo / den * mult, hi / den * mult


def _measure(ind: dict, num: float, den: float) -> dict:
    ci = wilson if ind["ci_method"] == "wilson" else byars
    l95, u95 = ci(num, den, Z95, ind["multiplier"])
    l998, u998 = ci(num, den, Z998, ind["multiplier"])
    return {"value": num / den * ind["multiplier"], "lower_95": l95, "upper_95": u95, "lower_998": l998, "upper_998": u998}


def _vs(row: dict, bench: float, polarity: str) -> str:
    if row["upper_95"] < bench:
        return "better" if polarity == "lower_better" else "worse"
    if row["lower_95"] > bench:
        return "worse" if polarity == "lower_better" else "better"
    return "similar"


def expected_rows() -> list[dict]:
    """Every indicator_values row of the fixture, as the release holds it."""
    inds = {i["indicator_id"]: i for i in INDICATORS}
    rows: list[dict] = []
    for (ind_id, period), wards in WARD_COUNTS.items():
        ind = inds[ind_id]
        client = ind["denominator_kind"] == "client"
        # Areas with their counts: wards, then sums up the hierarchy.
        units: list[tuple[str, str, float, float]] = [(w, "ward", n, d) for w, (n, d) in wards.items()]
        for dcode in DISTRICTS:
            n = sum(wards[w][0] for w, (_, dc, _) in WARDS.items() if dc == dcode)
            d = sum(wards[w][1] for w, (_, dc, _) in WARDS.items() if dc == dcode)
            units.append((dcode, "district", n, d))
        for pcode, (_, dcode) in PARTNERSHIPS.items():
            n = sum(wards[w][0] for w, (_, _, pc) in WARDS.items() if pc == pcode)
            d = sum(wards[w][1] for w, (_, _, pc) in WARDS.items() if pc == pcode)
            units.append((pcode, "partnership", n, d))
        units.append((COUNTY[0], "county", sum(n for n, _ in wards.values()), sum(d for _, d in wards.values())))
        complementary = COMPLEMENTARY.get((ind_id, period), set())
        for code, level, n, d in units:
            suppressed = n <= THRESHOLD or (client and d <= THRESHOLD) or code in complementary
            row = {
                "indicator_id": ind_id, "period": period, "area_code": code, "area_level": level, "breakdown": "all",
                "numerator": None if suppressed else int(n),
                "denominator": None if (suppressed and client) else float(round(d, 1)),
                "suppressed": suppressed, "benchmark_value": ENGLAND[(ind_id, period)],
                "value": None, "lower_95": None, "upper_95": None, "lower_998": None, "upper_998": None,
                "rag": None, "direction": None, "quartile": None, "vs_benchmark": None,
            }
            if not suppressed:
                row.update(_measure(ind, n, d))
                row["vs_benchmark"] = _vs(row, ENGLAND[(ind_id, period)], ind["polarity"])
                row["rag"] = {"better": "green", "similar": "amber", "worse": "red"}[row["vs_benchmark"]]
            rows.append(row)
        for sex, (n, d) in SEX_SPLIT.get((ind_id, period), {}).items():
            row = {
                "indicator_id": ind_id, "period": period, "area_code": COUNTY[0], "area_level": "county",
                "breakdown": f"sex={sex}", "numerator": n, "denominator": float(d), "suppressed": False,
                "benchmark_value": ENGLAND[(ind_id, period)], "rag": None, "direction": None, "quartile": None,
                "vs_benchmark": None, **_measure(ind, n, d),
            }
            rows.append(row)
    _assess_quartiles(rows, inds)
    _assess_direction(rows, inds)
    return rows


def _assess_quartiles(rows: list[dict], inds: dict) -> None:
    """Quartile 1 (best) to 4 (worst) among published areas of the same level (wards, partnerships)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["breakdown"] == "all" and not r["suppressed"] and r["area_level"] != "county":
            groups.setdefault((r["indicator_id"], r["period"], r["area_level"]), []).append(r)
    for (ind_id, _, _), members in groups.items():
        lower_better = inds[ind_id]["polarity"] == "lower_better"
        ranked = sorted(members, key=lambda r: (r["value"] if lower_better else -r["value"], r["area_code"]))
        for rank, r in enumerate(ranked):
            r["quartile"] = rank * 4 // len(ranked) + 1


def _assess_direction(rows: list[dict], inds: dict) -> None:
    """2023/24 against 2022/23: a change is significant where the 95% intervals do not overlap."""
    prev = {(r["indicator_id"], r["area_code"], r["breakdown"]): r for r in rows if r["period"] == PERIODS[0]}
    for r in rows:
        if r["period"] != PERIODS[1] or r["suppressed"] or r["breakdown"] != "all":
            continue
        p = prev.get((r["indicator_id"], r["area_code"], r["breakdown"]))
        if p is None or p["suppressed"]:
            continue
        if r["lower_95"] > p["upper_95"] or r["upper_95"] < p["lower_95"]:
            went_down = r["value"] < p["value"]
            lower_better = inds[r["indicator_id"]]["polarity"] == "lower_better"
            r["direction"] = "improving" if went_down == lower_better else "worsening"
        else:
            r["direction"] = "no_change"


def expected(indicator_id: str, period: str, area_code: str, breakdown: str = "all") -> dict:
    """The fixture's row for one key (raises StopIteration if there is none)."""
    return next(
        r for r in expected_rows()
        if (r["indicator_id"], r["period"], r["area_code"], r["breakdown"]) == (indicator_id, period, area_code, breakdown)
    )


DDL = """
CREATE TABLE areas (area_code VARCHAR PRIMARY KEY, area_name VARCHAR NOT NULL, area_level VARCHAR NOT NULL,
                    parent_code VARCHAR);
CREATE TABLE area_lookup (ward_code VARCHAR PRIMARY KEY, district_code VARCHAR, partnership_code VARCHAR,
                          county_code VARCHAR);
CREATE TABLE indicators (indicator_id VARCHAR PRIMARY KEY, title VARCHAR, ecm_outcome VARCHAR, unit VARCHAR,
                         multiplier INTEGER, polarity VARCHAR, ci_method VARCHAR, numerator_definition VARCHAR,
                         denominator_definition VARCHAR, denominator_kind VARCHAR, supplier VARCHAR,
                         frequency VARCHAR, notes VARCHAR, sensitive BOOLEAN, period_basis VARCHAR);
CREATE TABLE indicator_values (indicator_id VARCHAR, period VARCHAR, area_code VARCHAR, area_level VARCHAR,
                               breakdown VARCHAR, numerator BIGINT, denominator DOUBLE, value DOUBLE,
                               lower_95 DOUBLE, upper_95 DOUBLE, lower_998 DOUBLE, upper_998 DOUBLE,
                               suppressed BOOLEAN NOT NULL, rag VARCHAR, direction VARCHAR, quartile INTEGER,
                               vs_benchmark VARCHAR, benchmark_value DOUBLE,
                               PRIMARY KEY (indicator_id, period, area_code, breakdown));
CREATE TABLE benchmarks (indicator_id VARCHAR, period VARCHAR, benchmark VARCHAR, value DOUBLE, lower_95 DOUBLE,
                         upper_95 DOUBLE, source VARCHAR);
CREATE TABLE release (release_id VARCHAR, built_at TIMESTAMP, suppression_threshold INTEGER,
                      methods_version VARCHAR);
CREATE TABLE sources (supplier VARCHAR, dataset VARCHAR, record_level VARCHAR, period VARCHAR,
                      date_provided DATE, refresh_date DATE);
"""

VALUE_COLUMNS = (
    "indicator_id", "period", "area_code", "area_level", "breakdown", "numerator", "denominator", "value",
    "lower_95", "upper_95", "lower_998", "upper_998", "suppressed", "rag", "direction", "quartile",
    "vs_benchmark", "benchmark_value",
)


def write_fixture_release(path: Path) -> Path:
    """Write the fixture release to `path` (replacing any file there) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        for stmt in DDL.split(";"):
            if stmt.strip():
                con.execute(stmt)
        areas = [(COUNTY[0], COUNTY[1], "county", None)]
        areas += [(c, n, "partnership", COUNTY[0]) for c, (n, _) in PARTNERSHIPS.items()]
        areas += [(c, n, "district", COUNTY[0]) for c, n in DISTRICTS.items()]
        areas += [(c, n, "ward", d) for c, (n, d, _) in WARDS.items()]
        con.executemany("INSERT INTO areas VALUES (?, ?, ?, ?)", areas)
        con.executemany(
            "INSERT INTO area_lookup VALUES (?, ?, ?, ?)", [(w, d, p, COUNTY[0]) for w, (_, d, p) in WARDS.items()]
        )
        cols = list(INDICATORS[0])
        con.executemany(
            f"INSERT INTO indicators ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [[i[c] for c in cols] for i in INDICATORS],
        )
        con.executemany(
            f"INSERT INTO indicator_values ({', '.join(VALUE_COLUMNS)}) VALUES ({', '.join('?' for _ in VALUE_COLUMNS)})",
            [[r[c] for c in VALUE_COLUMNS] for r in expected_rows()],
        )
        bench = [(i, p, "England", v, None, None, "fixture: England") for (i, p), v in ENGLAND.items()]
        bench += [(i, p, "East Midlands", v, None, None, "fixture: region") for (i, p), v in EAST_MIDLANDS.items()]
        con.executemany("INSERT INTO benchmarks VALUES (?, ?, ?, ?, ?, ?, ?)", bench)
        con.execute("INSERT INTO release VALUES (?, ?, ?, ?)", [RELEASE_ID, BUILT_AT, THRESHOLD, "2026.1"])
        sources = [
            ("Lincolnshire Community Health Services NHS Trust", "ncmp", "client", p, dt.date(2025, 1, 10), dt.date(2026, 1, 10))
            for p in PERIODS
        ] + [
            ("Lincolnshire Youth Offending Service", "yjs_disposals", "client", p, dt.date(2025, 2, 3), dt.date(2026, 2, 3))
            for p in PERIODS
        ]
        con.executemany("INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?)", sources)
    finally:
        con.close()
    tmp.replace(path)
    return path
