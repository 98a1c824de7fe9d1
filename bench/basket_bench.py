"""`clientele basket` beside mlxtend's apriori and fpgrowth + association_rules, as whole
processes on the same basket files (see bench/README.md).

    pip install mlxtend==0.25.0 pandas
    cargo build --release -p clientele-cli
    python3 bench/basket_bench.py [--bin target/release/clientele] [--baskets 1000000]
                                  [--supports 0.1,0.2] [--repeat 3] [--peer-only]

Data, each written once as a `basket_id,item` CSV (one row per item of a basket):
- `supermarket`: the 4,627 real baskets of Weka's supermarket.arff (the model's reference
  data, crates/clientele-models/tests/data/basket/), 122 departments bought;
- `categories-N`: N simulated baskets at category level (default 1,000,000): 40 categories
  with skewed popularity and three planted groups of categories bought together, 1 to 16
  categories per basket (about 6 on average); seeded, so the same N gives the same file.

For each file and minimum support (default 0.1 and 0.2), with rules at metric confidence,
min_threshold 0 (every rule), each side runs as its own process that reads the CSV and writes
the rules as CSV (start-up, reading and writing included on both sides):
- clientele: `clientele basket --baskets FILE --min-support S --format csv`;
- mlxtend apriori / fpgrowth: a child `python3` that reads the file with pandas, one-hot
  encodes it (a boolean DataFrame, as mlxtend asks), runs `apriori` or `fpgrowth` and
  `association_rules`, and writes the rules with pandas.
Each job runs --repeat times; the median wall time is printed with the ratio peer /
clientele, and the rules are compared: the same (antecedents, consequents) set and the largest
difference of confidence and lift (clientele's conviction is empty where mlxtend's is inf).
The target (issue 13): clientele ≥ 10× faster than mlxtend fpgrowth + rules, and 1M baskets
at category level in < 5 s.
"""

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "crates", "clientele-models", "tests", "data", "basket")
CACHE = os.path.join(HERE, "data")

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--bin", default="target/release/clientele", help="the clientele binary")
ap.add_argument("--baskets", type=int, default=1_000_000, help="simulated baskets (0: none)")
ap.add_argument("--supports", default="0.1,0.2", help="minimum supports, comma-separated")
ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--peers", default="apriori,fpgrowth", help="mlxtend algorithms to run")
ap.add_argument("--peer-only", action="store_true", help="run mlxtend only (no binary yet)")
args = ap.parse_args()
BIN = os.path.abspath(args.bin)
SUPPORTS = [float(s) for s in args.supports.split(",")]
tmp = tempfile.mkdtemp(prefix="clientele-basket-bench-")

PEER = r"""
import sys
import numpy as np
import pandas as pd
from mlxtend.frequent_patterns import apriori, association_rules, fpgrowth

algo, path, support, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
df = pd.read_csv(path, dtype=str)
df = df.dropna(subset=["item"])
baskets = pd.read_csv(path, dtype=str, usecols=["basket_id"])["basket_id"].unique()
b = pd.Categorical(df["basket_id"], categories=baskets)
i = pd.Categorical(df["item"], categories=sorted(df["item"].unique()))
onehot = np.zeros((len(baskets), len(i.categories)), dtype=bool)
onehot[b.codes, i.codes] = True
X = pd.DataFrame(onehot, columns=i.categories)
mine = apriori if algo == "apriori" else fpgrowth
fi = mine(X, min_support=support, use_colnames=True)
if len(fi) == 0:
    open(out, "w").write("antecedents,consequents,support,confidence,lift,leverage,conviction,zhangs_metric\n")
    sys.exit(0)
r = association_rules(fi, metric="confidence", min_threshold=0.0)
join = lambda s: " & ".join(sorted(s))
r = pd.DataFrame({
    "antecedents": r["antecedents"].map(join), "consequents": r["consequents"].map(join),
    "support": r["support"], "confidence": r["confidence"], "lift": r["lift"],
    "leverage": r["leverage"], "conviction": r["conviction"], "zhangs_metric": r["zhangs_metric"],
})
r.to_csv(out, index=False, float_format="%.17g")
"""


