"""Indicators and Data Specification Agreements declared as data (YAML), checked by pydantic schemas.

- `pipelines/specs/indicators/*.yaml`: one list of indicator definitions per file; a local indicator is
  added by writing YAML alone.
- `pipelines/specs/benchmarks.csv`: England / regional benchmark values per indicator and period.
- an `agreement.yaml` in each supplier folder of a supply directory: the protocol's Appendix 1.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.config import SPECS_DIR

COMMON_FIELDS = ("dob", "gender", "postcode", "ethnicity")
#: Fields every minimised record carries, usable in indicator filters.
DERIVED_FIELDS = ("sex", "ethnicity", "age_at_event", "age_at_31aug", "age_at_31mar", "ward_code", "event_date")
IDENT = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class SpecError(ValueError):
    """A YAML spec or agreement that does not follow its schema; message names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- agreements (protocol Appendix 1)
class FieldSpec(_Strict):
    name: str
    type: Literal["string", "integer", "number", "date", "category", "flag"]
    required: bool = True
    values: list[str] | None = None  # for category
    min: float | None = None
    max: float | None = None
    description: str = ""

    @field_validator("name")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not IDENT.match(v) or v in COMMON_FIELDS or v in DERIVED_FIELDS:
            raise ValueError(f"field name {v!r} must be lower_snake_case and not a common or derived field")
        return v

    @model_validator(mode="after")
    def _category_has_values(self):
        if self.type == "category" and not self.values:
            raise ValueError(f"category field {self.name!r} needs values")
        return self


class Metadata(_Strict):
    description: str
    date_provided: dt.date
    refresh_date: dt.date
    coverage: str = ""


class DatasetAgreement(_Strict):
    """One dataset of an agreement.

    `record_level: client` (one row per client record): `event_date_field`, `id_field` and `fields` say
    what each row carries. `record_level: aggregate` (counts, one row per area, period, measure and
    breakdown; docs/supplies.md): no fields; `denominator: true` when every row carries a
    `denominator`, and `measures` when one file carries several counts (a `measure` column naming one
    of them), so that one supply can feed several indicators.
    """

    dataset: str
    title: str
    record_level: Literal["client", "aggregate"] = "client"
    indicators: list[str]
    frequency: Literal["monthly", "quarterly", "annual"]
    format: Literal["csv", "xlsx"]
    period_basis: Literal["financial_year", "academic_year"]
    event_date_field: str | None = None
    id_field: str | None = None
    fields: list[FieldSpec] = []
    #: aggregate only: every row has a denominator column (e.g. children on roll, infants due a check)
    denominator: bool = False
    #: aggregate only: the counts a file carries, named in its `measure` column (none: no such column)
    measures: list[str] = []
    deviations: str = "None"
    metadata: Metadata

    @field_validator("dataset")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not IDENT.match(v):
            raise ValueError(f"dataset name {v!r} must be lower_snake_case (letters, digits, _)")
        return v

    @field_validator("measures")
    @classmethod
    def _measure_names(cls, v: list[str]) -> list[str]:
        for m in v:
            if not IDENT.match(m):
                raise ValueError(f"measure name {m!r} must be lower_snake_case (letters, digits, _)")
        if len(set(v)) != len(v):
            raise ValueError("a measure is listed twice")
        return v

    @model_validator(mode="after")
    def _fields_exist(self):
        if self.record_level == "aggregate":
            if self.fields or self.event_date_field or self.id_field:
                raise ValueError(
                    "an aggregate dataset has no fields, event_date_field or id_field: its columns are "
                    "area_code, period, [measure], [breakdown], numerator[, denominator]"
                )
            return self
        if self.denominator or self.measures:
            raise ValueError("denominator and measures are for aggregate datasets (record_level: aggregate)")
        if not self.fields or not self.event_date_field or not self.id_field:
            raise ValueError("a client-level dataset needs fields, event_date_field and id_field")
        names = {f.name for f in self.fields}
        for key in ("event_date_field", "id_field"):
            if getattr(self, key) not in names:
                raise ValueError(f"{key} {getattr(self, key)!r} is not one of the dataset's fields")
        date_field = next(f for f in self.fields if f.name == self.event_date_field)
        if date_field.type != "date":
            raise ValueError(f"event_date_field {self.event_date_field!r} must be a date field")
        return self

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


