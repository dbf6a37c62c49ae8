"""Hostile input (hypothesis): the supply parser and the agreement loader never crash.

Whatever bytes arrive as a supply, `validate_bytes` returns a result (loaded or rejected) whose
messages name the file; it never raises and never echoes a long raw value. Whatever text arrives as
an agreement, `parse_agreement` returns an Agreement or raises IngestError naming the file: never any
other exception, so `lcp ingest` and the upload app print one line, not a traceback."""
from __future__ import annotations

import copy
import csv
import io
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest import IngestError, SupplyResult, parse_agreement, validate_bytes
from pipelines.specs import Agreement

from test_ingest import GOOD_YOS, LCHS_AGREEMENT, PC1, YOS_AGREEMENT, YOS_HEADER  # noqa: E402

YOS = Agreement.model_validate(YOS_AGREEMENT)
LCHS = Agreement.model_validate(LCHS_AGREEMENT)
CSV_NAME = "yjs_disposals_2023-24.csv"
XLSX_NAME = "ncmp_2023-24.xlsx"
#: LCP_FUZZ_EXAMPLES=5000 for a long hunt; `make test` runs 150 a test, derandomized (the same inputs
#: every run, so CI stays reproducible; a new seed is one environment variable away: LCP_FUZZ_RANDOM=1)
FUZZ = settings(max_examples=int(os.environ.get("LCP_FUZZ_EXAMPLES", "150")), deadline=None,
                derandomize=os.environ.get("LCP_FUZZ_RANDOM") != "1", database=None,
                suppress_health_check=[HealthCheck.too_slow])

#: cell values a hostile or careless supplier might send: formulas, markup, delimiters, control
#: characters, huge numbers, other scripts, and a few valid ones so that some rows pass
cells = st.one_of(
    st.sampled_from(["=SUM(A1:A9)", "+1", "-1", "@cmd", "<script>alert(1)</script>", "**bold**", '"', '""', ",",
                     ";", "\t", "\r", "\n", "\x00", "é", "🙂", "9" * 400, "-0", "1e308", "NaN", "",
                     "15/10/2010", "31/02/2020", "10/06/2023", "M", "F", PC1, "1", "20", "21", "reprimand"]),
    st.text(max_size=30),
)


def _check(result: SupplyResult, name: str) -> None:
    assert isinstance(result, SupplyResult)
    assert result.outcome in ("loaded", "rejected")
    assert result.sha256 and len(result.sha256) == 64
    for p in [*result.errors, *result.warnings]:
        assert p.file == name and p.rule
        assert "Traceback" not in str(p) and "9" * 400 not in str(p)  # values are masked, never echoed whole
    if result.outcome == "rejected":
        line = result.summary()
        assert line.startswith(f"REJECTED {name}") and "\n" not in line


@FUZZ
@given(st.binary(max_size=2000))
def test_any_bytes_as_a_csv_supply_give_a_result_not_a_crash(data):
    result, frame, meta = validate_bytes(CSV_NAME, data, YOS)
    _check(result, CSV_NAME)
    if result.outcome == "rejected":
        assert frame is None and meta is None


@FUZZ
@given(st.binary(max_size=2000))
def test_any_bytes_as_an_xlsx_supply_give_a_result_not_a_crash(data):
    result, frame, _ = validate_bytes(XLSX_NAME, data, LCHS)
    _check(result, XLSX_NAME)
    assert result.outcome == "rejected" and frame is None  # random bytes are never a workbook


@FUZZ
@given(st.lists(st.lists(cells, min_size=0, max_size=len(YOS_HEADER) + 2), max_size=8),
       st.sampled_from([",", ";", "\t"]), st.booleans())
def test_hostile_rows_under_a_good_header_give_a_result_not_a_crash(rows, delimiter, bom):
    text = delimiter.join(YOS_HEADER) + "\n" + "\n".join(delimiter.join(r) for r in rows)
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8", "surrogatepass")
    result, frame, _ = validate_bytes(CSV_NAME, data, YOS)
    _check(result, CSV_NAME)
    if result.outcome == "loaded":  # only possible when every row was valid
        assert frame is not None and frame.height <= len(rows)
        assert "dob" not in frame.columns and "postcode" not in frame.columns


@FUZZ
@given(st.integers(min_value=0, max_value=len(GOOD_YOS)), st.integers(min_value=0, max_value=len(YOS_HEADER) - 1),
       cells)
def test_one_bad_cell_in_a_good_supply_is_named_by_row_and_field(row, col, value):
    rows = [list(r) for r in GOOD_YOS]
    buf = io.StringIO()
    if row < len(rows):
        rows[row][col] = value
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(YOS_HEADER)
    w.writerows(rows)
    result, _, _ = validate_bytes(CSV_NAME, buf.getvalue().encode("utf-8", "surrogatepass"), YOS)
    _check(result, CSV_NAME)
    for p in result.errors:
        if p.row is not None:
            assert 2 <= p.row <= len(rows) + 1  # data rows are 2.. (the header is row 1)


@FUZZ
@given(st.text(max_size=400))
def test_any_text_as_an_agreement_is_an_agreement_or_one_clear_error(text):
    try:
        agreement = parse_agreement("agreement.yaml", text)
    except IngestError as e:
        assert str(e).startswith("agreement.yaml") and "\n" not in str(e)
    else:
        assert isinstance(agreement, Agreement)


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


PATHS = list(_paths(YOS_AGREEMENT))
junk = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20), st.booleans(),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), junk, st.booleans()), min_size=1, max_size=4))
def test_a_mutated_agreement_is_an_agreement_or_one_clear_error(mutations):
    doc = copy.deepcopy(YOS_AGREEMENT)
    for path, value, delete in mutations:
        parent = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
            if delete:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    text = yaml.safe_dump(doc, allow_unicode=True)
    try:
        agreement = parse_agreement("agreement.yaml", text)
    except IngestError as e:
        assert str(e).startswith("agreement.yaml: field ") or "is not valid YAML" in str(e)
    else:
        assert isinstance(agreement, Agreement)
