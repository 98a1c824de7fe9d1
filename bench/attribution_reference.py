"""Reference outputs for clientele_models::attribution from ChannelAttribution (PyPI).

Runs ChannelAttribution's heuristic_models and markov_model (orders 1 and 2, with values and
null paths, a large number of simulations and a fixed seed) on the example data set that
ChannelAttribution ships (Data.csv, copied into the fixture directory from the package's
source distribution), and writes CSVs next to it:

- heuristic.csv: channel_name, first_touch/last_touch/linear_touch conversions and values;
- markov_order{1,2}.csv: channel_name, total_conversions, total_conversion_value,
  removal_effects_conversion, removal_effects_conversion_value.

Usage (from the repository root):
    pip install ChannelAttribution==2.2.5 matplotlib
    python3 bench/attribution_reference.py
"""

import os
import sys

import pandas as pd
import ChannelAttribution as ca

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "clientele-models", "tests", "data", "attribution")
NSIM = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000_000


def main():
    data = pd.read_csv(os.path.join(OUT, "Data.csv"), sep=";")
    h = ca.heuristic_models(data, "path", "total_conversions",
                            var_value="total_conversion_value", flg_pro=False)
    h.to_csv(os.path.join(OUT, "heuristic.csv"), index=False, float_format="%.12g")
    for order in (1, 2):
        # One fold of NSIM simulated journeys (the package reports a single fold's result);
        # max_step far beyond the longest path so that truncation of simulated journeys,
        # which the package counts as non-conversions, is negligible.
        m = ca.markov_model(data, "path", "total_conversions",
                            var_value="total_conversion_value", var_null="total_null",
                            order=order, nsim_start=NSIM, max_step=1000, out_more=True,
                            nfold=1, seed=1, verbose=False, flg_pro=False)
        res = m["result"].merge(m["removal_effects"], on="channel_name")
        res.to_csv(os.path.join(OUT, f"markov_order{order}.csv"), index=False,
                   float_format="%.12g")
        print(res)


if __name__ == "__main__":
    main()
