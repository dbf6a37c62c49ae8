"""Confidence limits and two-sample tests, as scalar functions and as polars expressions.

Methods follow PHEindicatormethods (re-implemented from the published formulas; see
`../shared/reference/ci_methods.md`):

- proportions ("wilson"): Wilson score interval, no continuity correction (Wilson 1927);
- crude rates ("byars"): exact Poisson limits (chi-square / gamma form) when the count x < 10, Byar's
  approximation (Breslow & Day 1987) when x >= 10;
- means ("mean_t"): Student t interval from the client-level sum, count and sum of squares,
  mean +/- t(n-1) * s / sqrt(n) (e.g. Altman et al. 2000, *Statistics with Confidence*, ch. 4);
- gaps between two proportions ("newcombe"): Newcombe's hybrid score interval (Newcombe 1998,
  method 10) built from the two Wilson intervals;
- z = Phi^-1(1 - alpha/2): 1.959964 at 95%, 3.090232 at 99.8%.

Columns used by the frame functions: numerator, denominator, multiplier, ci_method, and where the method
needs them numerator_2 / denominator_2 (the second group of a gap) and sum_squares (a mean).

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

CiMethod = Literal["wilson", "byars", "mean_t", "newcombe"]
CI_METHODS: tuple[str, ...] = ("wilson", "byars", "mean_t", "newcombe")
#: The extra count columns some methods read (absent columns are taken as null).
EXTRA_COLUMNS = ("numerator_2", "denominator_2", "sum_squares")

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


def mean_t_limits(total: float, n: float, sum_sq: float, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper) of a mean from the client-level sum, count and sum of squares.

    mean = total/n; s^2 = (sum_sq - total^2/n)/(n - 1); limits = mean -/+ t(1 - alpha/2; n - 1) * s/sqrt(n).
    Requires n >= 2 (one value has no spread).
    """
    if total is None or n is None or sum_sq is None:
        raise ValueError("mean_t_limits needs a sum, a count and a sum of squares")
    if n < 2:
        raise ValueError(f"a mean's limits need at least 2 values, got {n}")
    c = _confidence(confidence)
    mean = total / n
    var = max(0.0, (sum_sq - total * total / n) / (n - 1))
    if c == 1:
        return mean, -math.inf, math.inf
    t = float(_sps.t.ppf(c + (1 - c) / 2, n - 1))
    half = t * math.sqrt(var / n)
    return mean, mean - half, mean + half


def newcombe(x1: float, n1: float, x2: float, n2: float, confidence: float = 0.95) -> tuple[float, float, float]:
    """(d, lower, upper) of the difference d = x1/n1 - x2/n2, as proportions, by Newcombe's method 10.

    With Wilson limits (l1, u1) of p1 and (l2, u2) of p2 at the same confidence:
    lower = d - sqrt((p1 - l1)^2 + (u2 - p2)^2), upper = d + sqrt((u1 - p1)^2 + (p2 - l2)^2).
    """
    p1, l1, u1 = wilson(x1, n1, confidence)
    p2, l2, u2 = wilson(x2, n2, confidence)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def limits(
    x: float,
    n: float,
    ci_method: CiMethod,
    multiplier: float = 1,
    confidence: float = 0.95,
    *,
    x2: float | None = None,
    n2: float | None = None,
    sum_sq: float | None = None,
) -> tuple[float, float, float]:
    """(value, lower, upper) in the indicator's unit (x multiplier) for any ci_method.

    wilson: x of n; byars: count x over n; mean_t: x = sum of the values, n = how many, sum_sq = sum of
    their squares; newcombe: x of n (group 1) minus x2 of n2 (group 2).
    """
    if ci_method == "wilson":
        return tuple(v * multiplier for v in wilson(x, n, confidence))  # type: ignore[return-value]
    if ci_method == "byars":
        return rate_limits(x, n, multiplier, confidence)
    if ci_method == "mean_t":
        return tuple(v * multiplier for v in mean_t_limits(x, n, sum_sq, confidence))  # type: ignore[arg-type,return-value]
    if ci_method == "newcombe":
        if x2 is None or n2 is None:
            raise ValueError("newcombe needs the second group's numerator and denominator")
        return tuple(v * multiplier for v in newcombe(x, n, x2, n2, confidence))  # type: ignore[return-value]
    raise ValueError(f"unknown ci_method {ci_method!r}")


