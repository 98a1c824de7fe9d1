"""Peer outputs for crates/clientele-models/src/mmm.rs (scipy).

Writes fixtures to crates/clientele-models/tests/data/mmm/ (run from the repository root:
`python3 bench/mmm_reference.py`). Deterministic (seeded numpy generators).

1. nnls.csv: small least-squares problems with sign constraints solved by
   scipy.optimize.nnls (all coefficients >= 0) or scipy.optimize.lsq_linear(method='bvls')
   (some columns free, the others >= 0), the peer of clientele's Lawson–Hanson `nnls`.
2. mmm_data.csv: a simulated weekly data set (156 weeks, 3 channels) and mmm_scipy.csv: the
   best sum of squared errors that scipy finds for *the same model* as clientele's `mmm::fit`
   (base + trend*t + 2 Fourier harmonics of a 52-week season + sum_c beta_c *
   hill(adstock(spend_c, theta_c), kappa_c * mean(adstock), S_c), beta_c >= 0,
   theta in [0, 0.9], kappa in [0.1, 3], S in [0.5, 3]) with many random restarts. There is
   no Rust-friendly peer for the marketing mix model itself (Robyn is R with Nevergrad,
   LightweightMMM and pymc-marketing are Bayesian and report posteriors, not a least-squares
   optimum), so the reference is the same model solved independently by scipy: L-BFGS-B over
   the nonlinear parameters with the linear ones profiled out by lsq_linear (bvls), then
   least_squares (trf, bounds) over all parameters jointly from the best starts.
"""

import math
import os

import numpy as np
import scipy
from scipy import optimize

OUT = os.path.join("crates", "clientele-models", "tests", "data", "mmm")
os.makedirs(OUT, exist_ok=True)


def f(x):
    return repr(float(x))


def lst(v):
    return ";".join(f(x) for x in v)


# --- 1. NNLS problems --------------------------------------------------------------------
rng = np.random.default_rng(20240901)
rows = []
shapes = [(10, 4, 0), (20, 6, 0), (15, 8, 0), (30, 5, 0), (40, 10, 0), (25, 7, 3), (50, 9, 4)]
for case, (m, p, n_free) in enumerate(shapes):
    a = rng.normal(size=(m, p))
    if case == 3:
        # Positive, correlated columns (like saturation curves): several bounds active.
        a = np.abs(a) + 0.5 * np.abs(rng.normal(size=(m, 1)))
    b = rng.normal(size=m) * 2.0 + a @ rng.normal(size=p)
    free = [j < n_free for j in range(p)]
    if n_free == 0:
        x, _ = optimize.nnls(a, b, maxiter=1000)
        peer = "nnls"
    else:
        lb = np.array([-np.inf if fr else 0.0 for fr in free])
        res = optimize.lsq_linear(a, b, bounds=(lb, np.full(p, np.inf)), method="bvls", tol=1e-15)
        x = res.x
        peer = "lsq_linear_bvls"
    rows.append(
        [str(case), peer, str(m), str(p), ";".join("1" if fr else "0" for fr in free),
         lst(a.ravel(order="F")), lst(b), lst(x)]
    )
with open(os.path.join(OUT, "nnls.csv"), "w") as fh:
    fh.write("case,peer,rows,cols,free,a_colmajor,b,x\n")
    for r in rows:
        fh.write(",".join(r) + "\n")


# --- 2. the marketing mix model -----------------------------------------------------------
def adstock(x, d):
    out = np.empty_like(x)
    level = 0.0
    for t, v in enumerate(x):
        level = v + d * level
        out[t] = level
    return out


def hill(a, k, s):
    a = np.asarray(a, dtype=float)
    out = np.zeros_like(a)
    pos = a > 0
    out[pos] = 1.0 / (1.0 + (k / a[pos]) ** s)
    return out


N, SEASON, K_FOURIER = 156, 52, 2
t = np.arange(N, dtype=float)
fixed = [np.ones(N), t]
for k in range(1, K_FOURIER + 1):
    w = 2 * math.pi * k / SEASON
    fixed += [np.sin(w * t), np.cos(w * t)]
FIXED = np.column_stack(fixed)

rng = np.random.default_rng(156)
# Three spend patterns: TV-like flights (on/off bursts), search-like spend that is on most
# weeks at a varying level, social-like pulses (a few weeks in three). Each varies enough from week to week for its
# response to be told apart from the base (always-on spend at a constant level would not be).
tv = np.where(rng.random(N) < 0.45, rng.gamma(4.0, 250.0, N), 0.0)
search = np.where(rng.random(N) < 0.7, rng.gamma(3.0, 120.0, N), 20.0)
social = np.where(rng.random(N) < 0.35, rng.gamma(2.0, 300.0, N), 0.0)
SPEND = [tv, search, social]
TRUE = dict(decay=[0.2, 0.5, 0.7], kappa=[0.8, 1.0, 1.2], shape=[1.0, 2.0, 1.5],
            beta=[2500.0, 2500.0, 3000.0])
