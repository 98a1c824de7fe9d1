"""Reference outputs for clientele_models::basket from mlxtend (PyPI).

Runs mlxtend's fpgrowth and association_rules(metric="confidence", min_threshold=0) on the
supermarket baskets in crates/clientele-models/tests/data/basket/ and writes, next to the
data (itemsets at minimum supports 0.2, 0.25 and 0.3, rules at 0.25 and 0.3):

- itemsets_sNN.csv: itemset (item ids ascending, space-separated), count, support;
- rules_edge.csv: the same for two tiny cases (column `case`), where mlxtend's conviction is
  inf and Zhang's and the certainty's denominators are 0;
- rules_sNN.csv: antecedents, consequents (ids ascending, space-separated), then every
  measure mlxtend returns except representativity (1 without null values): antecedent
  support, consequent support, support, confidence, lift, leverage, conviction,
  zhangs_metric, jaccard, certainty, kulczynski. Floats are written with repr (the shortest
  text that reads back to the same double), infinity as "inf".

Rows are sorted by (length, ids), rules by (antecedents, consequents): mlxtend's own order
depends on its tree and on frozenset iteration, and the Rust test compares sets.

The data file itself comes from Debian's weka package (see the folder's README); --extract
rebuilds it from that package:

    apt-get download weka && dpkg-deb -x weka_*_all.deb weka
    python3 bench/basket_reference.py --extract weka/usr/share/doc/weka/examples/supermarket.arff

Usage (from the repository root, a few seconds):
    pip install mlxtend==0.25.0 pandas
    python3 bench/basket_reference.py
"""

import argparse
import os
import re
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "clientele-models", "tests", "data", "basket")
BASKETS = os.path.join(OUT, "supermarket_baskets.txt")
ITEMS = os.path.join(OUT, "supermarket_items.csv")
# Itemsets at every support; rules where they stay small (the 3,080 rules at 0.2 would be
# 680 KB of fixture).
SUPPORTS = (0.2, 0.25, 0.3)
RULE_SUPPORTS = (0.25, 0.3)
METRICS = ["antecedent support", "consequent support", "support", "confidence", "lift",
           "leverage", "conviction", "zhangs_metric", "jaccard", "certainty", "kulczynski"]


def extract(arff):
    """Writes the baskets (one line each: the ids of its departments, ascending) and the
    item names from Weka's supermarket.arff. Item id = the attribute's position, from 1;
    the last attribute, `total` (low/high spend), is not an item."""
    names, rows, in_data = [], [], False
    with open(arff, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("%"):
                continue
            if in_data:
                rows.append(line.split(","))
            elif line.lower().startswith("@attribute"):
                names.append(re.match(r"@attribute\s+'([^']*)'", line, re.I).group(1))
            elif line.lower().startswith("@data"):
                in_data = True
    assert names[-1] == "total" and all(len(r) == len(names) for r in rows)
    with open(ITEMS, "w", encoding="utf-8", newline="\n") as f:
        f.write("item,name\n")
        for i, n in enumerate(names[:-1], start=1):
            f.write(f'{i},"{n}"\n')
    with open(BASKETS, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(" ".join(str(i) for i, v in enumerate(r[:-1], start=1) if v == "t") + "\n")
    print(f"{len(rows)} baskets, {len(names) - 1} items -> {BASKETS}")


def read_baskets():
    with open(BASKETS, encoding="utf-8") as f:
        return [[int(x) for x in line.split()] for line in f]


def ids(itemset):
    return " ".join(str(i) for i in sorted(itemset))


def num(x):
    x = float(x)
    return "inf" if x == float("inf") else repr(x)


# Small cases for mlxtend's edge behaviour (the same baskets as in src/basket/tests.rs): five
# baskets with rules of confidence 1 (conviction inf), and an item in every basket (Zhang's
# denominator 0, certainty's denominator 0).
EDGE_CASES = {
    "five": [[1, 2, 3], [2, 1], [3, 1, 1], [4, 2], [1, 2, 3, 4]],
    "everywhere": [[9, 1], [9], [9, 1], [9]],
}
EDGE_SUPPORT = {"five": 0.4, "everywhere": 0.5}


def rules_of(baskets, min_support):
    """mlxtend's itemsets and rules (metric confidence, threshold 0) for a list of baskets."""
    import numpy as np
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    items = sorted({i for b in baskets for i in b})
    col = {i: j for j, i in enumerate(items)}
    onehot = np.zeros((len(baskets), len(items)), dtype=bool)
    for r, b in enumerate(baskets):
        for i in b:
            onehot[r, col[i]] = True
    df = pd.DataFrame(onehot, columns=items)
    fi = fpgrowth(df, min_support=min_support, use_colnames=True)
    return fi, association_rules(fi, metric="confidence", min_threshold=0.0)


def write_rules(path, rules, case=None):
    values = rules[METRICS].to_numpy(dtype=float)
    out = sorted(((sorted(a), sorted(c)), list(v))
                 for a, c, v in zip(rules["antecedents"], rules["consequents"], values))
    with open(path, "w", newline="\n") as f:
        f.write(("case," if case else "") + "antecedents,consequents,"
                + ",".join(m.replace(" ", "_") for m in METRICS) + "\n")
        for (ant, con), vals in out:
            f.write((f"{case}," if case else "") + f"{ids(ant)},{ids(con)},"
                    + ",".join(num(v) for v in vals) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--extract", metavar="ARFF", help="rebuild the data file from Weka's supermarket.arff")
    a = ap.parse_args()
    if a.extract:
        extract(a.extract)

    import mlxtend
    import numpy as np
    import pandas as pd

    baskets = read_baskets()
    n = len(baskets)
    print(f"mlxtend {mlxtend.__version__}, pandas {pd.__version__}, numpy {np.__version__}; "
          f"{n} baskets, {len({i for b in baskets for i in b})} items")

    for s in SUPPORTS:
        tag = f"s{round(s * 100):03d}"
        t = time.perf_counter()
        fi, rules = rules_of(baskets, s)
        elapsed = time.perf_counter() - t
        rows = sorted(((len(x), sorted(x), sup) for x, sup in zip(fi["itemsets"], fi["support"])))
        with open(os.path.join(OUT, f"itemsets_{tag}.csv"), "w", newline="\n") as f:
            f.write("itemset,count,support\n")
            for _, x, sup in rows:
                f.write(f"{ids(x)},{round(sup * n)},{num(sup)}\n")
        if s in RULE_SUPPORTS:
            write_rules(os.path.join(OUT, f"rules_{tag}.csv"), rules)
        print(f"min_support {s}: {len(fi)} itemsets (longest {max(len(x) for x in fi['itemsets'])}), "
              f"{len(rules)} rules, {elapsed:.2f} s")

    path = os.path.join(OUT, "rules_edge.csv")
    parts = []
    for case, b in EDGE_CASES.items():
        _, rules = rules_of(b, EDGE_SUPPORT[case])
        tmp = path + "." + case
        write_rules(tmp, rules, case)
        with open(tmp) as f:
            lines = f.read().splitlines()
        os.remove(tmp)
        parts.extend(lines if not parts else lines[1:])
    with open(path, "w", newline="\n") as f:
        f.write("\n".join(parts) + "\n")
    print(f"edge cases: {len(parts) - 1} rules -> {path}")


if __name__ == "__main__":
    main()
