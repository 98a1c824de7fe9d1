"""clientele's forecast and attribution beside statsforecast and ChannelAttribution, same data,
same machine, same run (see bench/README.md, "Forecasts and attribution beside their peers").

    pip install statsforecast==2.1.1 ChannelAttribution==2.2.5
    cargo build --release -p clientele-cli
    python3 bench/marketing_bench.py [--bin target/release/clientele] [--series 1000]

1. Holdout accuracy: for AirPassengers, El Nino and US real consumption (the model tests'
   series), the last season is held out; statsforecast's AutoETS and `clientele forecast
   --series` fit the rest and forecast it; MAPE of each.
2. Speed of one series: AutoETS fit + forecast of AirPassengers in-process (after a warm-up
   call, so numba's compilation is not counted: the peer's best case) against the wall time
   of the `clientele forecast --series` process (start-up, CSV reading, AICc choice over 15
   models, intervals and the backtest included: more work than the peer does).
3. Many series: N monthly series of 48 months (seeded, trend + season + noise) as one
   workspace with N regions, `clientele forecast --split region --horizon 12`; beside
   statsforecast's StatsForecast(AutoETS, n_jobs=-1) on the same N series.
4. Markov attribution, order 1, on ChannelAttribution's 10,000 example paths: the peer's
   markov_model (its default simulation) against `clientele attribution --paths` (exact);
   wall times and the largest difference of removal effects.
Prints one line per measure with the ratio.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default="target/release/clientele")
ap.add_argument("--series", type=int, default=1000)
args = ap.parse_args()
BIN = os.path.abspath(args.bin)
DATA = "crates/clientele-models/tests/data"
tmp = tempfile.mkdtemp(prefix="clientele-bench-")


def run(cmd, **kw):
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    dt = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {out.stderr}")
    return out.stdout, dt


def series(name):
    with open(f"{DATA}/forecast/{name}.csv") as f:
        return np.array([float(r["value"]) for r in csv.DictReader(f)])


def write_series(path, y, m):
    with open(path, "w") as f:
        f.write("period,value\n")
        for i, v in enumerate(y):
            if m == 12:
                f.write(f"{1900 + i // 12}-{i % 12 + 1:02d},{v}\n")
            else:
                f.write(f"{1900 + i // 4}-Q{i % 4 + 1},{v}\n")


def mape(a, f):
    a, f = np.asarray(a), np.asarray(f)
    return float(np.mean(np.abs(a - f) / np.abs(a)))


from statsforecast.models import AutoETS  # noqa: E402

print("# 1. holdout MAPE (last season held out)")
ours_all, theirs_all = [], []
for name, m in (("airpassengers", 12), ("elnino", 12), ("realcons", 4)):
    y = series(name)
    train, test = y[:-m], y[-m:]
    fc = AutoETS(season_length=m).fit(train).predict(h=m)["mean"]
    path = os.path.join(tmp, f"{name}.csv")
    write_series(path, train, m)
    out, _ = run([BIN, "forecast", "--series", path, "--date-column", "period", "--value-column", "value",
                  "--horizon", str(m), "--format", "json"])
    res = json.loads(out)
    ours = [r["forecast"] for r in res["tables"]["forecast"]]
    a, b = mape(test, ours), mape(test, fc)
    ours_all.append(a)
    theirs_all.append(b)
    print(f"{name:14} clientele {res['model']:12} MAPE {a:.4f}   statsforecast MAPE {b:.4f}")
print(f"mean MAPE: clientele {np.mean(ours_all):.4f}, statsforecast {np.mean(theirs_all):.4f}")

print("# 2. one monthly series (AirPassengers), fit + forecast 12")
y = series("airpassengers")
AutoETS(season_length=12).fit(y).predict(h=12)  # warm-up: numba compiles here
t = time.perf_counter()
reps = 5
for _ in range(reps):
    AutoETS(season_length=12).fit(y).predict(h=12, level=[80, 95])
peer = (time.perf_counter() - t) / reps
path = os.path.join(tmp, "air.csv")
write_series(path, y, 12)
best = min(run([BIN, "forecast", "--series", path, "--date-column", "period", "--value-column", "value",
                "--horizon", "12", "--format", "json"])[1] for _ in range(reps))
print(f"statsforecast {peer:.3f} s in-process, clientele {best:.3f} s per process: {peer / best:.1f}x")

print(f"# 3. {args.series} monthly series, 48 months each")
rng = np.random.default_rng(7)
n, months = args.series, 48
rows = []
panel = []
for k in range(n):
    level = rng.uniform(500, 5000)
    slope = rng.uniform(-0.005, 0.02) * level
    amp = rng.uniform(0.05, 0.3)
    for t_ in range(months):
        v = (level + slope * t_) * (1 + amp * np.sin(2 * np.pi * t_ / 12)) * (1 + rng.normal(0, 0.05))
        v = max(v, 1.0)
        rows.append((f"O{k}-{t_}", f"C{k}", f"{2021 + t_ // 12}-{t_ % 12 + 1:02d}-15", round(v, 2), f"R{k:04d}"))
        panel.append((f"R{k:04d}", pd.Timestamp(f"{2021 + t_ // 12}-{t_ % 12 + 1:02d}-01"), v))
src = os.path.join(tmp, "src")
os.makedirs(src, exist_ok=True)
with open(os.path.join(src, "orders.csv"), "w") as f:
    f.write("order_id,customer_id,order_date,total_amount,region\n")
    # One more order on the last day so the last month is complete, one on the first.
    for r in rows:
        f.write(",".join(map(str, r)) + "\n")
    f.write("Z1,C0,2021-01-01,1,R0000\nZ2,C0,2024-12-31,1,R0000\n")
ws = os.path.join(tmp, "ws")
run([BIN, "--workspace", ws, "ingest", src])
_, ours = run([BIN, "--workspace", ws, "forecast", "revenue", "--split", "region", "--horizon", "12",
               "--format", "json"])
from statsforecast import StatsForecast  # noqa: E402
df = pd.DataFrame(panel, columns=["unique_id", "ds", "y"])
sf = StatsForecast(models=[AutoETS(season_length=12)], freq="MS", n_jobs=-1)
sf.forecast(df=df[df.unique_id.isin(df.unique_id.unique()[:4])], h=12)  # warm-up
t = time.perf_counter()
sf.forecast(df=df, h=12, level=[80, 95])
peer = time.perf_counter() - t
print(f"clientele {ours:.2f} s (ingested workspace, with backtests), statsforecast {peer:.2f} s: {peer / ours:.1f}x")

print("# 4. Markov order 1 on ChannelAttribution's 10,000 paths")
from ChannelAttribution import markov_model  # noqa: E402
paths = pd.read_csv(f"{DATA}/attribution/Data.csv", sep=";")
t = time.perf_counter()
res = markov_model(paths, "path", "total_conversions", var_value="total_conversion_value",
                   var_null="total_null", order=1, out_more=True, verbose=0)
peer = time.perf_counter() - t
csvp = os.path.join(tmp, "paths.csv")
paths.to_csv(csvp, index=False)
out, ours = run([BIN, "attribution", "--paths", csvp, "--format", "json"])
re_ours = json.loads(out)["removal_effects"]
re_peer = res["removal_effects"]
col = [c for c in re_peer.columns if c.startswith("removal_effects")][0]
diff = max(abs(re_ours[ch] - v) for ch, v in zip(re_peer["channel_name"], re_peer[col]))
print(f"ChannelAttribution {peer:.3f} s, clientele {ours:.3f} s per process: {peer / ours:.1f}x; "
      f"largest removal-effect difference {diff:.2e} (the peer simulates)")

print("# 5. Marketing mix: 3 years of weekly data, 6 channels (target: under 10 s)")
rng = np.random.default_rng(11)
weeks = 156
spend = np.maximum(rng.lognormal(np.log(1000), 0.6, size=(6, weeks)), 0)
decay = [0.1, 0.3, 0.5, 0.2, 0.6, 0.0]
revenue = 20000 + 30 * np.arange(weeks) + 2000 * np.sin(2 * np.pi * np.arange(weeks) / 52)
for c in range(6):
    a = np.zeros(weeks)
    for t_ in range(weeks):
        a[t_] = spend[c, t_] + (decay[c] * a[t_ - 1] if t_ else 0.0)
    k = a.mean()
    revenue = revenue + 2.0 * k * a / (a + k)
revenue = revenue + rng.normal(0, 800, weeks)
mpath = os.path.join(tmp, "mix.csv")
with open(mpath, "w") as f:
    f.write("week,revenue," + ",".join(f"ch{c}" for c in range(6)) + "\n")
    for t_ in range(weeks):
        day = pd.Timestamp("2023-01-02") + pd.Timedelta(weeks=t_)
        f.write(f"{day.date()},{revenue[t_]:.2f}," + ",".join(f"{spend[c, t_]:.2f}" for c in range(6)) + "\n")
best = min(run([BIN, "mmm", "--file", mpath, "--format", "json"])[1] for _ in range(3))
print(f"clientele mmm (fit, 100 bootstrap refits, budget split, response curves) {best:.2f} s per process "
      f"against a 10 s target: {'met' if best < 10 else 'missed'}")