class Agreement(_Strict):
    supplier: str
    supplier_code: str
    data_protection_registration: str
    contact: str
    receiver: str = "Lincolnshire County Council (LCP Scorecard project)"
    review_date: dt.date
    datasets: list[DatasetAgreement] = Field(min_length=1)

    @field_validator("supplier_code")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not IDENT.match(v):
            raise ValueError(f"supplier_code {v!r} must be lower_snake_case")
        return v

    def dataset(self, name: str) -> DatasetAgreement | None:
        return next((d for d in self.datasets if d.dataset == name), None)


# ---------------------------------------------------------------- indicators
BREAKDOWN_DIMENSIONS = ("sex", "ethnicity", "age")
CI_METHODS = ("wilson", "byars", "mean_t", "newcombe")
_BAND = re.compile(r"^(\d{1,2})-(\d{1,2})$")


class Filter(_Strict):
    """One condition on a record: `field op value`. `present` / `missing` take no value."""

    field: str
    op: Literal["eq", "ne", "in", "not_in", "ge", "gt", "le", "lt", "between", "present", "missing"]
    value: str | int | float | list[str | int | float] | None = None

    def expr(self) -> pl.Expr:
        c = pl.col(self.field)
        v = self.value
        match self.op:
            case "eq":
                return c == v
            case "ne":
                return c != v
            case "in":
                return c.is_in(list(v) if isinstance(v, list) else [v])
            case "not_in":
                return ~c.is_in(list(v) if isinstance(v, list) else [v])
            case "ge":
                return c >= v
            case "gt":
                return c > v
            case "le":
                return c <= v
            case "lt":
                return c < v
            case "between":
                lo, hi = v  # type: ignore[misc]
                return c.is_between(lo, hi, closed="both")
            case "present":
                return c.is_not_null()
            case "missing":
                return c.is_null()
        raise AssertionError(self.op)

    @model_validator(mode="after")
    def _value_fits_op(self):
        if self.op == "between" and not (isinstance(self.value, list) and len(self.value) == 2):
            raise ValueError("between needs a [low, high] pair")
        if self.op in ("present", "missing"):
            if self.value is not None:
                raise ValueError(f"{self.op} takes no value")
        elif self.value is None:
            raise ValueError(f"{self.op} needs a value")
        return self


class AnyOf(_Strict):
    """At least one of the filters holds: `{any_of: [{field: ..., op: ..., value: ...}, ...]}`."""

    any_of: list[Filter] = Field(min_length=2)

    def expr(self) -> pl.Expr:
        out = self.any_of[0].expr().fill_null(False)
        for f in self.any_of[1:]:
            out = out | f.expr().fill_null(False)
        return out

    @property
    def fields(self) -> set[str]:
        return {f.field for f in self.any_of}


#: A condition in `cohort`, `numerator` or a comparison group: a filter, or any_of several filters.
Condition = Filter | AnyOf


class PopulationSpec(_Strict):
    """The ONS ward population used as the denominator: single years of age (0-19 held) and sexes."""

    age_min: int = Field(ge=0, le=19)
    age_max: int = Field(ge=0, le=19)
    sex: list[Literal["F", "M"]] = ["F", "M"]

    @model_validator(mode="after")
    def _order(self):
        if self.age_min > self.age_max:
            raise ValueError("population age_min is above age_max")
        return self


def parse_band(band: str) -> tuple[int, int]:
    """'10-14' -> (10, 14); a single year is written '17-17'."""
    m = _BAND.match(band)
    if not m or int(m.group(1)) > int(m.group(2)):
        raise ValueError(f"age band {band!r} must be 'low-high' in whole years, e.g. '10-14'")
    return int(m.group(1)), int(m.group(2))


