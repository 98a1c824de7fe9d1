"""Reference fits for clientele's ETS (crates/clientele-models/src/forecast): statsforecast's
ETS (Nixtla; the R forecast::ets algorithm) on public series, written as small CSV fixtures.

    pip install statsforecast==2.1.1 statsmodels
    python3 bench/forecast_reference.py crates/clientele-models/tests/data/forecast

For every series and every ETS model statsforecast fits, it records the parameters and initial
states, the criterion (-2 log L up to a constant), AICc, sigma^2, the fitted values, 24-step
point forecasts and, for the analytic classes, 80 % and 95 % intervals over the first season; and the model AutoETS
chooses. The Rust tests replay the recursion with these parameters (exact agreement) and fit
their own (a likelihood at least as good)."""

import csv
import os
import sys

import numpy as np
import statsmodels.api as sm
from statsforecast.ets import ets_f, forecast_ets
from statsforecast.models import AutoETS
from statsforecast.utils import AirPassengers

out = sys.argv[1] if len(sys.argv) > 1 else "crates/clientele-models/tests/data/forecast"
os.makedirs(out, exist_ok=True)

elnino = sm.datasets.elnino.load_pandas().data.drop(columns="YEAR").to_numpy().ravel()
realcons = sm.datasets.macrodata.load_pandas().data["realcons"].to_numpy()
series = {
    # Monthly airline passengers 1949-1960 (Box & Jenkins), m = 12.
    "airpassengers": (np.asarray(AirPassengers, dtype=float), 12),
    # Monthly sea surface temperature of the El Nino region 1950-2010 (statsmodels), m = 12.
    "elnino": (elnino.astype(float), 12),
    # US real personal consumption, quarterly 1959-2009 (statsmodels macrodata), m = 4.
    "realcons": (realcons.astype(float), 4),
}

H = 24
models = []
for e in "AM":
    for t, damped in (("N", False), ("A", False), ("A", True)):
        for s in "NAM":
            if e == "A" and s == "M":
                continue
            models.append((e, t, s, damped))


def name(e, t, s, damped):
    return f"{e}{'Ad' if damped else t}{s}"


for key, (y, m) in series.items():
    with open(os.path.join(out, f"{key}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["value"])
        for v in y:
            w.writerow([repr(float(v))])
    rows = []
    paths = []
    for e, t, s, damped in models:
        try:
            fit = ets_f(y, m, model=e + t + s, damped=damped)
        except Exception as err:  # noqa: BLE001 - a model the peer refuses is skipped
            print(key, name(e, t, s, damped), "skipped:", err, file=sys.stderr)
            continue
        par = fit["par"]
        lik = -2.0 * fit["loglik"]
        rows.append(
            [name(e, t, s, damped), fit["n_params"], repr(lik), repr(float(fit["aicc"])), repr(float(fit["sigma2"]))]
            + [repr(float(v)) for v in par[:4]]
            + [";".join(repr(float(v)) for v in par[4:])]
        )
        fc = forecast_ets(fit, H, level=[80, 95])
        # statsforecast computes the seasonal variance term with k = floor((H - 1)/m) for the
        # whole horizon H instead of per step; with H = m it is 0, as the book's k is for
        # every step of the first season, so the bands are taken from an m-step forecast.
        bands = forecast_ets(fit, m, level=[80, 95])
        for kind, values in (
            ("fitted", fit["fitted"]),
            ("mean", fc["mean"]),
            ("lo80", bands["lo-80"]),
            ("hi80", bands["hi-80"]),
            ("lo95", bands["lo-95"]),
            ("hi95", bands["hi-95"]),
        ):
            paths.append([name(e, t, s, damped), kind, ";".join(repr(float(v)) for v in values)])
    with open(os.path.join(out, f"{key}_models.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "n_params", "lik", "aicc", "sigma2", "alpha", "beta", "gamma", "phi", "states"])
        w.writerows(rows)
    with open(os.path.join(out, f"{key}_paths.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "kind", "values"])
        w.writerows(paths)
    auto = AutoETS(season_length=m).fit(y)
    comp = auto.model_["components"]
    chosen = f"{comp[0]}{'Ad' if comp[3] == 'D' else comp[1]}{comp[2]}"
    with open(os.path.join(out, f"{key}_auto.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "aicc"])
        w.writerow([chosen, repr(float(auto.model_["aicc"]))])
    print(key, "AutoETS:", chosen, auto.model_["aicc"])
