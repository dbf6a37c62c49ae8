"""Confidence limits: hand-worked values from the formulas in ci_methods.md §1-2, and properties."""
from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from pipelines import stats

Z95 = 1.959963984540054  # Phi^-1(0.975)
Z998 = 3.090232306167813  # Phi^-1(0.999)
Z95_SQ = 3.8414588206941254
Z998_SQ = 9.54953570608324


def test_z_values():
    assert stats.z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert stats.z_value(0.998) == pytest.approx(3.090232, abs=1e-6)
    assert stats.z_value(95) == pytest.approx(stats.Z95)  # 90-100 is read as a percentage
    with pytest.raises(ValueError):
        stats.z_value(0.5)


# ---------------------------------------------------------------- Wilson, by hand
def test_wilson_50_of_100():
    # 95%: z^2 = 3.841459; centre = 2*50 + z^2 = 103.841459;
    #   half = z*sqrt(z^2 + 4*50*(1 - 0.5)) = 1.959964*sqrt(103.841459) = 1.959964*10.190263 = 19.972548;
    #   denom = 2*(100 + z^2) = 207.682918
    #   lower = (103.841459 - 19.972548)/207.682918 = 83.868911/207.682918 = 0.403832
    #   upper = (103.841459 + 19.972548)/207.682918 = 123.814007/207.682918 = 0.596168
    v, lo, hi = stats.wilson(50, 100)
    assert v == 0.5
    assert lo == pytest.approx(0.403832, abs=1e-6)
    assert hi == pytest.approx(0.596168, abs=1e-6)
    assert lo + hi == pytest.approx(1.0)  # symmetric about 0.5 when x = n/2
    # 99.8%: z^2 = 9.549536; centre = 109.549536; half = 3.090232*sqrt(109.549536) = 3.090232*10.466591
    #   = 32.344199; denom = 219.099071 -> lower = 77.205337/219.099071 = 0.352376, upper = 0.647624
    v, lo, hi = stats.wilson(50, 100, 0.998)
    assert lo == pytest.approx(0.352376, abs=1e-6)
    assert hi == pytest.approx(0.647624, abs=1e-6)


def test_wilson_0_of_10_and_10_of_10():
    # x = 0: the square root is sqrt(z^2) = z, so lower = (z^2 - z*z)/... = 0 and
    #   upper = 2z^2 / (2(10 + z^2)) = z^2/(10 + z^2) = 3.841459/13.841459 = 0.277533 (95%)
    #   and 9.549536/19.549536 = 0.488479 (99.8%).
    assert stats.wilson(0, 10) == pytest.approx((0.0, 0.0, 0.277533), abs=1e-6)
    assert stats.wilson(0, 10, 0.998) == pytest.approx((0.0, 0.0, 0.488479), abs=1e-6)
    # x = n = 10: 4x(1 - x/n) = 0, so lower = (20 + z^2 - z^2)/(2(10 + z^2)) = 10/(10 + z^2)
    #   = 10/13.841459 = 0.722467 (95%), 10/19.549536 = 0.511521 (99.8%); upper = (20 + 2z^2)/(2(10+z^2)) = 1.
    assert stats.wilson(10, 10) == pytest.approx((1.0, 0.722467, 1.0), abs=1e-6)
    assert stats.wilson(10, 10, 0.998) == pytest.approx((1.0, 0.511521, 1.0), abs=1e-6)


def test_wilson_rejects_bad_input():
    for x, n in [(1, 0), (-1, 10), (11, 10)]:
        with pytest.raises(ValueError):
            stats.wilson(x, n)
    assert stats.wilson(3, 10, 1.0) == (0.3, 0.0, 1.0)


# ---------------------------------------------------------------- rates, by hand (n = 10000, per 100,000)
N, M = 10000, 100000  # limits of the count are scaled by M/N = 10


def test_rate_zero():
    # exact: lower = 0 (x = 0); upper = Gamma^-1(1 - a/2; 1) = -ln(a/2):
    #   95%: -ln(0.025) = ln 40 = 3.688879 -> 36.88879;  99.8%: -ln(0.001) = 6.907755 -> 69.07755
    assert stats.rate_limits(0, N, M, 0.95) == pytest.approx((0.0, 0.0, 36.88879), abs=1e-4)
    assert stats.rate_limits(0, N, M, 0.998) == pytest.approx((0.0, 0.0, 69.07755), abs=1e-4)