def compare(
    x1: float, n1: float, x2: float, n2: float, ci_method: CiMethod, *,
    a_x2: float | None = None, a_n2: float | None = None, a_ss: float | None = None,
    b_x2: float | None = None, b_n2: float | None = None, b_ss: float | None = None,
) -> float | None:
    """z statistic for sample a (x1/n1, ...) against sample b (x2/n2, ...); positive: a is higher.

    a_x2/a_n2 and b_x2/b_n2 are the second groups of a gap ("newcombe"); a_ss and b_ss the sums of
    squares of a mean ("mean_t"). See `compare_expr`.
    """
    if ci_method == "wilson":
        p1, p2 = x1 / n1, x2 / n2
        p = (x1 + x2) / (n1 + n2)
        se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
        return 0.0 if se == 0 else (p1 - p2) / se
    if ci_method == "byars":
        if x1 <= 0 or x2 <= 0:
            return None
        return (math.log(x1 / n1) - math.log(x2 / n2)) / math.sqrt(1 / x1 + 1 / x2)
    if ci_method == "mean_t":
        if n1 < 2 or n2 < 2 or a_ss is None or b_ss is None:
            return None
        va = max(0.0, (a_ss - x1 * x1 / n1) / (n1 - 1))
        vb = max(0.0, (b_ss - x2 * x2 / n2) / (n2 - 1))
        se = math.sqrt(va / n1 + vb / n2)
        return 0.0 if se == 0 else (x1 / n1 - x2 / n2) / se
    if ci_method == "newcombe":
        if None in (a_x2, a_n2, b_x2, b_n2) or min(n1, n2, a_n2, b_n2) <= 0:  # type: ignore[type-var]
            return None
        pa1, pa2, pb1, pb2 = x1 / n1, a_x2 / a_n2, x2 / n2, b_x2 / b_n2  # type: ignore[operator]
        var = (pa1 * (1 - pa1) / n1 + pa2 * (1 - pa2) / a_n2 + pb1 * (1 - pb1) / n2  # type: ignore[operator]
               + pb2 * (1 - pb2) / b_n2)  # type: ignore[operator]
        return 0.0 if var == 0 else ((pa1 - pa2) - (pb1 - pb2)) / math.sqrt(var)
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


def _t_ppf(q: float) -> Callable[[pl.Series], pl.Series]:
    """Student t quantile at q with n - 1 degrees of freedom, for a column of n (null below 2)."""

    def f(s: pl.Series) -> pl.Series:
        df = s.cast(pl.Float64).to_numpy() - 1
        with np.errstate(invalid="ignore"):
            out = _sps.t.ppf(q, np.where(df >= 1, df, np.nan))
        return pl.Series(s.name, out, dtype=pl.Float64, nan_to_null=True)

    return f


def mean_t_exprs(total: pl.Expr, n: pl.Expr, sum_sq: pl.Expr, confidence: float) -> tuple[pl.Expr, pl.Expr]:
    """Student t (lower, upper) of a mean from sum, count and sum of squares (null where n < 2)."""
    c = _confidence(confidence)
    q = c + (1 - c) / 2
    t = n.map_batches(_t_ppf(q), return_dtype=pl.Float64, is_elementwise=True)
    var = ((sum_sq - total * total / n) / (n - 1)).clip(lower_bound=0.0)
    half = t * (var / n).sqrt()
    mean = total / n
    ok = n >= 2
    return pl.when(ok).then(mean - half), pl.when(ok).then(mean + half)


