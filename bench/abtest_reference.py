"""Peer outputs for crates/clientele-models/src/abtest.rs (scipy + statsmodels).

Writes CSV fixtures to crates/clientele-models/tests/data/abtest/ (run from the repository
root: `python3 bench/abtest_reference.py`). Every float is written with repr() (17 significant
digits) so the Rust tests compare against the peer's exact doubles. Sample data for the Welch
and bootstrap cases come from a seeded numpy generator and are written out too, so Rust reads
the very same numbers.
"""

import math
import os

import numpy as np
import scipy
import statsmodels
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)

OUT = os.path.join("crates", "clientele-models", "tests", "data", "abtest")
os.makedirs(OUT, exist_ok=True)


def f(x):
    return repr(float(x))


def write(name, header, rows):
    with open(os.path.join(OUT, name), "w") as fh:
        fh.write(",".join(header) + "\n")
        for r in rows:
            fh.write(",".join(r) + "\n")


# --- two proportions: pooled z-test and unpooled Wald interval of p_b - p_a -------------
prop_cases = [
    # xa, na, xb, nb, level
    (12, 100, 19, 110, 0.95),  # small n
    (1000, 10000, 1100, 10000, 0.95),  # large n, clear effect
    (0, 50, 4, 60, 0.95),  # zero successes in arm a (lift NaN)
    (7, 40, 0, 45, 0.90),  # zero successes in arm b
    (4833, 50210, 4791, 49870, 0.99),  # very large n, no effect
    (30, 30, 27, 31, 0.80),  # all successes in arm a
]
rows = []
for xa, na, xb, nb, level in prop_cases:
    z, p = proportions_ztest([xb, xa], [nb, na], alternative="two-sided")
    lo, hi = confint_proportions_2indep(xb, nb, xa, na, method="wald", compare="diff", alpha=1 - level)
    ra, rb = xa / na, xb / nb
    lift = rb / ra - 1 if ra > 0 else float("nan")
    # The interval of the relative lift: statsmodels' log (Katz) interval of the ratio
    # rate_b / rate_a, minus one; undefined (NaN) when either arm has no successes.
    if xa > 0 and xb > 0:
        rlo, rhi = confint_proportions_2indep(xb, nb, xa, na, method="log", compare="ratio", alpha=1 - level)
        llo, lhi = rlo - 1, rhi - 1
    else:
        llo = lhi = float("nan")
    rows.append([f(v) for v in (xa, na, xb, nb, level, ra, rb, rb - ra, lift, lo, hi, z, p, llo, lhi)])
write(
    "proportions.csv",
    ["xa", "na", "xb", "nb", "level", "rate_a", "rate_b", "difference", "lift", "lower", "upper", "z", "p_value", "lift_lower", "lift_upper"],
    rows,
)

# --- Welch t-test, on samples drawn here and written to samples.csv ----------------------
rng = np.random.default_rng(20240611)
samples = {
    "small": (rng.normal(10, 2, 5), rng.normal(12, 5, 7)),
    "unequal_var": (rng.normal(0, 1, 500), rng.normal(0.1, 3, 300)),
    "revenue": (rng.lognormal(3.0, 1.0, 200), rng.lognormal(3.1, 1.2, 250)),
    "no_effect": (rng.normal(50, 10, 1000), rng.normal(50, 10, 1000)),
    "constant_a": (np.full(10, 5.0), rng.normal(6, 1, 12)),
    "strong": (rng.normal(0, 1, 2000), rng.normal(0.3, 1, 2000)),
}
levels = {"small": 0.95, "unequal_var": 0.95, "revenue": 0.90, "no_effect": 0.99, "constant_a": 0.95, "strong": 0.95}
with open(os.path.join(OUT, "samples.csv"), "w") as fh:
    fh.write("case,arm,value\n")
    for case, (a, b) in samples.items():
        for arm, xs in (("a", a), ("b", b)):
            for v in xs:
                fh.write(f"{case},{arm},{f(v)}\n")
rows = []
for case, (a, b) in samples.items():
    level = levels[case]
    res = stats.ttest_ind(b, a, equal_var=False)
    ci = res.confidence_interval(confidence_level=level)
    ma, mb = a.mean(), b.mean()
    rows.append([case] + [f(v) for v in (level, ma, mb, mb - ma, mb / ma - 1, ci.low, ci.high, res.statistic, res.df, res.pvalue)])
write("welch.csv", ["case", "level", "mean_a", "mean_b", "difference", "lift", "lower", "upper", "t", "df", "p_value"], rows)

# --- percentile bootstrap of mean(b) - mean(a) ------------------------------------------
BOOT_RESAMPLES = 200_000
rows = []
for case in ("small", "unequal_var", "revenue"):
    a, b = samples[case]
    level = levels[case]
    res = stats.bootstrap(
        (b, a),
        lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        vectorized=True,
        paired=False,
        confidence_level=level,
        n_resamples=BOOT_RESAMPLES,
        batch=10_000,
        method="percentile",
        rng=np.random.default_rng(7),
    )
    rows.append([case, f(level), str(BOOT_RESAMPLES), f(res.confidence_interval.low), f(res.confidence_interval.high), f(res.standard_error)])