def test_rate_five_exact():
    # exact: lower = chi2(0.025; 10)/2 = 3.24697/2 = 1.62349; upper = chi2(0.975; 12)/2 = 23.3367/2 = 11.6683
    #   (chi-square table) -> 16.2349 and 116.683 per 100,000.
    v, lo, hi = stats.rate_limits(5, N, M, 0.95)
    assert v == 50.0
    assert lo == pytest.approx(16.2349, rel=1e-4)
    assert hi == pytest.approx(116.683, rel=1e-4)
    # 99.8%: chi2(0.001; 10)/2 = 1.47874/2 = 0.73937; chi2(0.999; 12)/2 = 32.9095/2 = 16.4547
    v, lo998, hi998 = stats.rate_limits(5, N, M, 0.998)
    assert lo998 == pytest.approx(7.3937, rel=1e-4)
    assert hi998 == pytest.approx(164.547, rel=1e-4)
    # the defining property of the exact limits: P(X >= 5 | mu = lower) = P(X <= 5 | mu = upper) = a/2
    assert 1 - poisson.cdf(4, lo / 10) == pytest.approx(0.025, rel=1e-6)
    assert poisson.cdf(5, hi / 10) == pytest.approx(0.025, rel=1e-6)


def test_rate_ten_uses_byars():
    # Byar's (x = 10 is not exact): lower = 10*(1 - 1/90 - z/(3*sqrt 10))^3
    #   95%: 1 - 0.0111111 - 1.959964/9.486833 = 0.7822905; cubed 0.4787450 -> 4.787450 -> 47.87450
    #   upper = 11*(1 - 1/99 + z/(3*sqrt 11))^3 = 11*1.1868828^3 = 11*1.6719508 = 18.391459 -> 183.91459
    assert stats.rate_limits(10, N, M, 0.95) == pytest.approx((100.0, 47.87450, 183.91459), abs=1e-4)
    # 99.8%: 1 - 0.0111111 - 3.090232/9.486833 = 0.6631498; cubed 0.2916318 -> 29.16318
    #   upper: 1 - 1/99 + 3.090232/9.949874 = 1.3004790; cubed 2.1994295 * 11 = 24.193725 -> 241.93725
    assert stats.rate_limits(10, N, M, 0.998) == pytest.approx((100.0, 29.16318, 241.93725), abs=1e-4)
    # and it is not the exact Poisson answer (Gamma^-1(0.025; 10) = 4.795389 -> 47.95389)
    exact_lo = stats.exact_poisson_limits(10, 0.95)[0] / N * M
    assert exact_lo == pytest.approx(47.95389, abs=1e-4)


def test_rate_hundred_byars():
    # 95%: 1 - 1/900 - z/30 = 1 - 0.0011111 - 0.0653321 = 0.9335568; cubed 0.8136211 -> 81.36211 -> 813.6211
    #   upper: 1 - 1/909 + z/(3*sqrt 101) = 1.0639078; cubed 1.2042370 * 101 = 121.62794 -> 1216.2794
    assert stats.rate_limits(100, N, M, 0.95) == pytest.approx((1000.0, 813.6211, 1216.2794), abs=1e-3)
    # 99.8%: 1 - 0.0011111 - 0.1030077 = 0.8958811; cubed 0.7190369 -> 719.0369
    #   upper: 1.1013964^3 = 1.3360755 * 101 = 134.94362 -> 1349.4362
    assert stats.rate_limits(100, N, M, 0.998) == pytest.approx((1000.0, 719.0369, 1349.4362), abs=1e-3)


@pytest.mark.parametrize("x", [0, 5, 10, 100])
def test_rate_998_wider_than_95(x):
    v, lo95, hi95 = stats.rate_limits(x, N, M, 0.95)
    _, lo998, hi998 = stats.rate_limits(x, N, M, 0.998)
    assert lo998 <= lo95 <= v <= hi95 <= hi998
    assert hi998 - lo998 > hi95 - lo95


@pytest.mark.parametrize("x,n", [(0, 10), (10, 10), (50, 100), (3, 7)])
def test_wilson_998_wider_than_95(x, n):
    v, lo95, hi95 = stats.wilson(x, n, 0.95)
    _, lo998, hi998 = stats.wilson(x, n, 0.998)
    assert lo998 <= lo95 <= v <= hi95 <= hi998
    assert hi998 - lo998 > hi95 - lo95


def test_rate_rejects_bad_input():
    with pytest.raises(ValueError):
        stats.rate_limits(1, 0, M)
    with pytest.raises(ValueError):
        stats.rate_limits(-1, 10, M)
    assert stats.rate_limits(250, 220, 1)[0] == pytest.approx(250 / 220)  # x > n is allowed for a rate


