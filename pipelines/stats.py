"""Confidence limits and two-sample tests, as scalar functions and as polars expressions.

Methods follow PHEindicatormethods (re-implemented from the published formulas; see
`../shared/reference/ci_methods.md`):

- proportions: Wilson score interval, no continuity correction (Wilson 1927);
- crude rates: exact Poisson limits (chi-square / gamma form) when the count x < 10, Byar's
  approximation (Breslow & Day 1987) when x >= 10;
- z = Phi^-1(1 - alpha/2): 1.959964 at 95%, 3.090232 at 99.8%.

The scalar functions are the reference; `add_confidence_limits` is the vectorised stage used by the build
and gives the same numbers (a property test checks this).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import polars as pl
from scipy import stats as _sps

CiMethod = Literal["wilson", "byars"]

#: Below this count a rate uses exact Poisson limits; from it upwards Byar's (PHE: "x < 10 -> exact").
EXACT_BELOW = 10
#: The two confidence levels the release publishes, and the column suffix used for each.
LEVELS: tuple[tuple[float, str], ...] = ((0.95, "95"), (0.998, "998"))
LIMIT_COLUMNS = ("value", "lower_95", "upper_95", "lower_998", "upper_998")


def _confidence(confidence: float) -> float:
    """Accept 0.9-1 or 90-100 (as PHEindicatormethods does); return a fraction."""
    c = float(confidence)
    if 90 <= c <= 100:
        c /= 100
    if not 0.9 <= c <= 1:
        raise ValueError(f"confidence must be between 0.9 and 1 (or 90 and 100), got {confidence!r}")
    return c


def z_value(confidence: float = 0.95) -> float:
    """Two-sided normal quantile Phi^-1(1 - alpha/2): 1.959964 at 0.95, 3.090232 at 0.998."""
    c = _confidence(confidence)
    return float(_sps.norm.ppf(c + (1 - c) / 2))


Z95 = z_value(0.95)
Z998 = z_value(0.998)


# ---------------------------------------------------------------- scalar reference functions
def wilson(x: float, n: float, confidence: float = 0.95) -> tuple[float, float, float]:
    """(value, lower, upper) of the proportion x/n with the Wilson score interval, as proportions 0-1.

    lower/upper = (2x + z^2 -/+ z*sqrt(z^2 + 4x(1 - x/n))) / (2(n + z^2)). Requires 0 <= x <= n, n > 0.
    At confidence 1 the interval is [0, 1].
    """
    if n is None or x is None:
        raise ValueError("wilson needs a numerator and a denominator")
    if n <= 0:
        raise ValueError(f"denominator must be > 0, got {n}")
    if x < 0 or x > n:
        raise ValueError(f"numerator must be between 0 and the denominator, got {x}/{n}")
    c = _confidence(confidence)
    value = x / n
    if c == 1:
        return value, 0.0, 1.0
    z = z_value(c)
    centre = 2 * x + z * z
    half = z * math.sqrt(z * z + 4 * x * (1 - x / n))
    denom = 2 * (n + z * z)
    # x = 0 and x = n give exactly 0 and 1 by the formula; set them so that rounding cannot cross the value
    lower = 0.0 if x == 0 else (centre - half) / denom
    upper = 1.0 if x == n else (centre + half) / denom
    return value, lower, upper


def byars_lower(o: float, z: float) -> float:
    """Byar's lower limit for a count O: O(1 - 1/(9O) - z/(3 sqrt O))^3 (needs O > 0)."""
    return o * (1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3


def byars_upper(o: float, z: float) -> float:
    """Byar's upper limit for a count O: (O+1)(1 - 1/(9(O+1)) + z/(3 sqrt(O+1)))^3."""
    o1 = o + 1
    return o1 * (1 - 1 / (9 * o1) + z / (3 * math.sqrt(o1))) ** 3


def exact_poisson_limits(x: float, confidence: float = 0.95) -> tuple[float, float]:
    """Exact Poisson limits for a count: (Gamma^-1(alpha/2; x), Gamma^-1(1 - alpha/2; x + 1)); lower 0 at x = 0.

    Same as qchisq(alpha/2, 2x)/2 and qchisq(1 - alpha/2, 2x + 2)/2.
    """
    c = _confidence(confidence)
    alpha = 1 - c
    lower = 0.0 if x == 0 else float(_sps.gamma.ppf(alpha / 2, x))
    upper = float(_sps.gamma.ppf(1 - alpha / 2, x + 1))
    return lower, upper


def rate_limits(
    x: float, n: float, multiplier: float = 100000, confidence: float = 0.95
) -> tuple[float, float, float]:
    """(value, lower, upper) of the crude rate x/n * multiplier (PHE `phe_rate`).

    x < 10: exact Poisson limits (x = 0 gives lower 0); x >= 10: Byar's. Requires x >= 0, n > 0
    (x > n is allowed).
    """
    if n is None or x is None:
        raise ValueError("rate_limits needs a count and a denominator")
    if n <= 0:
        raise ValueError(f"denominator must be > 0, got {n}")
    if x < 0:
        raise ValueError(f"count must be >= 0, got {x}")
    c = _confidence(confidence)
    if x < EXACT_BELOW:
        lo, hi = exact_poisson_limits(x, c)
    else:
        z = z_value(c)
        lo, hi = byars_lower(x, z), byars_upper(x, z)
    return x / n * multiplier, lo / n * multiplier, hi / n * multiplier


def limits(
    x: float, n: float, ci_method: CiMethod, multiplier: float = 1, confidence: float = 0.95
) -> tuple[float, float, float]:
    """(value, lower, upper) in the indicator's unit (x multiplier) for either ci_method."""
    if ci_method == "wilson":
        return tuple(v * multiplier for v in wilson(x, n, confidence))  # type: ignore[return-value]
    if ci_method == "byars":
        return rate_limits(x, n, multiplier, confidence)
    raise ValueError(f"unknown ci_method {ci_method!r}")


def compare(x1: float, n1: float, x2: float, n2: float, ci_method: CiMethod) -> float | None:
    """z statistic for sample 1 against sample 2 (positive: sample 1 is higher). See `compare_expr`."""
    if ci_method == "wilson":
        p1, p2 = x1 / n1, x2 / n2
        p = (x1 + x2) / (n1 + n2)
        se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
        return 0.0 if se == 0 else (p1 - p2) / se
    if ci_method == "byars":
        if x1 <= 0 or x2 <= 0:
            return None
        return (math.log(x1 / n1) - math.log(x2 / n2)) / math.sqrt(1 / x1 + 1 / x2)
    raise ValueError(f"unknown ci_method {ci_method!r}")


# ---------------------------------------------------------------- polars expressions
def _col(c: str | pl.Expr) -> pl.Expr:
    return pl.col(c) if isinstance(c, str) else c


def wilson_exprs(x: pl.Expr, n: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr]:
    """Wilson (lower, upper) as proportions, as expressions of Float64 x and n (0 at x = 0, 1 at x = n)."""
    centre = 2 * x + z * z
    half = z * (z * z + 4 * x * (1 - x / n)).sqrt()
    denom = 2 * (n + z * z)
    lower = pl.when(x == 0).then(pl.lit(0.0)).otherwise((centre - half) / denom)
    upper = pl.when(x == n).then(pl.lit(1.0)).otherwise((centre + half) / denom)
    return lower, upper


def byars_exprs(o: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr]:
    """Byar's (lower, upper) limits of a count, as expressions (lower meaningless at O = 0)."""
    o1 = o + 1
    lower = o * (1 - 1 / (9 * o) - z / (3 * o.sqrt())) ** 3
    upper = o1 * (1 - 1 / (9 * o1) + z / (3 * o1.sqrt())) ** 3
    return lower, upper


def _gamma_ppf(q: float, shift: float) -> Callable[[pl.Series], pl.Series]:
    def f(s: pl.Series) -> pl.Series:
        shape = s.cast(pl.Float64).to_numpy() + shift
        with np.errstate(invalid="ignore"):
            out = _sps.gamma.ppf(q, shape)  # NaN for shape 0 (x = 0 lower) and for nulls
        return pl.Series(s.name, out, dtype=pl.Float64, nan_to_null=True)

    return f


def exact_poisson_exprs(x: pl.Expr, confidence: float) -> tuple[pl.Expr, pl.Expr]:
    """Exact Poisson (lower, upper) limits of a count, vectorised with scipy over the whole column."""
    alpha = 1 - _confidence(confidence)
    lower = x.map_batches(_gamma_ppf(alpha / 2, 0.0), return_dtype=pl.Float64, is_elementwise=True)
    upper = x.map_batches(_gamma_ppf(1 - alpha / 2, 1.0), return_dtype=pl.Float64, is_elementwise=True)
    return pl.when(x == 0).then(pl.lit(0.0)).otherwise(lower), upper


def limit_exprs(
    numerator: str | pl.Expr = "numerator",
    denominator: str | pl.Expr = "denominator",
    multiplier: str | pl.Expr = "multiplier",
    ci_method: str | pl.Expr = "ci_method",
    confidence: float = 0.95,
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(value, lower, upper) expressions in the indicator's unit; null where a count is null or n <= 0."""
    x = _col(numerator).cast(pl.Float64)
    n = _col(denominator).cast(pl.Float64)
    m = _col(multiplier).cast(pl.Float64)
    method = _col(ci_method)
    c = _confidence(confidence)
    z = z_value(c)
    w_lo, w_hi = wilson_exprs(x, n, z)
    b_lo, b_hi = byars_exprs(x, z)
    e_lo, e_hi = exact_poisson_exprs(x, c)
    lo = (
        pl.when(method == "wilson").then(w_lo)
        .when(method == "byars").then(pl.when(x < EXACT_BELOW).then(e_lo / n).otherwise(b_lo / n))
    )
    hi = (
        pl.when(method == "wilson").then(w_hi)
        .when(method == "byars").then(pl.when(x < EXACT_BELOW).then(e_hi / n).otherwise(b_hi / n))
    )
    ok = (
        x.is_not_null() & n.is_not_null() & (n > 0) & (x >= 0)
        & (((method == "wilson") & (x <= n)) | (method == "byars"))
    )
    value = pl.when(ok).then(x / n * m)
    return value, pl.when(ok).then(lo * m), pl.when(ok).then(hi * m)


def add_confidence_limits(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add value, lower_95, upper_95, lower_998, upper_998 (Float64, in the indicator's unit).

    Needs columns numerator (counts, may be null), denominator (may be null), multiplier and ci_method
    ("wilson" for proportions, "byars" for rates). Null where numerator or denominator is null or
    denominator <= 0 (and, for a proportion, where numerator > denominator). Existing columns of those names are replaced.
    """
    value, lo95, hi95 = limit_exprs(confidence=0.95)
    _, lo998, hi998 = limit_exprs(confidence=0.998)
    return frame.with_columns(
        value.alias("value"),
        lo95.alias("lower_95"),
        hi95.alias("upper_95"),
        lo998.alias("lower_998"),
        hi998.alias("upper_998"),
    )


def compare_expr(
    x1: str | pl.Expr,
    n1: str | pl.Expr,
    x2: str | pl.Expr,
    n2: str | pl.Expr,
    ci_method: str | pl.Expr = "ci_method",
) -> pl.Expr:
    """z statistic for sample 1 (x1/n1) against sample 2 (x2/n2); positive when sample 1 is higher.

    - "wilson" (proportions): the pooled two-proportion z test,
      z = (p1 - p2) / sqrt(p(1 - p)(1/n1 + 1/n2)) with p = (x1 + x2)/(n1 + n2); z = 0 when the pooled
      variance is 0 (both 0% or both 100%).
    - "byars" (rates, counts assumed Poisson): the z test on the log rate ratio,
      z = ln((x1/n1)/(x2/n2)) / sqrt(1/x1 + 1/x2); null if either count is 0 (log undefined).
      The denominators are taken as fixed (population), as for the rate's own limits.

    Chosen over "do the two confidence intervals overlap", which is conservative (misses real
    differences). Null where any input is null or a denominator is <= 0.
    """
    a, na, b, nb = (_col(c).cast(pl.Float64) for c in (x1, n1, x2, n2))
    method = _col(ci_method)
    p1, p2 = a / na, b / nb
    p = (a + b) / (na + nb)
    se = (p * (1 - p) * (1 / na + 1 / nb)).sqrt()
    z_prop = pl.when(se > 0).then((p1 - p2) / se).otherwise(pl.lit(0.0))
    z_rate = pl.when((a > 0) & (b > 0)).then(
        ((a / na).log() - (b / nb).log()) / (1 / a + 1 / b).sqrt()
    )
    ok = a.is_not_null() & b.is_not_null() & (na > 0) & (nb > 0)
    return (
        pl.when(ok & (method == "wilson")).then(z_prop)
        .when(ok & (method == "byars")).then(z_rate)
        .cast(pl.Float64)
    )