class AgeRule(_Strict):
    """Which age a record is counted at, the ages counted, and the bands of the `age=` breakdown.

    at:
    - `event`: completed years on the record's event date (`age_at_event`);
    - `31 August`: on the last 31 August on or before the event, i.e. academic age, as the DfE uses for
      school years, NEET and participation (`age_at_31aug`);
    - `31 March`: on the first 31 March on or after the event, i.e. at the end of the financial year, as
      the SSDA903 indicators use (`age_at_31mar`, derived at ingest). A store written before that field
      existed has no `age_at_31mar`: then only records whose event date is itself a 31 March (a
      snapshot) have an age, and other records are not counted.

    bands: contiguous, non-overlapping 'low-high' bands covering min..max exactly, so every counted
    record falls in exactly one band and the `age=` parts add up to `all`.
    """

    at: Literal["event", "31 August", "31 March"] = "event"
    min: int = Field(ge=0, le=25)
    max: int = Field(ge=0, le=25)
    bands: list[str] = []

    @model_validator(mode="after")
    def _bands_cover_range(self):
        if self.min > self.max:
            raise ValueError("age_rule min is above max")
        if self.bands:
            parsed = [parse_band(b) for b in self.bands]
            expect = self.min
            for (lo, hi), b in zip(parsed, self.bands):
                if lo != expect:
                    raise ValueError(
                        f"age band {b!r} should start at {expect}: bands must be in order, contiguous and "
                        f"cover {self.min}-{self.max} exactly"
                    )
                expect = hi + 1
            if expect != self.max + 1:
                raise ValueError(f"age bands end at {expect - 1}, not at the rule's max {self.max}")
        return self

    def band_of(self, age: int) -> str | None:
        for b in self.bands:
            lo, hi = parse_band(b)
            if lo <= age <= hi:
                return b
        return None


class Comparison(_Strict):
    """Two groups of a cohort for a gap (ci_method `newcombe`): value = % of group_1 meeting the
    numerator minus % of group_2 meeting it. Records in neither group are not counted."""

    group_1: list[Condition] = Field(min_length=1)
    group_2: list[Condition] = Field(min_length=1)
    label_1: str
    label_2: str


class Target(_Strict):
    value: float
    tolerance: float = Field(default=0.0, ge=0)
    source: str = "local target"


#: How an indicator's RAG is decided (docs/methods.md, Judgements): `benchmark` (the 95% comparison with
#: England), `target` (the value against the target and its tolerance), or `target_and_benchmark`
#: (both must agree for green or red). Default: `target_and_benchmark` with a target, else `benchmark`.
RAG_RULES = ("benchmark", "target", "target_and_benchmark")