media = np.zeros(N)
for c in range(3):
    a = adstock(SPEND[c], TRUE["decay"][c])
    media += TRUE["beta"][c] * hill(a, TRUE["kappa"][c] * a.mean(), TRUE["shape"][c])
mean_part = 2000.0 + 8.0 * t + 400.0 * np.sin(2 * math.pi * t / SEASON) + 150.0 * np.cos(
    4 * math.pi * t / SEASON
) + media
revenue = mean_part + rng.normal(0.0, 0.05 * mean_part.mean(), N)

with open(os.path.join(OUT, "mmm_data.csv"), "w") as fh:
    fh.write("t,revenue,spend0,spend1,spend2\n")
    for i in range(N):
        fh.write(",".join([str(i), f(revenue[i]), f(tv[i]), f(search[i]), f(social[i])]) + "\n")

LO = np.array([0.0, 0.1, 0.5] * 3)
HI = np.array([0.9, 3.0, 3.0] * 3)


def channel_cols(theta):
    cols = []
    for c in range(3):
        d, kap, s = theta[3 * c : 3 * c + 3]
        a = adstock(SPEND[c], d)
        cols.append(hill(a, kap * a.mean(), s))
    return np.column_stack(cols)


NF = FIXED.shape[1]
LIN_LB = np.array([-np.inf] * NF + [0.0] * 3)


def profiled(theta):
    x = np.hstack([FIXED, channel_cols(theta)])
    # Scale columns as clientele does (unit norm) only for the solver's conditioning.
    sc = np.linalg.norm(x, axis=0)
    sc[sc == 0] = 1.0
    res = optimize.lsq_linear(x / sc, revenue, bounds=(LIN_LB, np.full(NF + 3, np.inf)),
                              method="bvls", tol=1e-13)
    coef = res.x / sc
    r = revenue - x @ coef
    return float(r @ r), coef


def full_resid(p):
    theta, coef = p[:9], p[9:]
    x = np.hstack([FIXED, channel_cols(theta)])
    return revenue - x @ coef


best = (math.inf, None, None)
rs = np.random.default_rng(7)
starts = []
for i in range(100):
    th0 = LO + rs.random(9) * (HI - LO)
    res = optimize.minimize(lambda th: profiled(th)[0], th0, method="L-BFGS-B",
                            bounds=list(zip(LO, HI)), options=dict(maxiter=500, ftol=1e-15,
                                                                   gtol=1e-12))
    sse, coef = profiled(res.x)
    starts.append((sse, res.x, coef))
    if sse < best[0]:
        best = (sse, res.x, coef)
starts.sort(key=lambda s: s[0])
# Joint polish of the best profiled optima with least_squares over every parameter.
for sse0, th, coef in starts[:10]:
    p0 = np.concatenate([th, coef])
    lb = np.concatenate([LO, LIN_LB])
    ub = np.concatenate([HI, np.full(NF + 3, np.inf)])
    # trf starts strictly inside the box.
    width = np.where(np.isfinite(ub), ub - lb, 1.0)
    inner_lb = np.where(np.isfinite(lb), lb + 1e-9 * width, -np.inf)
    inner_ub = np.where(np.isfinite(ub), ub - 1e-9 * width, np.inf)
    p0 = np.clip(p0, inner_lb, inner_ub)
    res = optimize.least_squares(full_resid, p0, bounds=(lb, ub), method="trf", xtol=1e-15,
                                 ftol=1e-15, gtol=1e-15, max_nfev=20000, x_scale="jac")
    sse = float(res.fun @ res.fun)
    # Re-profile at the polished nonlinear point: the linear part's exact optimum.
    sse2, coef2 = profiled(res.x[:9])
    if min(sse, sse2) < best[0]:
        best = (sse2, res.x[:9], coef2) if sse2 <= sse else (sse, res.x[:9], res.x[9:])

sse, th, coef = best
truth_sse = float((revenue - mean_part) @ (revenue - mean_part))
with open(os.path.join(OUT, "mmm_scipy.csv"), "w") as fh:
    fh.write("quantity,value\n")
    fh.write(f"best_sse,{f(sse)}\n")
    fh.write(f"sse_at_truth,{f(truth_sse)}\n")
    for c in range(3):
        fh.write(f"decay{c},{f(th[3*c])}\nkappa{c},{f(th[3*c+1])}\nshape{c},{f(th[3*c+2])}\n")
        cols = channel_cols(th)
        fh.write(f"beta{c},{f(coef[NF + c])}\ncontribution{c},{f(coef[NF + c] * cols[:, c].sum())}\n")
    for c in range(3):
        a = adstock(SPEND[c], TRUE["decay"][c])
        contrib = TRUE["beta"][c] * hill(a, TRUE["kappa"][c] * a.mean(), TRUE["shape"][c]).sum()
        fh.write(f"true_contribution{c},{f(contrib)}\n")
print("scipy", scipy.__version__, "numpy", np.__version__)
print("best SSE", sse, "SSE at the true mean", truth_sse)
print("theta", th)
print("coef", coef)