# ---------------------------------------------------------------- the frame function
def _frame(rows):
    return pl.LazyFrame(
        rows,
        schema={"numerator": pl.Int64, "denominator": pl.Float64, "multiplier": pl.Int64, "ci_method": pl.String},
        orient="row",
    )


def test_add_confidence_limits_hand_values_and_nulls():
    out = stats.add_confidence_limits(
        _frame([
            (50, 100.0, 100, "wilson"),
            (5, 10000.0, 100000, "byars"),
            (None, 100.0, 100, "wilson"),  # suppressed count
            (5, None, 100, "wilson"),  # no denominator
            (5, 0.0, 100000, "byars"),  # denominator 0
            (3, -4.0, 100, "wilson"),  # negative denominator
        ])
    ).collect()
    assert out.schema["value"] == pl.Float64 and out.schema["upper_998"] == pl.Float64
    r = out.row(0, named=True)
    assert (r["value"], r["lower_95"], r["upper_95"]) == pytest.approx((50.0, 40.3832, 59.6168), abs=1e-4)
    assert (r["lower_998"], r["upper_998"]) == pytest.approx((35.2376, 64.7624), abs=1e-4)
    r = out.row(1, named=True)
    assert (r["value"], r["lower_95"], r["upper_95"]) == pytest.approx((50.0, 16.2349, 116.683), rel=1e-4)
    for i in range(2, 6):
        r = out.row(i, named=True)
        assert all(r[c] is None for c in stats.LIMIT_COLUMNS), r


def test_add_confidence_limits_zero_count_rate_is_not_nan():
    r = stats.add_confidence_limits(_frame([(0, 10000.0, 100000, "byars")])).collect().row(0, named=True)
    assert r["lower_95"] == 0.0 and r["lower_998"] == 0.0
    assert r["upper_95"] == pytest.approx(36.88879, abs=1e-4)


# ---------------------------------------------------------------- properties
proportions = st.integers(min_value=1, max_value=100_000).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)
rates = st.tuples(st.integers(min_value=0, max_value=5000), st.integers(min_value=1, max_value=2_000_000))


@settings(max_examples=200, deadline=None)
@given(proportions)
def test_wilson_properties(xn):
    x, n = xn
    for c in (0.95, 0.998):
        v, lo, hi = stats.wilson(x, n, c)
        assert 0 <= lo <= v <= hi <= 1 + 1e-12
        assert lo - 1e-12 <= v <= hi + 1e-12
        if x < n:  # monotone in x
            _, lo2, hi2 = stats.wilson(x + 1, n, c)
            assert lo2 >= lo - 1e-12 and hi2 >= hi - 1e-12


@settings(max_examples=200, deadline=None)
@given(rates)
def test_rate_properties(xn):
    x, n = xn
    for c in (0.95, 0.998):
        v, lo, hi = stats.rate_limits(x, n, 100000, c)
        assert 0 <= lo <= v <= hi
        _, lo2, hi2 = stats.rate_limits(x + 1, n, 100000, c)  # monotone in x, across the exact/Byar's switch
        assert lo2 >= lo and hi2 >= hi


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(proportions.map(lambda t: (*t, "wilson")), rates.map(lambda t: (*t, "byars"))),
                min_size=1, max_size=40),
       st.sampled_from([1, 100, 1000, 10000, 100000]))