class IndicatorSpec(_Strict):
    """One indicator, declared in YAML (pipelines/specs/indicators/*.yaml).

    Counting: records of `dataset` passing every `cohort` filter and the `age_rule` make the cohort
    (the denominator for a client cohort); those also passing every `numerator` filter are the
    numerator. ci_method decides the statistic:
    - `wilson`: a proportion x/n (client cohort, or a population denominator, e.g. screening coverage);
    - `byars`: a rate x/n (x = records, or the sum of `sum_field`), Byar's / exact Poisson limits;
    - `mean_t`: the mean of `sum_field` over cohort records that have it (numerator = sum, denominator =
      records, plus the sum of squares), Student t limits;
    - `newcombe`: a gap between the two groups of `comparison`, Newcombe's hybrid score limits.
    """

    id: str = Field(pattern=r"^[A-Z]([A-Za-z0-9 .-]{0,18}[A-Za-z0-9])?$")  # no "#": see measures.COMPONENT
    title: str
    ecm_outcome: Literal[
        "Be healthy", "Stay safe", "Enjoy and achieve", "Make a positive contribution", "Achieve economic well-being"
    ]
    unit: str
    multiplier: int = Field(gt=0)
    polarity: Literal["higher_better", "lower_better", "no_judgement"]
    ci_method: Literal["wilson", "byars", "mean_t", "newcombe"]
    frequency: Literal["annual", "quarterly"]
    #: also publish 12-month windows ending at each quarter end (labels '12m to YYYY-MM')
    rolling_12m: bool = False
    supplier: str
    dataset: str
    period_basis: Literal["financial_year", "academic_year"]
    numerator_definition: str
    denominator_definition: str
    denominator_kind: Literal["client", "population"]
    cohort: list[Condition] = []
    numerator: list[Condition] = []
    age_rule: AgeRule | None = None
    population: PopulationSpec | None = None
    sum_field: str | None = None
    comparison: Comparison | None = None
    #: breakdowns published besides `all`; default: sex and ethnicity, plus age where age bands are declared
    breakdowns: list[Literal["sex", "ethnicity", "age"]] | None = None
    sensitive: bool = False
    target: Target | None = None
    #: benchmark | target | target_and_benchmark; None: target_and_benchmark with a target, else benchmark
    rag_rule: Literal["benchmark", "target", "target_and_benchmark"] | None = None
    notes: str = ""
    local: bool = False
    #: `aggregate`: counted from an aggregate supply of `dataset` (counts by ward or district), not from
    #: client records: no filters; `measure` picks one count when the dataset carries several
    record_level: Literal["client", "aggregate"] = "client"
    measure: str | None = None

    @field_validator("dataset", "sum_field", "measure")
    @classmethod
    def _dataset_ident(cls, v: str | None) -> str | None:
        if v is not None and not IDENT.match(v):
            raise ValueError(f"{v!r} must be lower_snake_case (letters, digits, _)")
        return v

    @model_validator(mode="after")
    def _kinds(self):
        i = self.id
        if self.denominator_kind == "population" and self.population is None:
            raise ValueError(f"{i}: a population denominator needs `population:` (ages and sexes)")
        if self.denominator_kind == "client" and self.population is not None:
            raise ValueError(f"{i}: `population:` is only for a population denominator")
        if (self.ci_method == "wilson" and self.denominator_kind == "client" and not self.numerator
                and self.record_level == "client"):
            raise ValueError(f"{i}: a proportion needs numerator filters")
        if self.ci_method == "mean_t":
            if self.denominator_kind != "client" or not self.sum_field or self.numerator:
                raise ValueError(f"{i}: mean_t needs a client cohort, `sum_field` and no numerator filters")
        elif self.sum_field and self.ci_method != "byars":
            raise ValueError(f"{i}: sum_field is only for mean_t or a byars rate")
        if (self.ci_method == "newcombe") != (self.comparison is not None):
            raise ValueError(f"{i}: `comparison` goes with ci_method newcombe, and newcombe needs it")
        if self.ci_method == "newcombe" and (self.denominator_kind != "client" or not self.numerator):
            raise ValueError(f"{i}: newcombe needs a client cohort and numerator filters")
        if self.breakdowns is not None:
            if len(set(self.breakdowns)) != len(self.breakdowns):
                raise ValueError(f"{i}: a breakdown is listed twice")
            if "age" in self.breakdowns and not (self.age_rule and self.age_rule.bands):
                raise ValueError(f"{i}: the age breakdown needs `age_rule.bands`")
        if self.age_rule and self.age_rule.bands and self.population and "age" in self.published_breakdowns:
            if (self.age_rule.min, self.age_rule.max) != (self.population.age_min, self.population.age_max):
                raise ValueError(
                    f"{i}: age bands of a population rate need the age_rule range to equal the population's"
                )
        if self.target is not None and self.polarity == "no_judgement":
            raise ValueError(f"{i}: a target needs a polarity")
        if self.record_level == "aggregate":
            if self.ci_method not in ("wilson", "byars"):
                raise ValueError(f"{i}: an aggregate indicator is a proportion or a rate (wilson or byars)")
            if self.cohort or self.numerator or self.sum_field or self.comparison:
                raise ValueError(f"{i}: an aggregate indicator has no cohort, numerator, sum_field or comparison: "
                                 "the supply's counts are used as they are")
            if self.frequency != "annual" or self.rolling_12m:
                raise ValueError(f"{i}: an aggregate indicator is annual (aggregate supplies give years)")
            if self.age_rule and self.age_rule.at != "event":
                raise ValueError(f"{i}: an aggregate indicator's age_rule gives only the age bands supplied")
        elif self.measure is not None:
            raise ValueError(f"{i}: `measure` is for an aggregate indicator (record_level: aggregate)")
        if self.rag_rule in ("target", "target_and_benchmark") and self.target is None:
            raise ValueError(f"{i}: rag_rule {self.rag_rule} needs a `target:`")
        if self.rag_rule is not None and self.polarity == "no_judgement":
            raise ValueError(f"{i}: rag_rule needs a polarity (no_judgement has no RAG)")
        return self

    @property
    def effective_rag_rule(self) -> str | None:
        """The RAG rule used: `rag_rule`, else target_and_benchmark with a target, else benchmark;
        None for a no_judgement indicator (no RAG)."""
        if self.polarity == "no_judgement":
            return None
        if self.rag_rule is not None:
            return self.rag_rule
        return "target_and_benchmark" if self.target is not None else "benchmark"

    @property
    def published_breakdowns(self) -> tuple[str, ...]:
        """Breakdown dimensions published besides `all`, in a fixed order."""
        if self.breakdowns is not None:
            chosen = set(self.breakdowns)
        else:
            chosen = {"sex", "ethnicity"} | ({"age"} if self.age_rule and self.age_rule.bands else set())
        return tuple(d for d in BREAKDOWN_DIMENSIONS if d in chosen)

    @property
    def sexes(self) -> tuple[str, ...]:
        return tuple(self.population.sex) if self.population else ("F", "M")

    def fields_used(self) -> set[str]:
        """Record fields the definition reads (filters, sum_field, comparison groups)."""
        filters = [*self.cohort, *self.numerator]
        if self.comparison:
            filters += [*self.comparison.group_1, *self.comparison.group_2]
        out: set[str] = set()
        for f in filters:
            out |= f.fields if isinstance(f, AnyOf) else {f.field}
        if self.sum_field:
            out.add(self.sum_field)
        return out