write("bootstrap.csv", ["case", "level", "resamples", "lower", "upper", "standard_error"], rows)

# --- sample sizes: NormalIndPower().solve_power, ratio 1, two-sided ---------------------
# solve_power stops its root search at about 1e-7 absolute (brentq_expanding's tolerance), so
# the root of NormalIndPower().power itself is also solved here to 1e-14 ("n_exact").
power = NormalIndPower()


def exact_n(es, alpha, pw):
    return optimize.brentq(lambda n: power.power(es, n, alpha, ratio=1, alternative="two-sided") - pw, 1e-3, 1e9, xtol=1e-14, rtol=4 * np.finfo(float).eps)


rows = []
for base, lift, alpha, pw in [(0.10, 0.10, 0.05, 0.80), (0.02, 0.05, 0.05, 0.90), (0.50, -0.04, 0.01, 0.80), (0.30, 1.0, 0.10, 0.95), (0.05, -0.5, 0.05, 0.5)]:
    es = proportion_effectsize(base * (1 + lift), base)
    n = power.solve_power(effect_size=es, nobs1=None, alpha=alpha, power=pw, ratio=1, alternative="two-sided")
    rows.append(["proportions", f(base), f(lift), f(alpha), f(pw), f(n), f(exact_n(es, alpha, pw))])
for sd, diff, alpha, pw in [(10.0, 1.0, 0.05, 0.80), (120.0, -5.0, 0.05, 0.90), (1.0, 0.8, 0.01, 0.99), (3.0, 0.2, 0.2, 0.6)]:
    n = power.solve_power(effect_size=diff / sd, nobs1=None, alpha=alpha, power=pw, ratio=1, alternative="two-sided")
    rows.append(["means", f(sd), f(diff), f(alpha), f(pw), f(n), f(exact_n(diff / sd, alpha, pw))])
write("sample_size.csv", ["kind", "base_or_sd", "lift_or_difference", "alpha", "power", "n", "n_exact"], rows)

# --- sample ratio mismatch: chisquare(observed, f_exp = shares * total) -----------------
rows = []
for obs, shares in [
    ([5000, 5000], [0.5, 0.5]),
    ([50210, 49870], [0.5, 0.5]),
    ([10321, 9679], [0.5, 0.5]),
    ([2020, 3050, 4930], [0.2, 0.3, 0.5]),
    ([0, 12], [0.5, 0.5]),
    ([901, 98, 1], [0.9, 0.05, 0.05]),
]:
    obs = np.asarray(obs, dtype=float)
    res = stats.chisquare(obs, f_exp=np.asarray(shares) * obs.sum())
    rows.append([";".join(f(v) for v in obs), ";".join(f(v) for v in shares), f(res.statistic), f(res.pvalue)])
write("srm.csv", ["observed", "shares", "chi2", "p_value"], rows)

# --- Holm: multipletests(method='holm')[1] ----------------------------------------------
rows = []
for ps in [
    [0.01, 0.04, 0.03, 0.005],
    [0.2, 0.2, 0.2],
    [0.001],
    [0.04, 0.01, 0.9, 0.5, 0.02, 0.03],
    [0.5, 0.6, 0.7, 0.8],
    [1e-10, 0.3, 0.012, 0.012, 0.049],
]:
    adj = multipletests(ps, method="holm")[1]
    rows.append([";".join(f(v) for v in ps), ";".join(f(v) for v in adj)])
write("holm.csv", ["p_values", "adjusted"], rows)

# --- mSPRT: the closed form evaluated by hand (plain math, no peer library) ---------------
rows = []
for xa, na, xb, nb, tau2, level in [(100, 1000, 130, 1000, 1e-4, 0.95), (480, 5000, 520, 5000, 1e-4, 0.95), (10, 200, 30, 210, 0.0025, 0.9)]:
    pa, pb = xa / na, xb / nb
    d = pb - pa
    v = pa * (1 - pa) / na + pb * (1 - pb) / nb
    lam = math.sqrt(v / (v + tau2)) * math.exp(tau2 * d * d / (2 * v * (v + tau2)))
    p = min(1.0, 1 / lam)
    alpha = 1 - level
    r = math.sqrt(2 * v * (v + tau2) / tau2 * (math.log(1 / alpha) + 0.5 * math.log((v + tau2) / v)))
    rows.append([f(x) for x in (xa, na, xb, nb, tau2, level, p, d - r, d + r)])
write("msprt.csv", ["xa", "na", "xb", "nb", "tau2", "level", "always_valid_p", "lower", "upper"], rows)

print(f"scipy {scipy.__version__}, statsmodels {statsmodels.__version__}, numpy {np.__version__}")