def test_frame_equals_scalar(rows, multiplier):
    frame = _frame([(x, float(n), multiplier, m) for x, n, m in rows])
    out = stats.add_confidence_limits(frame).collect()
    for (x, n, m), r in zip(rows, out.iter_rows(named=True), strict=True):
        for c, suffix in ((0.95, "95"), (0.998, "998")):
            v, lo, hi = stats.limits(x, n, m, multiplier, c)
            assert r["value"] == pytest.approx(v, rel=1e-9, abs=1e-12)
            assert r[f"lower_{suffix}"] == pytest.approx(lo, rel=1e-9, abs=1e-12)
            assert r[f"upper_{suffix}"] == pytest.approx(hi, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------- two-sample z
def test_compare_hand_values():
    # pooled proportions: 45/100 vs 30/100: p = 0.375, se = sqrt(0.375*0.625*(0.02)) = 0.0684653,
    #   z = 0.15/0.0684653 = 2.19089
    assert stats.compare(45, 100, 30, 100, "wilson") == pytest.approx(2.19089, abs=1e-5)
    assert stats.compare(30, 100, 45, 100, "wilson") == pytest.approx(-2.19089, abs=1e-5)
    assert stats.compare(0, 50, 0, 80, "wilson") == 0.0  # pooled variance 0
    # log rate ratio: 150 vs 100 on the same population: ln 1.5 / sqrt(1/150 + 1/100)
    #   = 0.4054651/0.1290994 = 3.140719
    assert stats.compare(150, 10000, 100, 10000, "byars") == pytest.approx(3.140719, abs=1e-6)
    assert stats.compare(0, 10000, 100, 10000, "byars") is None


def test_compare_expr_matches_scalar():
    rows = [(45, 100.0, 30, 100.0, "wilson"), (150, 10000.0, 100, 12000.0, "byars"), (0, 50.0, 0, 80.0, "wilson"),
            (0, 10000.0, 5, 10000.0, "byars"), (None, 100.0, 3, 100.0, "wilson"), (4, 0.0, 3, 100.0, "byars")]
    df = pl.DataFrame(rows, schema={"x1": pl.Int64, "n1": pl.Float64, "x2": pl.Int64, "n2": pl.Float64,
                                    "ci_method": pl.String}, orient="row")
    z = df.select(stats.compare_expr("x1", "n1", "x2", "n2").alias("z"))["z"].to_list()
    assert z[0] == pytest.approx(stats.compare(45, 100, 30, 100, "wilson"))
    assert z[1] == pytest.approx(stats.compare(150, 10000, 100, 12000, "byars"))
    assert z[2] == 0.0
    assert z[3] is None and z[4] is None and z[5] is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in z)


# ---------------------------------------------------------------- means (Student t), by hand
def test_mean_t_five_values():
    # values 10, 12, 14, 16, 18: n = 5, sum = 70, sum of squares = 100 + 144 + 196 + 256 + 324 = 1020
    #   mean = 14; s^2 = (1020 - 70^2/5)/4 = (1020 - 980)/4 = 10; se = sqrt(10/5) = 1.4142136
    #   95%: t(0.975; 4) = 2.7764451 -> half = 3.9264863 -> 10.0735137 .. 17.9264863
    #   99.8%: t(0.999; 4) = 7.1731822 -> half = 10.1444116 -> 3.8555884 .. 24.1444116
    assert stats.mean_t_limits(70, 5, 1020) == pytest.approx((14.0, 10.0735137, 17.9264863), abs=1e-6)
    assert stats.mean_t_limits(70, 5, 1020, 0.998) == pytest.approx((14.0, 3.8555884, 24.1444116), abs=1e-6)
    assert stats.limits(70, 5, "mean_t", 1, 0.95, sum_sq=1020) == pytest.approx((14.0, 10.0735137, 17.9264863))


def test_mean_t_no_spread_and_bad_input():
    # all five values 14: s = 0, so the interval is the mean itself
    assert stats.mean_t_limits(70, 5, 980) == pytest.approx((14.0, 14.0, 14.0))
    with pytest.raises(ValueError):
        stats.mean_t_limits(14, 1, 196)  # one value: no spread
    with pytest.raises(ValueError):
        stats.limits(70, 5, "mean_t", 1)  # no sum of squares


def test_mean_t_large_sample_is_close_to_normal():
    # n = 400 values with mean 14 and s = 6 (sum of squares = (n - 1) s^2 + n mean^2):
    #   se = 6/20 = 0.3; t(0.975; 399) = 1.9659 (normal 1.95996) -> 14 -/+ 0.58977
    n, mean, s = 400, 14.0, 6.0
    v, lo, hi = stats.mean_t_limits(n * mean, n, (n - 1) * s * s + n * mean * mean)
    assert v == pytest.approx(14.0)
    assert hi - v == pytest.approx(0.589774, abs=1e-5)
    assert hi - v > stats.Z95 * 0.3  # t is wider than z


# ---------------------------------------------------------------- gaps (Newcombe method 10)
@pytest.mark.parametrize("x1,n1,x2,n2,lower,upper", [
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (score, no continuity
    # correction): the eight published examples
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.0582, 0.8062),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (0, 10, 0, 10, -0.2775, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0000),
    (10, 10, 0, 10, 0.6075, 1.0000),
])
def test_newcombe_published_examples(x1, n1, x2, n2, lower, upper):
    d, lo, hi = stats.newcombe(x1, n1, x2, n2)
    assert d == pytest.approx(x1 / n1 - x2 / n2)
    assert lo == pytest.approx(lower, abs=5e-5)
    assert hi == pytest.approx(upper, abs=5e-5)


