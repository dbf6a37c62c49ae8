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
DERIVED_FIELDS = ("sex", "ethnicity", "age_at_event", "age_at_31aug", "ward_code", "event_date")
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
    dataset: str
    title: str
    record_level: Literal["client", "aggregate"] = "client"
    indicators: list[str]
    frequency: Literal["monthly", "quarterly", "annual"]
    format: Literal["csv", "xlsx"]
    period_basis: Literal["financial_year", "academic_year"]
    event_date_field: str
    id_field: str
    fields: list[FieldSpec]
    deviations: str = "None"
    metadata: Metadata

    @field_validator("dataset")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not IDENT.match(v):
            raise ValueError(f"dataset name {v!r} must be lower_snake_case (letters, digits, _)")
        return v

    @model_validator(mode="after")
    def _fields_exist(self):
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
class Filter(_Strict):
    field: str
    op: Literal["eq", "ne", "in", "not_in", "ge", "gt", "le", "lt", "between"]
    value: str | int | float | list[str | int | float]

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
        raise AssertionError(self.op)

    @model_validator(mode="after")
    def _between_pair(self):
        if self.op == "between" and not (isinstance(self.value, list) and len(self.value) == 2):
            raise ValueError("between needs a [low, high] pair")
        return self


class PopulationSpec(_Strict):
    age_min: int = Field(ge=0, le=19)
    age_max: int = Field(ge=0, le=19)
    sex: list[Literal["F", "M"]] = ["F", "M"]


class Target(_Strict):
    value: float
    tolerance: float = 0.0
    source: str = "local target"


class IndicatorSpec(_Strict):
    id: str
    title: str
    ecm_outcome: Literal[
        "Be healthy", "Stay safe", "Enjoy and achieve", "Make a positive contribution", "Achieve economic well-being"
    ]
    unit: str
    multiplier: int = Field(gt=0)
    polarity: Literal["higher_better", "lower_better", "no_judgement"]
    ci_method: Literal["wilson", "byars"]
    frequency: Literal["annual", "quarterly"]
    supplier: str
    dataset: str
    period_basis: Literal["financial_year", "academic_year"]
    numerator_definition: str
    denominator_definition: str
    denominator_kind: Literal["client", "population"]
    cohort: list[Filter] = []
    numerator: list[Filter] = []
    population: PopulationSpec | None = None
    sensitive: bool = False
    target: Target | None = None
    notes: str = ""
    local: bool = False

    @model_validator(mode="after")
    def _kinds(self):
        if self.denominator_kind == "population" and self.population is None:
            raise ValueError(f"{self.id}: a population denominator needs `population:` (ages and sexes)")
        if self.denominator_kind == "client" and self.ci_method == "wilson" and not self.numerator:
            raise ValueError(f"{self.id}: a proportion needs numerator filters")
        return self


def _load_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SpecError(f"{path}:{where} is not valid YAML: {getattr(e, 'problem', e)}") from None
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
    """indicator_id, period, benchmark, value, lower_95, upper_95, source."""
    return pl.read_csv(
        (specs_dir or SPECS_DIR) / "benchmarks.csv",
        schema={
            "indicator_id": pl.String, "period": pl.String, "benchmark": pl.String, "value": pl.Float64,
            "lower_95": pl.Float64, "upper_95": pl.Float64, "source": pl.String,
        },
    )