def yaml_problem(e: yaml.YAMLError) -> str:
    """' line N is not valid YAML: <problem>' on one line (PyYAML's own text spans several)."""
    mark = getattr(e, "problem_mark", None)
    where = f" line {mark.line + 1}" if mark else ""
    problem = getattr(e, "problem", None) or (str(e).splitlines() or ["unreadable"])[0]
    return f"{where} is not valid YAML: {' '.join(str(problem).split())}"


def _load_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise SpecError(f"{path}:{yaml_problem(e)}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"{path}: cannot be read: {e}") from None


def _explain(path: Path, err: ValidationError) -> SpecError:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    return SpecError(f"{path}: field {loc or '(top)'}: {first['msg']} ({len(err.errors())} problem(s))")


def load_agreement(path: Path) -> Agreement:
    data = _load_yaml(path)
    try:
        return Agreement.model_validate(data)
    except ValidationError as e:
        raise _explain(path, e) from None


def indicator_files(specs_dir: Path | None = None) -> list[Path]:
    return sorted(((specs_dir or SPECS_DIR) / "indicators").glob("*.yaml"))


def load_indicators(specs_dir: Path | None = None) -> list[IndicatorSpec]:
    out: list[IndicatorSpec] = []
    for path in indicator_files(specs_dir):
        data = _load_yaml(path) or []
        if not isinstance(data, list):
            raise SpecError(f"{path}: must be a YAML list of indicators")
        for i, item in enumerate(data):
            try:
                out.append(IndicatorSpec.model_validate(item))
            except ValidationError as e:
                raise _explain(path, e).__class__(f"{_explain(path, e)} [item {i + 1}]") from None
    ids = [s.id for s in out]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise SpecError(f"indicator ids declared twice: {sorted(dup)}")
    return out


def load_benchmarks(specs_dir: Path | None = None) -> pl.DataFrame:
    """indicator_id, period, benchmark, value, lower_95, upper_95, source.

    From `specs_dir`/benchmarks.csv, or the project's own where `specs_dir` has none (a specs directory
    may hold indicator YAML alone).
    """
    path = (specs_dir or SPECS_DIR) / "benchmarks.csv"
    if not path.is_file():
        path = SPECS_DIR / "benchmarks.csv"
    return pl.read_csv(
        path,
        schema={
            "indicator_id": pl.String, "period": pl.String, "benchmark": pl.String, "value": pl.Float64,
            "lower_95": pl.Float64, "upper_95": pl.Float64, "source": pl.String,
        },
    )


QUARTILE_THRESHOLDS_SCHEMA = {
    "indicator_id": pl.String, "period": pl.String, "benchmark": pl.String, "area_level": pl.String,
    "lower_quartile": pl.Float64, "median": pl.Float64, "upper_quartile": pl.Float64, "source": pl.String,
}


def load_quartile_thresholds(specs_dir: Path | None = None) -> pl.DataFrame:
    """indicator_id, period, benchmark ('England'), area_level ('district'), lower_quartile, median,
    upper_quartile, source: the 25th, 50th and 75th percentiles of the values of England's areas of that
    level (e.g. all English lower-tier local authorities), from `specs_dir`/quartile_thresholds.csv or
    the project's own; an empty frame where there is no such file. The values shipped are demo values,
    labelled so in `source`."""
    path = (specs_dir or SPECS_DIR) / "quartile_thresholds.csv"
    if not path.is_file():
        path = SPECS_DIR / "quartile_thresholds.csv"
    if not path.is_file():
        return pl.DataFrame(schema=QUARTILE_THRESHOLDS_SCHEMA)
    frame = pl.read_csv(path, schema=QUARTILE_THRESHOLDS_SCHEMA)
    bad = frame.filter(
        ~((pl.col("lower_quartile") <= pl.col("median")) & (pl.col("median") <= pl.col("upper_quartile")))
    )
    if bad.height:
        r = bad.row(0, named=True)
        raise SpecError(f"{path}: {r['indicator_id']} {r['period']}: thresholds must be lower_quartile <= median "
                        "<= upper_quartile")
    return frame