def test_newcombe_by_hand_from_wilson_limits():
    # 56/70 - 48/80: Wilson 95% limits p1 = 0.8 (0.69183, 0.87695), p2 = 0.6 (0.49045, 0.70038)
    #   lower = 0.2 - sqrt((0.8 - 0.69183)^2 + (0.70038 - 0.6)^2) = 0.2 - sqrt(0.011701 + 0.010076)
    #         = 0.2 - 0.147569 = 0.052431
    #   upper = 0.2 + sqrt((0.87695 - 0.8)^2 + (0.6 - 0.49045)^2) = 0.2 + sqrt(0.005922 + 0.012001)
    #         = 0.2 + 0.133873 = 0.333873; x 100 -> percentage points
    _, l1, u1 = stats.wilson(56, 70)
    _, l2, u2 = stats.wilson(48, 80)
    assert (l1, u1, l2, u2) == pytest.approx((0.69183, 0.87695, 0.49045, 0.70038), abs=1e-5)
    assert stats.limits(56, 70, "newcombe", 100, x2=48, n2=80) == pytest.approx((20.0, 5.2431, 33.3873), abs=1e-3)
    with pytest.raises(ValueError):
        stats.limits(56, 70, "newcombe", 100)  # the second group is needed


def test_mixed_frame_hand_values_and_nulls():
    rows = [
        (70, 5.0, None, None, 1020.0, 1, "mean_t"),
        (56, 70.0, 48, 80.0, None, 100, "newcombe"),
        (14, 1.0, None, None, 196.0, 1, "mean_t"),  # one value: a mean, no limits
        (56, 70.0, None, 80.0, None, 100, "newcombe"),  # second group withheld
        (56, 70.0, 48, 0.0, None, 100, "newcombe"),  # empty second group
        (70, 5.0, None, None, None, 1, "mean_t"),  # no sum of squares
    ]
    frame = pl.LazyFrame(rows, orient="row", schema={
        "numerator": pl.Int64, "denominator": pl.Float64, "numerator_2": pl.Int64, "denominator_2": pl.Float64,
        "sum_squares": pl.Float64, "multiplier": pl.Int64, "ci_method": pl.String})
    out = stats.add_confidence_limits(frame).collect()
    r = out.row(0, named=True)
    assert (r["value"], r["lower_95"], r["upper_95"], r["lower_998"], r["upper_998"]) == pytest.approx(
        (14.0, 10.0735137, 17.9264863, 3.8555884, 24.1444116), abs=1e-6)
    r = out.row(1, named=True)
    assert (r["value"], r["lower_95"], r["upper_95"]) == pytest.approx((20.0, 5.24, 33.39), abs=5e-3)
    r = out.row(2, named=True)
    assert r["value"] is None or r["lower_95"] is None
    for i in (3, 4, 5):
        assert all(out.row(i, named=True)[c] is None for c in stats.LIMIT_COLUMNS), i


def test_compare_means_and_gaps_by_hand():
    # means: a = 10, 12, .., 18 (sum 70, squares 1020: mean 14, s^2 = 10), b = 8, 10, .., 16 (sum 60,
    #   squares 64 + 100 + 144 + 196 + 256 = 760: mean 12, s^2 = (760 - 720)/4 = 10):
    #   z = (14 - 12)/sqrt(10/5 + 10/5) = 2/2 = 1.0
    assert stats.compare(70, 5, 60, 5, "mean_t", a_ss=1020, b_ss=760) == pytest.approx(1.0)
    assert stats.compare(70, 5, 60, 5, "mean_t") is None
    # gaps: a = 60/100 - 40/100 (0.2), b = 50/100 - 50/100 (0):
    #   var = 0.24/100 + 0.24/100 + 0.25/100 + 0.25/100 = 0.0098; z = 0.2/0.0989949 = 2.0203051
    z = stats.compare(60, 100, 50, 100, "newcombe", a_x2=40, a_n2=100, b_x2=50, b_n2=100)
    assert z == pytest.approx(2.0203051, abs=1e-6)
    df = pl.DataFrame({"x": [70, 60], "n": [5.0, 100.0], "ss": [1020.0, None], "x2": [None, 40], "n2": [None, 100.0],
                       "px": [60, 50], "pn": [5.0, 100.0], "pss": [760.0, None], "px2": [None, 50],
                       "pn2": [None, 100.0], "ci_method": ["mean_t", "newcombe"]})
    zs = df.select(stats.compare_expr("x", "n", "px", "pn", a_x2="x2", a_n2="n2", a_ss="ss", b_x2="px2",
                                      b_n2="pn2", b_ss="pss").alias("z"))["z"].to_list()
    assert zs == pytest.approx([1.0, 2.0203051], abs=1e-6)