def supermarket_csv():
    path = os.path.join(tmp, "supermarket.csv")
    names = {}
    with open(os.path.join(DATA, "supermarket_items.csv")) as f:
        for row in csv.DictReader(f):
            names[row["item"]] = row["name"]
    with open(os.path.join(DATA, "supermarket_baskets.txt")) as f, open(path, "w") as out:
        out.write("basket_id,item\n")
        for k, line in enumerate(f, start=1):
            for item in line.split():
                out.write(f'b{k},"{names[item]}"\n')
    return path


def categories_csv(n):
    """N simulated baskets over 40 categories (seeded; cached in bench/data/)."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"basket-categories-{n}.csv")
    if os.path.exists(path):
        return path
    rng = random.Random(13)
    cats = [f"category{c:02d}" for c in range(40)]
    weights = [1.0 / (1 + c) ** 0.5 for c in range(40)]
    groups = [(0, 3, 7), (1, 12), (5, 9, 20, 21)]
    with open(path + ".part", "w") as out:
        out.write("basket_id,item\n")
        for b in range(n):
            k = min(16, 1 + int(rng.expovariate(1 / 5.0)))
            items = set(rng.choices(range(40), weights=weights, k=k))
            for g in groups:
                if g[0] in items and rng.random() < 0.6:
                    items.update(g)
            for c in sorted(items):
                out.write(f"o{b},{cats[c]}\n")
    os.replace(path + ".part", path)
    return path


def timed(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    return p.stdout, dt


def read_rules(text):
    rows = {}
    for r in csv.DictReader(text.splitlines()):
        num = lambda k: float("inf") if r[k] in ("", "inf") else float(r[k])
        rows[(r["antecedents"], r["consequents"])] = (num("confidence"), num("lift"))
    return rows


def compare(ours, theirs):
    if set(ours) != set(theirs):
        return f"DIFFERENT RULES ({len(set(ours) ^ set(theirs))} differ)"
    worst = max((abs(a - b) for k in ours for a, b in zip(ours[k], theirs[k])
                 if a != float("inf")), default=0.0)
    return f"same {len(ours)} rules, largest difference {worst:.1e}"


def main():
    peer = os.path.join(tmp, "peer.py")
    with open(peer, "w") as f:
        f.write(PEER)
    files = [("supermarket", supermarket_csv())]
    if args.baskets > 0:
        files.append((f"categories-{args.baskets}", categories_csv(args.baskets)))
    peers = [p for p in args.peers.split(",") if p]
    print(f"{'data':<22} {'support':>7} {'side':<22} {'median s':>9} {'ratio':>7}  rules")
    for name, path in files:
        for s in SUPPORTS:
            ours_t, ours_rules = None, None
            if not args.peer_only:
                times = []
                for _ in range(args.repeat):
                    out, dt = timed([BIN, "basket", "--baskets", path, "--min-support", str(s),
                                     "--format", "csv"])
                    times.append(dt)
                ours_t, ours_rules = statistics.median(times), read_rules(out)
                print(f"{name:<22} {s:>7} {'clientele':<22} {ours_t:>9.3f} {'':>7}  "
                      f"{len(ours_rules)}", flush=True)
            for algo in peers:
                times = []
                out_path = os.path.join(tmp, f"peer-{algo}.csv")
                for _ in range(args.repeat):
                    _, dt = timed([sys.executable, peer, algo, path, str(s), out_path])
                    times.append(dt)
                with open(out_path) as f:
                    theirs = read_rules(f.read())
                t = statistics.median(times)
                ratio = f"{t / ours_t:>6.1f}x" if ours_t else ""
                check = compare(ours_rules, theirs) if ours_rules is not None else f"{len(theirs)}"
                print(f"{name:<22} {s:>7} {'mlxtend ' + algo + ' + rules':<22} {t:>9.3f} "
                      f"{ratio:>7}  {check}", flush=True)


if __name__ == "__main__":
    main()