def newcombe_exprs(
    x1: pl.Expr, n1: pl.Expr, x2: pl.Expr, n2: pl.Expr, z: float
) -> tuple[pl.Expr, pl.Expr]:
    """Newcombe hybrid score (lower, upper) of p1 - p2, as proportions."""
    l1, u1 = wilson_exprs(x1, n1, z)
    l2, u2 = wilson_exprs(x2, n2, z)
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    lower = d - ((p1 - l1) ** 2 + (u2 - p2) ** 2).sqrt()
    upper = d + ((u1 - p1) ** 2 + (p2 - l2) ** 2).sqrt()
    return lower, upper


def _null_float() -> pl.Expr:
    return pl.lit(None, dtype=pl.Float64)


def limit_exprs(
    numerator: str | pl.Expr = "numerator",
    denominator: str | pl.Expr = "denominator",
    multiplier: str | pl.Expr = "multiplier",
    ci_method: str | pl.Expr = "ci_method",
    confidence: float = 0.95,
    numerator_2: str | pl.Expr | None = None,
    denominator_2: str | pl.Expr | None = None,
    sum_squares: str | pl.Expr | None = None,
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(value, lower, upper) expressions in the indicator's unit; null where the method's counts are
    missing or invalid (n <= 0; a proportion's x outside 0..n; a mean with n < 2 has a value, no limits)."""
    x = _col(numerator).cast(pl.Float64)
    n = _col(denominator).cast(pl.Float64)
    m = _col(multiplier).cast(pl.Float64)
    x2 = _col(numerator_2).cast(pl.Float64) if numerator_2 is not None else _null_float()
    n2 = _col(denominator_2).cast(pl.Float64) if denominator_2 is not None else _null_float()
    ss = _col(sum_squares).cast(pl.Float64) if sum_squares is not None else _null_float()
    method = _col(ci_method)
    c = _confidence(confidence)
    z = z_value(c)
    w_lo, w_hi = wilson_exprs(x, n, z)
    b_lo, b_hi = byars_exprs(x, z)
    e_lo, e_hi = exact_poisson_exprs(x, c)
    t_lo, t_hi = mean_t_exprs(x, n, ss, c)
    d_lo, d_hi = newcombe_exprs(x, n, x2, n2, z)
    is_w, is_b, is_t, is_d = (method == "wilson"), (method == "byars"), (method == "mean_t"), (method == "newcombe")
    lo = (
        pl.when(is_w).then(w_lo)
        .when(is_b).then(pl.when(x < EXACT_BELOW).then(e_lo / n).otherwise(b_lo / n))
        .when(is_t).then(t_lo)
        .when(is_d).then(d_lo)
    )
    hi = (
        pl.when(is_w).then(w_hi)
        .when(is_b).then(pl.when(x < EXACT_BELOW).then(e_hi / n).otherwise(b_hi / n))
        .when(is_t).then(t_hi)
        .when(is_d).then(d_hi)
    )
    base = x.is_not_null() & n.is_not_null() & (n > 0)
    ok = base & (
        (is_w & (x >= 0) & (x <= n))
        | (is_b & (x >= 0))
        | (is_t & ss.is_not_null())
        | (is_d & (x >= 0) & (x <= n) & x2.is_not_null() & n2.is_not_null() & (n2 > 0) & (x2 >= 0) & (x2 <= n2))
    )
    value = pl.when(is_d).then(x / n - x2 / n2).otherwise(x / n)
    return pl.when(ok).then(value * m), pl.when(ok).then(lo * m), pl.when(ok).then(hi * m)


def add_confidence_limits(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add value, lower_95, upper_95, lower_998, upper_998 (Float64, in the indicator's unit).

    Needs columns numerator (may be null), denominator (may be null), multiplier and ci_method
    ("wilson" proportions, "byars" rates, "mean_t" means, "newcombe" gaps); numerator_2 and
    denominator_2 (gaps) and sum_squares (means) are read where present. Null where a needed count is
    null or invalid (see `limit_exprs`). Existing columns of those names are replaced.
    """
    names = frame.collect_schema().names()
    extra = {c: (c if c in names else None) for c in EXTRA_COLUMNS}
    kw = dict(numerator_2=extra["numerator_2"], denominator_2=extra["denominator_2"], sum_squares=extra["sum_squares"])
    value, lo95, hi95 = limit_exprs(confidence=0.95, **kw)
    _, lo998, hi998 = limit_exprs(confidence=0.998, **kw)
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
    *,
    a_x2: str | pl.Expr | None = None,
    a_n2: str | pl.Expr | None = None,
    a_ss: str | pl.Expr | None = None,
    b_x2: str | pl.Expr | None = None,
    b_n2: str | pl.Expr | None = None,
    b_ss: str | pl.Expr | None = None,
) -> pl.Expr:
    """z statistic for sample a (x1/n1) against sample b (x2/n2); positive when sample a is higher.

    - "wilson" (proportions): the pooled two-proportion z test,
      z = (p1 - p2) / sqrt(p(1 - p)(1/n1 + 1/n2)) with p = (x1 + x2)/(n1 + n2); z = 0 when the pooled
      variance is 0 (both 0% or both 100%).
    - "byars" (rates, counts assumed Poisson): the z test on the log rate ratio,
      z = ln((x1/n1)/(x2/n2)) / sqrt(1/x1 + 1/x2); null if either count is 0 (log undefined).
      The denominators are taken as fixed (population), as for the rate's own limits.
    - "mean_t" (means; x = sum, n = count, a_ss / b_ss = sums of squares): the two-sample (Welch) z test
      z = (m_a - m_b) / sqrt(s_a^2/n_a + s_b^2/n_b); null where a count is below 2; 0 when both spreads are 0.
    - "newcombe" (gaps d = x/n - x2/n2 of each sample; a_x2/a_n2 and b_x2/b_n2 the second groups): the z
      test on the difference of the two gaps, with the variance of each gap the sum of its two binomial
      variances p(1 - p)/n (four independent groups); 0 when that variance is 0.

    Chosen over "do the two confidence intervals overlap", which is conservative (misses real
    differences). Null where any input is null or a denominator is <= 0.
    """
    a, na, b, nb = (_col(c).cast(pl.Float64) for c in (x1, n1, x2, n2))
    ax2, an2, ass_, bx2, bn2, bss = (
        _col(c).cast(pl.Float64) if c is not None else _null_float() for c in (a_x2, a_n2, a_ss, b_x2, b_n2, b_ss)
    )
    method = _col(ci_method)
    p1, p2 = a / na, b / nb
    p = (a + b) / (na + nb)
    se = (p * (1 - p) * (1 / na + 1 / nb)).sqrt()
    z_prop = pl.when(se > 0).then((p1 - p2) / se).otherwise(pl.lit(0.0))
    z_rate = pl.when((a > 0) & (b > 0)).then(
        ((a / na).log() - (b / nb).log()) / (1 / a + 1 / b).sqrt()
    )
    va = ((ass_ - a * a / na) / (na - 1)).clip(lower_bound=0.0)
    vb = ((bss - b * b / nb) / (nb - 1)).clip(lower_bound=0.0)
    se_mean = (va / na + vb / nb).sqrt()
    z_mean = (
        pl.when((na >= 2) & (nb >= 2) & ass_.is_not_null() & bss.is_not_null())
        .then(pl.when(se_mean > 0).then((p1 - p2) / se_mean).otherwise(pl.lit(0.0)))
    )
    qa, qb = ax2 / an2, bx2 / bn2
    var_gap = p1 * (1 - p1) / na + qa * (1 - qa) / an2 + p2 * (1 - p2) / nb + qb * (1 - qb) / bn2
    z_gap = (
        pl.when(ax2.is_not_null() & bx2.is_not_null() & (an2 > 0) & (bn2 > 0))
        .then(pl.when(var_gap > 0).then(((p1 - qa) - (p2 - qb)) / var_gap.sqrt()).otherwise(pl.lit(0.0)))
    )
    ok = a.is_not_null() & b.is_not_null() & (na > 0) & (nb > 0)
    return (
        pl.when(ok & (method == "wilson")).then(z_prop)
        .when(ok & (method == "byars")).then(z_rate)
        .when(ok & (method == "mean_t")).then(z_mean)
        .when(ok & (method == "newcombe")).then(z_gap)
        .cast(pl.Float64)
    )


# ---------------------------------------------------------------- trend over several periods
#: How many points the trend test uses (the latest period and the 4 before it of the same kind).
TREND_POINTS = 5


def trend_z(
    x: list[float], n: list[float], ci_method: CiMethod, *,
    x2: list[float] | None = None, n2: list[float] | None = None, ss: list[float] | None = None,
) -> float | None:
    """z statistic of a linear trend over equally spaced points, oldest first (scores t = 0, 1, ...);
    positive when the values rise. The scalar reference for `trend_expr`.

    - "wilson" (proportions x_i of n_i): Cochran-Armitage test for trend (Cochran 1954, Armitage 1955):
      N = Σn, X = Σx, p = X/N, t̄ = Σ n t / N, U = Σ x (t − t̄), V = p(1 − p) Σ n (t − t̄)², z = U/√V
      (0 when V = 0: every point 0% or every point 100%).
    - "byars" (rates, counts x_i over fixed denominators n_i): the score test of β = 0 in the Poisson
      regression log E[x_i] = log n_i + α + β t_i (Breslow & Day 1987, vol. II, §3.4): under β = 0 the
      fitted counts are X n_i/N, U = Σ x (t − t̄) as above, V = (X/N) Σ n (t − t̄)², z = U/√V (0 when X = 0).
    - "mean_t" (x = sum, n = count, ss = sum of squares): inverse-variance weighted least squares of the
      means m_i on t, weights w_i = n_i/s_i²: b = Σ w (t − t̄_w)(m − m̄_w) / Σ w (t − t̄_w)²,
      se(b) = 1/√(Σ w (t − t̄_w)²), z = b/se(b); None where a point has n < 2 or no spread.
    - "newcombe" (gaps d_i = x_i/n_i − x2_i/n2_i): the same weighted regression of the gaps with
      var(d_i) = p1(1 − p1)/n1 + p2(1 − p2)/n2; None where a variance is 0.

    None where any input is missing or invalid (a denominator <= 0, a proportion outside 0..1).
    """
    k = len(x)
    if k < 2 or len(n) != k or any(v is None for v in [*x, *n]) or any(d <= 0 for d in n):
        return None
    t = list(range(k))
    if ci_method in ("wilson", "byars"):
        if ci_method == "wilson" and any(xi < 0 or xi > ni for xi, ni in zip(x, n)):
            return None
        if any(xi < 0 for xi in x):
            return None
        big_n, big_x = sum(n), sum(x)
        tbar = sum(ni * ti for ni, ti in zip(n, t)) / big_n
        u = sum(xi * (ti - tbar) for xi, ti in zip(x, t))
        sxx = sum(ni * (ti - tbar) ** 2 for ni, ti in zip(n, t))
        p = big_x / big_n
        v = (p * (1 - p) if ci_method == "wilson" else p) * sxx
        return 0.0 if v <= 0 else u / math.sqrt(v)
    if ci_method == "mean_t":
        if ss is None or any(s is None for s in ss) or any(ni < 2 for ni in n):
            return None
        m = [xi / ni for xi, ni in zip(x, n)]
        var = [max(0.0, (si - xi * xi / ni) / (ni - 1)) / ni for xi, ni, si in zip(x, n, ss)]
    elif ci_method == "newcombe":
        if x2 is None or n2 is None or any(v is None for v in [*x2, *n2]) or any(d <= 0 for d in n2):
            return None
        p1 = [xi / ni for xi, ni in zip(x, n)]
        p2 = [xi / ni for xi, ni in zip(x2, n2)]
        m = [a - b for a, b in zip(p1, p2)]
        var = [a * (1 - a) / n1 + b * (1 - b) / m2 for a, b, n1, m2 in zip(p1, p2, n, n2)]
    else:
        raise ValueError(f"unknown ci_method {ci_method!r}")
    if any(v <= 0 for v in var):
        return None
    w = [1 / v for v in var]
    sw = sum(w)
    tbar = sum(wi * ti for wi, ti in zip(w, t)) / sw
    mbar = sum(wi * mi for wi, mi in zip(w, m)) / sw
    sxx = sum(wi * (ti - tbar) ** 2 for wi, ti in zip(w, t))
    b = sum(wi * (ti - tbar) * (mi - mbar) for wi, ti, mi in zip(w, t, m)) / sxx
    return b * math.sqrt(sxx)


def trend_expr(
    xs: list[pl.Expr], ns: list[pl.Expr], ci_method: str | pl.Expr = "ci_method", *,
    x2s: list[pl.Expr] | None = None, n2s: list[pl.Expr] | None = None, sss: list[pl.Expr] | None = None,
) -> pl.Expr:
    """`trend_z` as an expression over k points given as k columns each (oldest first); null where
    `trend_z` gives None (any point null or invalid)."""
    k = len(xs)
    t = [float(i) for i in range(k)]
    x = [e.cast(pl.Float64) for e in xs]
    n = [e.cast(pl.Float64) for e in ns]
    method = _col(ci_method)
    big_n, big_x = pl.sum_horizontal(n), pl.sum_horizontal(x)
    tbar = pl.sum_horizontal([ni * ti for ni, ti in zip(n, t)]) / big_n
    u = pl.sum_horizontal([xi * (ti - tbar) for xi, ti in zip(x, t)])
    sxx = pl.sum_horizontal([ni * (ti - tbar) ** 2 for ni, ti in zip(n, t)])
    p = big_x / big_n
    v_prop = p * (1 - p) * sxx
    v_rate = p * sxx
    all_ok = pl.all_horizontal([xi.is_not_null() & ni.is_not_null() & (ni > 0) & (xi >= 0) for xi, ni in zip(x, n)])
    prop_ok = all_ok & pl.all_horizontal([xi <= ni for xi, ni in zip(x, n)])
    z_prop = pl.when(prop_ok).then(pl.when(v_prop > 0).then(u / v_prop.sqrt()).otherwise(pl.lit(0.0)))
    z_rate = pl.when(all_ok).then(pl.when(v_rate > 0).then(u / v_rate.sqrt()).otherwise(pl.lit(0.0)))

    def weighted(m: list[pl.Expr], var: list[pl.Expr], ok: pl.Expr) -> pl.Expr:
        w = [1 / v for v in var]
        sw = pl.sum_horizontal(w)
        tb = pl.sum_horizontal([wi * ti for wi, ti in zip(w, t)]) / sw
        mb = pl.sum_horizontal([wi * mi for wi, mi in zip(w, m)]) / sw
        s_tt = pl.sum_horizontal([wi * (ti - tb) ** 2 for wi, ti in zip(w, t)])
        s_tm = pl.sum_horizontal([wi * (ti - tb) * (mi - mb) for wi, ti, mi in zip(w, t, m)])
        good = ok & pl.all_horizontal([v.is_not_null() & (v > 0) for v in var])
        return pl.when(good).then(s_tm / s_tt * s_tt.sqrt())

    if sss is not None:
        ss = [e.cast(pl.Float64) for e in sss]
        m_mean = [xi / ni for xi, ni in zip(x, n)]
        var_mean = [((si - xi * xi / ni) / (ni - 1)).clip(lower_bound=0.0) / ni for xi, ni, si in zip(x, n, ss)]
        ok_mean = pl.all_horizontal([xi.is_not_null() & (ni >= 2) & si.is_not_null() for xi, ni, si in zip(x, n, ss)])
        z_mean = weighted(m_mean, var_mean, ok_mean)
    else:
        z_mean = pl.lit(None, dtype=pl.Float64)
    if x2s is not None and n2s is not None:
        x2 = [e.cast(pl.Float64) for e in x2s]
        n2 = [e.cast(pl.Float64) for e in n2s]
        p1 = [xi / ni for xi, ni in zip(x, n)]
        p2 = [xi / ni for xi, ni in zip(x2, n2)]
        m_gap = [a - b for a, b in zip(p1, p2)]
        var_gap = [a * (1 - a) / ni + b * (1 - b) / mi for a, b, ni, mi in zip(p1, p2, n, n2)]
        ok_gap = all_ok & pl.all_horizontal([xi.is_not_null() & ni.is_not_null() & (ni > 0) for xi, ni in zip(x2, n2)])
        z_gap = weighted(m_gap, var_gap, ok_gap)
    else:
        z_gap = pl.lit(None, dtype=pl.Float64)
    return (
        pl.when(method == "wilson").then(z_prop)
        .when(method == "byars").then(z_rate)
        .when(method == "mean_t").then(z_mean)
        .when(method == "newcombe").then(z_gap)
        .cast(pl.Float64)
    )


# ---------------------------------------------------------------- funnel-plot control limits
def funnel_limits(
    centre: float, n: float, ci_method: CiMethod, multiplier: float = 1, confidence: float = 0.95, *,
    sd: float | None = None, p1: float | None = None, p2: float | None = None, share_1: float | None = None,
) -> tuple[float, float] | None:
    """(lower, upper) control limits, in the indicator's unit, of a funnel plot around `centre` (in the
    indicator's unit) at denominator n: where an area of that denominator would have to fall to be
    significantly different from the centre. The scalar reference for the vectorised `funnel_limit_exprs`.

    - "wilson": p0 ± z·√(p0(1 − p0)/n), p0 = centre/multiplier, clipped to [0, 1]: the score-test limits,
      i.e. the observed proportions whose Wilson interval just reaches p0 (PHEindicatormethods
      `sigma_adjustment`, Fingertips funnel plots for proportions).
    - "byars": exact Poisson limits around the expected count E = n·r0 (r0 = centre/multiplier): the
      upper limit is the count O whose exact lower confidence limit Γ⁻¹(α/2; O) equals E, the lower the
      count whose exact upper limit Γ⁻¹(1 − α/2; O + 1) equals E (0 if below 0), divided by n
      (Spiegelhalter 2005, Stat Med 24:1185, with the continuous Poisson/gamma relation).
    - "mean_t": m0 ± t(1 − α/2; n − 1)·sd/√n, sd the centre's standard deviation (needs n >= 2).
    - "newcombe": d0 ± z·√(p1(1 − p1)/n1 + p2(1 − p2)/n2) with n1 = share_1·n, n2 = (1 − share_1)·n: the
      centre's two group proportions and split (n is both groups together).
    None where the inputs do not allow it.
    """
    from scipy import special as _spec  # noqa: PLC0415

    c = _confidence(confidence)
    alpha = 1 - c
    z = z_value(c)
    if n is None or centre is None or n <= 0:
        return None
    if ci_method == "wilson":
        p0 = centre / multiplier
        if not 0 <= p0 <= 1:
            return None
        half = z * math.sqrt(p0 * (1 - p0) / n)
        return max(0.0, p0 - half) * multiplier, min(1.0, p0 + half) * multiplier
    if ci_method == "byars":
        e = centre / multiplier * n
        if e < 0:
            return None
        if e == 0:
            return 0.0, 0.0
        upper = float(_spec.gdtrib(1.0, alpha / 2, e))
        lower = max(0.0, float(_spec.gdtrib(1.0, 1 - alpha / 2, e)) - 1)
        return lower / n * multiplier, upper / n * multiplier
    if ci_method == "mean_t":
        if sd is None or n < 2:
            return None
        half = float(_sps.t.ppf(c + alpha / 2, n - 1)) * sd / math.sqrt(n)
        return centre - half, centre + half
    if ci_method == "newcombe":
        if None in (p1, p2, share_1) or not 0 < share_1 < 1:  # type: ignore[operator]
            return None
        n1, n2 = share_1 * n, (1 - share_1) * n  # type: ignore[operator]
        half = z * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2) * multiplier  # type: ignore[operator]
        return centre - half, centre + half
    raise ValueError(f"unknown ci_method {ci_method!r}")


def _gdtrib(p: float) -> Callable[[pl.Series], pl.Series]:
    """The gamma shape b with P(Gamma(b, 1) <= x) = p, for a column of x (scipy.special.gdtrib)."""

    def f(s: pl.Series) -> pl.Series:
        from scipy import special as _spec  # noqa: PLC0415

        x = s.cast(pl.Float64).to_numpy()
        with np.errstate(invalid="ignore"):
            out = np.where(x > 0, _spec.gdtrib(1.0, p, np.where(x > 0, x, 1.0)), np.nan)
        return pl.Series(s.name, out, dtype=pl.Float64, nan_to_null=True)

    return f


def funnel_limit_exprs(
    centre: pl.Expr, n: pl.Expr, ci_method: pl.Expr, multiplier: pl.Expr, confidence: float, *,
    sd: pl.Expr | None = None, p1: pl.Expr | None = None, p2: pl.Expr | None = None,
    share_1: pl.Expr | None = None,
) -> tuple[pl.Expr, pl.Expr]:
    """(lower, upper) control limits as expressions; see `funnel_limits`."""
    c = _confidence(confidence)
    alpha = 1 - c
    z = z_value(c)
    centre, n, m = centre.cast(pl.Float64), n.cast(pl.Float64), multiplier.cast(pl.Float64)
    sd = sd.cast(pl.Float64) if sd is not None else _null_float()
    p1 = p1.cast(pl.Float64) if p1 is not None else _null_float()
    p2 = p2.cast(pl.Float64) if p2 is not None else _null_float()
    share_1 = share_1.cast(pl.Float64) if share_1 is not None else _null_float()
    p0 = centre / m
    half_w = z * (p0 * (1 - p0) / n).sqrt()
    w_lo, w_hi = (p0 - half_w).clip(lower_bound=0.0) * m, (p0 + half_w).clip(upper_bound=1.0) * m
    e = p0 * n
    b_hi = e.map_batches(_gdtrib(alpha / 2), return_dtype=pl.Float64, is_elementwise=True)
    b_lo = (e.map_batches(_gdtrib(1 - alpha / 2), return_dtype=pl.Float64, is_elementwise=True) - 1).clip(
        lower_bound=0.0)
    b_lo = pl.when(e == 0).then(pl.lit(0.0)).otherwise(b_lo / n * m)
    b_hi = pl.when(e == 0).then(pl.lit(0.0)).otherwise(b_hi / n * m)
    t = n.map_batches(_t_ppf(c + alpha / 2), return_dtype=pl.Float64, is_elementwise=True)
    half_t = t * sd / n.sqrt()
    n1, n2 = share_1 * n, (1 - share_1) * n
    half_d = z * (p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2).sqrt() * m
    ok = centre.is_not_null() & n.is_not_null() & (n > 0)
    is_w, is_b = ci_method == "wilson", ci_method == "byars"
    is_t, is_d = ci_method == "mean_t", ci_method == "newcombe"
    ok_w = ok & (p0 >= 0) & (p0 <= 1)
    ok_b = ok & (e >= 0)
    ok_t = ok & (n >= 2) & sd.is_not_null()
    ok_d = ok & p1.is_not_null() & p2.is_not_null() & (share_1 > 0) & (share_1 < 1)
    lo = (pl.when(is_w & ok_w).then(w_lo).when(is_b & ok_b).then(b_lo).when(is_t & ok_t).then(centre - half_t)
          .when(is_d & ok_d).then(centre - half_d))
    hi = (pl.when(is_w & ok_w).then(w_hi).when(is_b & ok_b).then(b_hi).when(is_t & ok_t).then(centre + half_t)
          .when(is_d & ok_d).then(centre + half_d))
    return lo.cast(pl.Float64), hi.cast(pl.Float64)