# ---------------------------------------------------------------- properties of the new methods
means = st.tuples(
    st.integers(min_value=2, max_value=5000),
    st.floats(min_value=-50, max_value=100, allow_nan=False),
    st.floats(min_value=0, max_value=30, allow_nan=False),
)
gaps = st.tuples(proportions, proportions)


def _mean_inputs(n, mean, sd):
    return n * mean, n, (n - 1) * sd * sd + n * mean * mean


@settings(max_examples=200, deadline=None)
@given(means)
def test_mean_t_properties(m):
    n, mean, sd = m
    total, n, ss = _mean_inputs(n, mean, sd)
    v, lo95, hi95 = stats.mean_t_limits(total, n, ss, 0.95)
    _, lo998, hi998 = stats.mean_t_limits(total, n, ss, 0.998)
    tol = 1e-9 * max(1.0, abs(mean))
    assert lo998 - tol <= lo95 <= v + tol and v - tol <= hi95 <= hi998 + tol  # contains, 95% inside 99.8%
    assert hi95 - lo95 <= hi998 - lo998 + tol
    # monotone in the sum: one more unit on the total (spread kept) moves both limits up
    _, lo_up, hi_up = stats.mean_t_limits(total + 1, n, ss + 2 * total / n + 1 / n)
    assert lo_up >= lo95 - tol and hi_up >= hi95 - tol


@settings(max_examples=200, deadline=None)
@given(gaps)
def test_newcombe_properties(g):
    (x1, n1), (x2, n2) = g
    for c in (0.95, 0.998):
        d, lo, hi = stats.newcombe(x1, n1, x2, n2, c)
        assert -1 - 1e-12 <= lo <= d <= hi <= 1 + 1e-12
    _, lo95, hi95 = stats.newcombe(x1, n1, x2, n2, 0.95)
    _, lo998, hi998 = stats.newcombe(x1, n1, x2, n2, 0.998)
    assert lo998 <= lo95 + 1e-12 and hi95 <= hi998 + 1e-12
    if x1 < n1:  # monotone in the first group's count
        _, lo2, hi2 = stats.newcombe(x1 + 1, n1, x2, n2)
        assert lo2 >= lo95 - 1e-12 and hi2 >= hi95 - 1e-12
    if x2 < n2:  # and the other way in the second group's
        _, lo3, hi3 = stats.newcombe(x1, n1, x2 + 1, n2)
        assert lo3 <= lo95 + 1e-12 and hi3 <= hi95 + 1e-12


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(
    means.map(lambda m: ("mean_t", *_mean_inputs(*m))),
    gaps.map(lambda g: ("newcombe", g[0][0], g[0][1], g[1][0], g[1][1])),
), min_size=1, max_size=30))
def test_frame_equals_scalar_for_means_and_gaps(rows):
    data = []
    for r in rows:
        if r[0] == "mean_t":
            _, total, n, ss = r
            data.append((total, float(n), None, None, ss, 1, "mean_t"))
        else:
            _, x1, n1, x2, n2 = r
            data.append((float(x1), float(n1), x2, float(n2), None, 100, "newcombe"))
    frame = pl.LazyFrame(data, orient="row", schema={
        "numerator": pl.Float64, "denominator": pl.Float64, "numerator_2": pl.Int64, "denominator_2": pl.Float64,
        "sum_squares": pl.Float64, "multiplier": pl.Int64, "ci_method": pl.String})
    out = stats.add_confidence_limits(frame).collect()
    for (x, n, x2, n2, ss, m, method), r in zip(data, out.iter_rows(named=True), strict=True):
        for c, suffix in ((0.95, "95"), (0.998, "998")):
            v, lo, hi = stats.limits(x, n, method, m, c, x2=x2, n2=n2, sum_sq=ss)
            scale = max(1.0, abs(v))
            assert r["value"] == pytest.approx(v, rel=1e-9, abs=1e-9 * scale)
            assert r[f"lower_{suffix}"] == pytest.approx(lo, rel=1e-7, abs=1e-7 * scale)
            assert r[f"upper_{suffix}"] == pytest.approx(hi, rel=1e-7, abs=1e-7 * scale)
