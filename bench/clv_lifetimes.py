#!/usr/bin/env python3
"""lifetimes (PyPI `lifetimes` 0.11.3) beside `clientele clv` on the same orders CSV.

Run by bench/clv.sh, which times clientele and passes its JSON output and times here:

    bench/.venv/bin/python bench/clv_lifetimes.py --orders WS/demo/source/orders.csv \
        [--clientele-json clv.json --clientele-times 4.1,4.0,4.2 --clientele-rss-mb 900] \
        [--clientele-customers customers.csv] [--out result.json]

The lifetimes side does, in one process and timed stage by stage:

1. read: `pd.read_csv` of customer_id, order_date, total_amount and status, keeping the
   completed orders (status `completed` or empty, as `clientele clv` reads the `sales` view);
2. summary: `summary_data_from_transaction_data(df, 'customer_id', 'order_date',
   monetary_value_col='total_amount', observation_period_end=<last order day>, freq='D',
   freq_multiplier=7)`. Orders on the same day are one transaction with their amounts added,
   x excludes the first transaction, recency and T are whole days since the first purchase
   divided by 7, and the monetary value is the mean of the repeat transactions: exactly
   clientele's definitions (crates/clientele-analytics/src/clv.rs). `freq='W'` would floor
   dates to whole weeks instead and so differ from clientele;
3. fit BG/NBD: `BetaGeoFitter().fit(frequency, recency, T)` (lifetimes also computes the
   Hessian for standard errors inside `fit`);
4. fit Gamma-Gamma: `GammaGammaFitter().fit(frequency, monetary_value)` on repeat buyers;
5. score everyone: `conditional_probability_alive`,
   `conditional_expected_number_of_purchases_up_to_time(52, ...)`,
   `conditional_expected_average_profit` and `customer_lifetime_value(bgf, ..., time=12,
   discount_rate=1.1**(1/12) - 1, freq='W')`.

lifetimes' CLV is not clientele's figure: it steps by months of 4.345 weeks (12 months =
52.14 weeks) and discounts each month's purchases at a monthly rate, whereas clientele steps
by weeks over 52 weeks and discounts each week at (1 + 10 %)^(1/52.18). The monthly rate
above is the same annual 10 %, so the two are close but not equal; the call is timed as
lifetimes' way of doing the job. For a like-for-like check, clientele's weekly definition is
also computed from lifetimes' `predict` (untimed) and compared per customer when
`--clientele-customers` (the output of `clientele clv --customers --format csv`) is given.

Parameters agree "to 3 significant digits" when they differ by at most half a unit in the
third significant digit of the larger value (|a − b| ≤ 0.5·10^(⌊log10 max(|a|,|b|)⌋ − 2)).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
import warnings

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

warnings.filterwarnings("ignore")
from lifetimes import BetaGeoFitter, GammaGammaFitter  # noqa: E402
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402

T_IMPORTED = time.perf_counter()

ANNUAL_DISCOUNT = 0.10
HORIZON_WEEKS = 52
WEEKS_PER_YEAR = 365.25 / 7.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def agree3(a: float, b: float) -> bool:
    m = max(abs(a), abs(b))
    if m == 0:
        return True
    return abs(a - b) <= 0.5 * 10 ** (math.floor(math.log10(m)) - 2)


def sig3(v: float) -> str:
    return f"{v:#.3g}"


def run_lifetimes(orders: str) -> dict:
    times = {}
    t = time.perf_counter()
    df = pd.read_csv(
        orders,
        usecols=["customer_id", "order_date", "total_amount", "status"],
        dtype={"customer_id": str, "order_date": str, "total_amount": float, "status": str},
    )
    df = df[df["status"].isna() | (df["status"] == "completed")]
    times["read"] = time.perf_counter() - t
    log(f"lifetimes: read {len(df):,} orders in {times['read']:.2f} s")

    t = time.perf_counter()
    end = df["order_date"].max()
    summary = summary_data_from_transaction_data(
        df,
        "customer_id",
        "order_date",
        monetary_value_col="total_amount",
        datetime_format="%Y-%m-%d",
        observation_period_end=end,
        freq="D",
        freq_multiplier=7,
    )
    times["summary"] = time.perf_counter() - t
    log(f"lifetimes: summary of {len(summary):,} customers in {times['summary']:.2f} s")
    del df

    f, r, T, m = (summary[c] for c in ("frequency", "recency", "T", "monetary_value"))

    t = time.perf_counter()
    bgf = BetaGeoFitter(penalizer_coef=0.0)
    bgf.fit(f, r, T)
    times["fit_bgnbd"] = time.perf_counter() - t
    log(f"lifetimes: BG/NBD fit in {times['fit_bgnbd']:.2f} s: {dict(bgf.params_)}")

    t = time.perf_counter()
    rep = f > 0
    ggf = GammaGammaFitter(penalizer_coef=0.0)
    ggf.fit(f[rep], m[rep])
    times["fit_gamma_gamma"] = time.perf_counter() - t
    log(f"lifetimes: Gamma-Gamma fit in {times['fit_gamma_gamma']:.2f} s: {dict(ggf.params_)}")

    t = time.perf_counter()
    p_alive = bgf.conditional_probability_alive(f, r, T)
    expected = bgf.conditional_expected_number_of_purchases_up_to_time(HORIZON_WEEKS, f, r, T)
    spend = ggf.conditional_expected_average_profit(f, m)
    monthly = (1 + ANNUAL_DISCOUNT) ** (1 / 12) - 1
    clv_lt = ggf.customer_lifetime_value(bgf, f, r, T, m, time=12, discount_rate=monthly, freq="W")
    times["score"] = time.perf_counter() - t
    log(f"lifetimes: scored {len(summary):,} customers in {times['score']:.2f} s")
    times["total"] = sum(times.values())

    # Untimed: lifetimes' predictions put through clientele's CLV definition (weekly steps).
    v = (1 + ANNUAL_DISCOUNT) ** (-1 / WEEKS_PER_YEAR)
    total = np.zeros(len(summary))
    prev = np.zeros(len(summary))
    factor = 1.0
    for i in range(1, HORIZON_WEEKS + 1):
        factor *= v
        e = np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(i, f, r, T))
        total += (e - prev) * factor
        prev = e
    clv_weekly = np.asarray(spend) * total

    # Log-likelihoods in clientele's units (unscaled weeks, summed over customers).
    fa, ra, Ta = (np.asarray(x, dtype=float) for x in (f, r, T))
    ones = np.ones(len(fa))

    def bg_ll(params: list[float]) -> float:
        return -len(fa) * BetaGeoFitter._negative_log_likelihood(
            np.log(params), fa.astype(int), ra, Ta, ones, 0.0
        )

    fr, mr = fa[np.asarray(rep)], np.asarray(m, dtype=float)[np.asarray(rep)]

    def gg_ll(params: list[float]) -> float:
        return -len(fr) * GammaGammaFitter._negative_log_likelihood(
            np.log(params), fr, mr, np.ones(len(fr)), 0.0
        )

    per_customer = pd.DataFrame(
        {
            "x": fa,
            "t_x": ra,
            "T": Ta,
            "p_alive": np.asarray(p_alive),
            "expected_purchases": np.asarray(expected),
            "expected_spend": np.asarray(spend),
            "clv_lifetimes_monthly": np.asarray(clv_lt),
            "clv_weekly": clv_weekly,
        },
        index=summary.index.astype(str),
    )
    return {
        "times": times,
        "n_customers": int(len(summary)),
        "n_repeat_buyers": int(rep.sum()),
        "calibration_end": str(end),
        "params": {k: float(bgf.params_[k]) for k in ("r", "alpha", "a", "b")},
        "std_errors": {k: float(bgf.standard_errors_[k]) for k in ("r", "alpha", "a", "b")},
        "spend": {
            "p": float(ggf.params_["p"]),
            "q": float(ggf.params_["q"]),
            "gamma": float(ggf.params_["v"]),
        },
        "spend_std_errors": {
            "p": float(ggf.standard_errors_["p"]),
            "q": float(ggf.standard_errors_["q"]),
            "gamma": float(ggf.standard_errors_["v"]),
        },
        "bg_ll": bg_ll,
        "gg_ll": gg_ll,
        "per_customer": per_customer,
        "mean_clv_lifetimes_monthly": float(np.mean(clv_lt)),
        "mean_clv_weekly": float(np.mean(clv_weekly)),
    }


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", required=True, help="orders CSV (demo/source/orders.csv)")
    ap.add_argument("--clientele-json", help="output of clientele clv --format json")
    ap.add_argument("--clientele-times", help="comma-separated wall seconds of the clientele runs")
    ap.add_argument("--clientele-rss-mb", type=float, help="clientele's highest peak RSS, MB")
    ap.add_argument("--clientele-customers", help="output of clientele clv --customers --format csv")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args()

    lt = run_lifetimes(args.orders)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = lt["times"]
    result = {
        "lifetimes": {
            k: v for k, v in lt.items() if k not in ("bg_ll", "gg_ll", "per_customer")
        },
        "lifetimes_import_seconds": T_IMPORTED - T_START,
        "lifetimes_peak_rss_mb_in_process": rss_mb,
    }
    print(f"\nlifetimes 0.11.3 on {lt['n_customers']:,} customers "
          f"({lt['n_repeat_buyers']:,} repeat buyers), calibration end {lt['calibration_end']}")
    print("| lifetimes stage | seconds |\n|---|---|")
    for k in ("read", "summary", "fit_bgnbd", "fit_gamma_gamma", "score", "total"):
        print(f"| {k} | {times[k]:.2f} |")
    print(f"(interpreter start-up and imports: {T_IMPORTED - T_START:.2f} s, not counted; "
          f"peak RSS {rss_mb:.0f} MB)")

    status = 0
    if args.clientele_json:
        with open(args.clientele_json) as fh:
            cl = json.load(fh)
        ct = [float(x) for x in args.clientele_times.split(",")] if args.clientele_times else []
        if ct:
            cmed = median(ct)
            print(f"\nclientele clv (whole command): median {cmed:.2f} s of {ct}"
                  + (f", peak RSS {args.clientele_rss_mb:.0f} MB" if args.clientele_rss_mb else ""))
            print(f"lifetimes read→score: {times['total']:.2f} s; ratio lifetimes / clientele = "
                  f"{times['total'] / cmed:.1f} (target ≥ 50)")
            result["clientele_times"] = ct
            result["clientele_median"] = cmed
            result["clientele_rss_mb"] = args.clientele_rss_mb
            result["ratio"] = times["total"] / cmed
        if cl.get("n_customers") != lt["n_customers"]:
            print(f"MISMATCH: n_customers clientele {cl.get('n_customers')} vs lifetimes {lt['n_customers']}")
            status = 1
        print("\n| parameter | clientele | lifetimes | rel. diff | clientele SE | lifetimes SE | 3 s.f. |")
        print("|---|---|---|---|---|---|---|")
        rows = [(k, cl["params"][k], lt["params"][k], (cl.get("std_errors") or {}).get(k), lt["std_errors"][k])
                for k in ("r", "alpha", "a", "b")]
        rows += [(f"spend {k}", cl["spend"][k], lt["spend"][k], (cl["spend"].get("std_errors") or {}).get(k),
                  lt["spend_std_errors"][k]) for k in ("p", "q", "gamma")]
        agreement = {}
        for name, a, b, sa, sb in rows:
            ok = agree3(a, b)
            agreement[name] = ok
            if not ok:
                status = 1
            rel = abs(a - b) / max(abs(a), abs(b))
            sa_s = f"{sa:.4g}" if sa is not None else "-"
            print(f"| {name} | {a:.6g} | {b:.6g} | {rel:.1e} | {sa_s} | {sb:.4g} | "
                  f"{'agree' if ok else 'DIFFER'} ({sig3(a)} vs {sig3(b)}) |")
        result["agree_3sf"] = agreement
        cp = cl["params"]
        ll_cl = lt["bg_ll"]([cp["r"], cp["alpha"], cp["a"], cp["b"]])
        ll_lt = lt["bg_ll"]([lt["params"][k] for k in ("r", "alpha", "a", "b")])
        sp = cl["spend"]
        gl_cl = lt["gg_ll"]([sp["p"], sp["q"], sp["gamma"]])
        gl_lt = lt["gg_ll"]([lt["spend"][k] for k in ("p", "q", "gamma")])
        print(f"\nBG/NBD log-likelihood (lifetimes' formula, weeks): at clientele's parameters {ll_cl:.4f}, "
              f"at lifetimes' {ll_lt:.4f} (clientele reports {cl.get('log_likelihood')})")
        print(f"Gamma-Gamma log-likelihood (lifetimes' formula): at clientele's parameters {gl_cl:.4f}, "
              f"at lifetimes' {gl_lt:.4f} (clientele reports {sp.get('log_likelihood')})")
        result["log_likelihood"] = {
            "bgnbd_at_clientele": ll_cl, "bgnbd_at_lifetimes": ll_lt,
            "bgnbd_clientele_reported": cl.get("log_likelihood"),
            "gg_at_clientele": gl_cl, "gg_at_lifetimes": gl_lt,
            "gg_clientele_reported": sp.get("log_likelihood"),
        }
    print(f"\nmean CLV per customer, lifetimes customer_lifetime_value (12 months of 4.345 weeks, "
          f"monthly discount): {lt['mean_clv_lifetimes_monthly']:.4f}; clientele's weekly definition "
          f"from lifetimes' predictions: {lt['mean_clv_weekly']:.4f}")

    if args.clientele_customers:
        c = pd.read_csv(args.clientele_customers, dtype={"customer_id": str}).set_index("customer_id")
        p = lt["per_customer"]
        joined = p.join(c, how="outer", rsuffix="_cl")
        missing = int(joined.isna().any(axis=1).sum())
        print(f"\nper customer, clientele vs lifetimes ({len(c):,} vs {len(p):,} rows, "
              f"{missing} without a partner):")
        pairs = [("x", "clv_repeat_purchases"), ("t_x", "clv_recency"), ("T", "clv_age"),
                 ("p_alive", "p_alive_cl"), ("expected_purchases", "expected_purchases_cl"),
                 ("expected_spend", "expected_spend_cl"), ("clv_weekly", "clv")]
        per = {}
        for lcol, ccol in pairs:
            a, b = joined[ccol].to_numpy(float), joined[lcol].to_numpy(float)
            d = np.abs(a - b)
            rel = d / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)
            per[lcol] = {"max_abs": float(np.nanmax(d)), "max_rel": float(np.nanmax(rel)),
                         "mean_clientele": float(np.nanmean(a)), "mean_lifetimes": float(np.nanmean(b))}
            print(f"  {lcol:20s} max |diff| {np.nanmax(d):.3e}, max rel {np.nanmax(rel):.3e}, "
                  f"mean clientele {np.nanmean(a):.6g} vs lifetimes {np.nanmean(b):.6g}")
        result["per_customer"] = per
        if missing:
            status = 1

    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)
    return status


if __name__ == "__main__":
    sys.exit(main())
