#!/usr/bin/env python3
"""Runs clientele's ingest and report jobs beside DuckDB on the same generated orders and
prints wall time, peak memory and whether both sides computed the same numbers.

Run it through bench/run.sh, which makes the virtualenv (duckdb, psutil) and builds the
release binary. Stdlib + duckdb + psutil only; it installs nothing itself.

Jobs (the same answer on both sides; bench/README.md spells out the semantics):
  ingest  clientele ingest DIR            vs DuckDB read_csv (explicit types) + COPY TO Parquet
  kpis    clientele report kpis 2025-Q4   vs DuckDB SQL for the order KPIs of Q4 and Q3 2025
  sales   clientele report sales by month vs DuckDB GROUP BY month with share and LAG growth

Every run is a separate process on both sides (DuckDB runs in a child Python), so wall time
includes process start-up and peak RSS is measured the same way for both.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psutil

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"

RATIO_TARGET = 1.5
RSS_TARGET_MB = 4096
REL_TOL = 1e-6

YEAR_FROM, YEAR_TO = "2025-01-01", "2025-12-31"
PERIODS = {  # label -> (first day, last day); Q4 is the period, Q3 the previous, Q2 Q3's base
    "2025-Q4": ("2025-10-01", "2025-12-31"),
    "2025-Q3": ("2025-07-01", "2025-09-30"),
    "2025-Q2": ("2025-04-01", "2025-06-30"),
}

CSV_COLUMNS = {
    "order_id": "VARCHAR",
    "customer_id": "VARCHAR",
    "order_date": "DATE",
    "total_amount": "DOUBLE",
    "status": "VARCHAR",
    "channel": "VARCHAR",
    "region": "VARCHAR",
    "sales_rep_id": "VARCHAR",
    "campaign_id": "VARCHAR",
}

# ---------------------------------------------------------------------------------------------
# Data


def generate(rows: int, dest: Path) -> Path:
    """Writes dest/orders.csv with `rows` orders, deterministically (pure integer arithmetic,
    no RNG state, so the same N gives the same file on any DuckDB version and thread count).

    Order dates are uniform over 2023-01-01..2025-12-31 (1096 days); customer k is acquired on
    day ~k/customers*1096 and an order on day d goes to one of the customers acquired by then,
    so the customer base grows steadily, every quarter has new customers and ~91 % of the
    rows/10 customer ids end up with orders. Amounts 5.00-500.00; status ~3 %
    cancelled, ~4 % returned, the rest split between 'completed' and empty; ~40 % of orders
    have no campaign_id."""
    path = dest / "orders.csv"
    if path.exists() and (dest / "ROWS").exists() and (dest / "ROWS").read_text().strip() == str(rows):
        return path
    dest.mkdir(parents=True, exist_ok=True)
    customers = max(rows // 10, 1)
    p = 2147483647  # 2^31 - 1; x*x stays within BIGINT
    tmp = dest / "orders.csv.tmp"
    con = duckdb.connect()
    con.execute("SET threads=2")
    # u0..u7: a quadratic-map chain seeded from the row number: cheap, stateless, not linear
    # in i, so the columns are not correlated with each other in any visible way.
    sql = f"""
    COPY (
      WITH a AS (
        SELECT i, (((i * 48271 + 12345) % {p}) * ((i * 48271 + 12345) % {p}) + 7) % {p} AS u0
        FROM range({rows}) t(i)),
      b AS (SELECT i, u0, (u0 * u0 + 1) % {p} AS u1 FROM a),
      c AS (SELECT i, u0, u1, (u1 * u1 + 1) % {p} AS u2 FROM b),
      d AS (SELECT *, (u2 * u2 + 1) % {p} AS u3 FROM c),
      e AS (SELECT *, (u3 * u3 + 1) % {p} AS u4 FROM d),
      f AS (SELECT *, (u4 * u4 + 1) % {p} AS u5 FROM e),
      g AS (SELECT *, u1 % 1096 AS day FROM f),
      h AS (SELECT *, u0 % greatest(1, ({customers} * (day + 1)) // 1096) AS cust FROM g)
      SELECT
        'O' || lpad(CAST(i AS VARCHAR), 10, '0') AS order_id,
        'C' || lpad(CAST(cust AS VARCHAR), 8, '0') AS customer_id,
        strftime(DATE '2023-01-01' + CAST(day AS INTEGER), '%Y-%m-%d') AS order_date,
        CAST(CAST(500 + u2 % 49501 AS DECIMAL(12, 0)) / 100 AS DECIMAL(12, 2)) AS total_amount,
        CASE WHEN u3 % 100 < 3 THEN 'cancelled' WHEN u3 % 100 < 7 THEN 'returned'
             WHEN u3 % 100 < 55 THEN 'completed' ELSE NULL END AS status,
        ['web', 'store', 'phone', 'partner', 'marketplace'][1 + u4 % 5] AS channel,
        ['north', 'south', 'east', 'west', 'central', 'online'][1 + u5 % 6] AS region,
        'R' || lpad(CAST(u4 % 60 AS VARCHAR), 3, '0') AS sales_rep_id,
        CASE WHEN u5 % 10 < 4 THEN NULL ELSE 'CMP' || lpad(CAST(u5 % 24 AS VARCHAR), 2, '0') END AS campaign_id
      FROM h ORDER BY i
    ) TO '{tmp}' (FORMAT csv, HEADER, DELIMITER ',')
    """
    t = time.perf_counter()
    con.execute(sql)
    con.close()
    tmp.rename(path)
    (dest / "ROWS").write_text(f"{rows}\n")
    print(f"generated {path} ({rows:,} rows, {path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t:.1f} s",
          file=sys.stderr)
    return path


# ---------------------------------------------------------------------------------------------
# DuckDB side: each job is a small script run in a child Python so that its start-up, wall
# time and peak RSS are measured exactly like clientele's.

DUCKDB_WORKER = r"""
import json, sys, duckdb
job = json.loads(sys.argv[1])
con = duckdb.connect()
con.execute("SET threads=%d" % job["threads"])
con.execute("SET enable_progress_bar = false")  # it would print to stdout on long queries
for s in job["before"]:
    con.execute(s)
cur = con.execute(job["sql"])
out = None
if job["fetch"]:
    out = {"columns": [d[0] for d in cur.description], "rows": cur.fetchall()}
for s in job["after"]:
    con.execute(s)
if out is not None:
    json.dump(out, sys.stdout, default=str)
"""


def duckdb_ingest_sql(csv_path: Path, out_dir: Path) -> str:
    cols = ", ".join(f"'{k}': '{v}'" for k, v in CSV_COLUMNS.items())
    return (
        f"COPY (SELECT * FROM read_csv('{csv_path}', header = true, delim = ',', quote = '\"', "
        f"auto_detect = false, dateformat = '%Y-%m-%d', columns = {{{cols}}})) "
        f"TO '{out_dir / 'orders.parquet'}' (FORMAT parquet, COMPRESSION snappy)"
    )


def duckdb_checked_ingest(csv_path: Path, out_dir: Path) -> tuple[list[str], str, list[str]]:
    """DuckDB ingest that also makes the value checks clientele's ingest makes beyond typing:
    required columns present, amount non-negative, status in its domain, order_id unique.
    (before statements, the check query whose counts must all be 0, after statements)."""
    cols = ", ".join(f"'{k}': '{v}'" for k, v in CSV_COLUMNS.items())
    create = (
        f"CREATE TABLE o AS SELECT * FROM read_csv('{csv_path}', header = true, delim = ',', quote = '\"', "
        f"auto_detect = false, dateformat = '%Y-%m-%d', columns = {{{cols}}})"
    )
    check = """
    SELECT
      COUNT(*) FILTER (WHERE order_id IS NULL OR customer_id IS NULL OR order_date IS NULL
                             OR total_amount IS NULL) AS missing_required,
      COUNT(*) FILTER (WHERE total_amount < 0) AS negative_amount,
      COUNT(*) FILTER (WHERE status IS NOT NULL AND status NOT IN ('completed', 'cancelled', 'returned')) AS bad_status,
      COUNT(*) - COUNT(DISTINCT order_id) AS duplicate_order_id
    FROM o"""
    copy = f"COPY o TO '{out_dir / 'orders.parquet'}' (FORMAT parquet, COMPRESSION snappy)"
    return [create], check, [copy]


def sales_cte(parquet_glob: str) -> str:
    # Completed = status empty (NULL after read_csv) or 'completed'.
    return (
        f"s AS (SELECT order_id, customer_id, order_date, total_amount FROM read_parquet('{parquet_glob}') "
        f"WHERE status IS NULL OR status = '' OR status = 'completed')"
    )


def duckdb_kpis_reference_sql(parquet_glob: str) -> str:
    """Order KPIs for 2025-Q4 and 2025-Q3, written independently of clientele's query: one
    aggregate per figure, joined on the period label. Clear but about twice as slow in DuckDB
    as the single pass below, so it is the cross-check, not the timed query."""
    values = ", ".join(
        f"('{label}', DATE '{f}', DATE '{t}', '{prev}')"
        for (label, (f, t)), prev in zip(PERIODS.items(), ["2025-Q3", "2025-Q2", ""])
    )
    return f"""
    WITH {sales_cte(parquet_glob)},
    per(label, f, t, prev) AS (VALUES {values}),
    agg AS (
      SELECT p.label, SUM(s.total_amount) AS revenue, COUNT(*) AS orders,
             COUNT(DISTINCT s.customer_id) AS active
      FROM s JOIN per p ON s.order_date BETWEEN p.f AND p.t GROUP BY p.label),
    firsts AS (SELECT customer_id, MIN(order_date) AS first_date FROM s GROUP BY customer_id),
    newc AS (
      SELECT p.label, COUNT(*) AS new_customers
      FROM firsts JOIN per p ON firsts.first_date BETWEEN p.f AND p.t GROUP BY p.label),
    act AS (SELECT DISTINCT p.label, s.customer_id FROM s JOIN per p ON s.order_date BETWEEN p.f AND p.t),
    ret AS (
      SELECT p.label, COUNT(c.customer_id) AS retained, COUNT(*) AS base
      FROM per p JOIN act b ON b.label = p.prev
      LEFT JOIN act c ON c.label = p.label AND c.customer_id = b.customer_id
      GROUP BY p.label),
    td AS (
      SELECT p.label, SUM(s.total_amount) AS revenue_to_date, COUNT(DISTINCT s.customer_id) AS customers_to_date
      FROM s JOIN per p ON s.order_date <= p.t WHERE p.prev <> '' GROUP BY p.label)
    SELECT p.label, a.revenue, a.orders, a.active, COALESCE(n.new_customers, 0) AS new_customers,
           r.retained, r.base, td.revenue_to_date, td.customers_to_date
    FROM per p JOIN agg a USING (label) LEFT JOIN newc n USING (label) LEFT JOIN ret r USING (label)
    JOIN td USING (label)
    ORDER BY p.label DESC
    """


def duckdb_kpis_sql(parquet_glob: str) -> str:
    """The timed DuckDB KPI query: the fastest formulation found (one pass that groups the
    sales by customer with per-period flags and sums, then sums those), so the ratio is
    against DuckDB at its best. Same output shape as the reference query."""
    (q4f, q4t), (q3f, q3t), (q2f, q2t) = PERIODS["2025-Q4"], PERIODS["2025-Q3"], PERIODS["2025-Q2"]

    def within(f: str, t: str, e: str = "order_date") -> str:
        return f"{e} BETWEEN DATE '{f}' AND DATE '{t}'"

    def flag(f: str, t: str) -> str:
        return f"MAX(CASE WHEN {within(f, t)} THEN 1 ELSE 0 END)"

    def total(f: str, t: str, e: str) -> str:
        return f"SUM(CASE WHEN {within(f, t)} THEN {e} ELSE 0 END)"

    return f"""
    WITH {sales_cte(parquet_glob)},
    c AS MATERIALIZED (
      SELECT customer_id, MIN(order_date) AS first_date,
             {flag(q2f, q2t)} AS a2, {flag(q3f, q3t)} AS a3, {flag(q4f, q4t)} AS a4,
             {total(q3f, q3t, 'total_amount')} AS r3, {total(q4f, q4t, 'total_amount')} AS r4,
             {total(q3f, q3t, '1')} AS n3, {total(q4f, q4t, '1')} AS n4,
             SUM(CASE WHEN order_date <= DATE '{q3t}' THEN total_amount ELSE 0 END) AS td3,
             SUM(total_amount) AS td4
      FROM s WHERE order_date <= DATE '{q4t}' GROUP BY customer_id)
    SELECT '2025-Q4' AS label, SUM(r4) AS revenue, SUM(n4) AS orders, SUM(a4) AS active,
           COUNT(*) FILTER (WHERE {within(q4f, q4t, 'first_date')}) AS new_customers,
           SUM(a3 * a4) AS retained, SUM(a3) AS base, SUM(td4) AS revenue_to_date,
           COUNT(*) AS customers_to_date
    FROM c
    UNION ALL
    SELECT '2025-Q3', SUM(r3), SUM(n3), SUM(a3),
           COUNT(*) FILTER (WHERE {within(q3f, q3t, 'first_date')}),
           SUM(a2 * a3), SUM(a2), SUM(td3), COUNT(*) FILTER (WHERE first_date <= DATE '{q3t}')
    FROM c
    ORDER BY label DESC
    """


def duckdb_sales_sql(parquet_glob: str) -> str:
    """Sales by month over 2025: revenue, orders, distinct customers, share of the year's
    revenue, growth against the previous month (LAG)."""
    return f"""
    WITH {sales_cte(parquet_glob)},
    m AS (
      SELECT date_trunc('month', order_date) AS k, SUM(total_amount) AS revenue,
             COUNT(DISTINCT order_id) AS orders, COUNT(DISTINCT customer_id) AS customers
      FROM s WHERE order_date BETWEEN DATE '{YEAR_FROM}' AND DATE '{YEAR_TO}' GROUP BY 1)
    SELECT strftime(k, '%Y-%m') AS period, revenue, orders, customers,
           revenue / SUM(revenue) OVER () AS share,
           LAG(revenue) OVER (ORDER BY k) AS previous_revenue,
           (revenue - LAG(revenue) OVER (ORDER BY k)) / LAG(revenue) OVER (ORDER BY k) AS growth
    FROM m ORDER BY k
    """


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Run:
    seconds: float
    rss_mb: float
    stdout: str


def have_gnu_time() -> bool:
    if not os.path.exists("/usr/bin/time"):
        return False
    r = subprocess.run(["/usr/bin/time", "-v", "true"], capture_output=True, text=True)
    return r.returncode == 0 and "Maximum resident set size" in r.stderr


USE_GNU_TIME = False  # set in main()


def measure(cmd: list[str], timeout: float) -> Run:
    """Runs cmd, returns wall seconds, peak RSS (MB) and stdout. Peak RSS comes from GNU
    time -v when present (kernel's maxrss of the child), else from psutil polling of the
    child and its children every 20 ms."""
    if USE_GNU_TIME:
        full = ["/usr/bin/time", "-v", *cmd]
        t = time.perf_counter()
        r = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
        secs = time.perf_counter() - t
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
        if r.returncode != 0 or not m:
            raise RuntimeError(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-4000:]}")
        return Run(secs, int(m.group(1)) / 1024, r.stdout)
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    out_chunks: list[str] = []
    import threading

    def drain(stream, sink):
        sink.append(stream.read())

    err_chunks: list[str] = []
    threads = [threading.Thread(target=drain, args=(proc.stdout, out_chunks)),
               threading.Thread(target=drain, args=(proc.stderr, err_chunks))]
    for th in threads:
        th.start()
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        if time.perf_counter() - t > timeout:
            proc.kill()
            raise RuntimeError(f"timed out after {timeout} s: {' '.join(cmd)}")
        time.sleep(0.02)
    secs = time.perf_counter() - t
    for th in threads:
        th.join()
    if proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{''.join(err_chunks)[-4000:]}")
    return Run(secs, peak / 2**20, "".join(out_chunks))


def duckdb_cmd(sql: str, threads: int, fetch: bool, before: list[str] | None = None,
               after: list[str] | None = None) -> list[str]:
    job = {"sql": sql, "threads": threads, "fetch": fetch, "before": before or [], "after": after or []}
    return [sys.executable, "-c", DUCKDB_WORKER, json.dumps(job)]


# ---------------------------------------------------------------------------------------------
# Correctness


def close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b), 1e-12)


def num(s: str | None):
    return None if s is None or s.strip() == "" else float(s)


def check_kpis(clientele_csv: str, duck: dict) -> list[str]:
    """Compares clientele's KPI rows (value = Q4, previous = Q3) with DuckDB's figures.
    Returns the mismatches, empty when everything agrees."""
    rows = {r["kpi"]: r for r in csv.DictReader(io.StringIO(clientele_csv))}
    cols = duck["columns"]
    d = {r[0]: dict(zip(cols, r)) for r in duck["rows"]}
    bad = []

    def expect(kpi: str, label: str, value):
        if kpi not in rows:
            bad.append(f"{kpi}: missing from clientele's output")
            return
        col = "value" if label == "2025-Q4" else "previous"
        got = num(rows[kpi][col])
        if not close(got, value):
            bad.append(f"{kpi} {label}: clientele {got!r} vs duckdb {value!r}")

    for label in ("2025-Q4", "2025-Q3"):
        x = d[label]
        rev, orders, active = x["revenue"], x["orders"], x["active"]
        expect("sales_revenue", label, rev)
        expect("orders", label, orders)
        expect("active_customers", label, active)
        expect("new_customers", label, x["new_customers"])
        expect("average_purchase_value", label, rev / orders if orders else None)
        expect("purchase_frequency", label, orders / active if active else None)
        expect("arpu", label, rev / active if active else None)
        base = x["base"]
        retention = x["retained"] / base if base else None
        expect("retention_rate", label, retention)
        expect("churn_rate", label, None if retention is None else 1 - retention)
        ctd = x["customers_to_date"]
        expect("historical_cltv", label, x["revenue_to_date"] / ctd if ctd else None)
    return bad


def check_sales(clientele_csv: str, duck: dict) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(clientele_csv)))
    cols = duck["columns"]
    drows = [dict(zip(cols, r)) for r in duck["rows"]]
    bad = []
    if len(rows) != len(drows):
        bad.append(f"row count: clientele {len(rows)} vs duckdb {len(drows)}")
    for c, d in zip(rows, drows):
        if c["period"] != d["period"]:
            bad.append(f"period label: clientele {c['period']!r} vs duckdb {d['period']!r}")
            continue
        for k in ("revenue", "orders", "customers", "share", "previous_revenue", "growth"):
            if not close(num(c.get(k)), d[k]):
                bad.append(f"{d['period']} {k}: clientele {c.get(k)!r} vs duckdb {d[k]!r}")
    return bad


# ---------------------------------------------------------------------------------------------
# Jobs


@dataclass
class Result:
    job: str
    clientele: list[Run] = field(default_factory=list)
    duck: list[Run] = field(default_factory=list)
    check: str = "-"
    details: list[str] = field(default_factory=list)

    def med(self, side: list[Run]) -> float:
        return statistics.median(r.seconds for r in side)

    def peak(self, side: list[Run]) -> float:
        return max(r.rss_mb for r in side)


def fresh(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def run_jobs(args, csv_path: Path, bin_path: Path) -> list[Result]:
    work = DATA / f"runs-{args.rows}"
    src = csv_path.parent
    ws = work / "clientele-ws"
    duck_dir = work / "duckdb-parquet"
    glob = str(duck_dir / "*.parquet")
    timeout = args.timeout
    results: list[Result] = []
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731

    def ingest_clientele():
        fresh(ws)
        return measure([str(bin_path), "ingest", str(src), "--workspace", str(ws), "--format", "json"], timeout)

    def ingest_duck():
        fresh(duck_dir)
        duck_dir.mkdir(parents=True)
        return measure(duckdb_cmd(duckdb_ingest_sql(csv_path, duck_dir), args.threads, False), timeout)

    jobs = [j.strip() for j in args.jobs.split(",")]
    if "ingest" in jobs or not ws.exists() or not duck_dir.exists():
        r = Result("ingest")
        for i in range(args.repeat if "ingest" in jobs else 1):
            say(f"ingest: run {i + 1} (clientele)")
            r.clientele.append(ingest_clientele())
            say(f"ingest: run {i + 1} (duckdb)")
            r.duck.append(ingest_duck())
        if "ingest" in jobs:
            results.append(r)
        if "ingest" in jobs and "checked" in jobs:
            # The same clientele runs against a DuckDB ingest that also validates like clientele.
            c = Result("ingest, duckdb +checks", clientele=r.clientele)
            checked_dir = work / "duckdb-parquet-checked"
            before, check, after = duckdb_checked_ingest(csv_path, checked_dir)
            for i in range(args.repeat):
                say(f"ingest+checks: run {i + 1} (duckdb)")
                fresh(checked_dir)
                checked_dir.mkdir(parents=True)
                c.duck.append(measure(duckdb_cmd(check, args.threads, True, before, after), timeout))
            counts = json.loads(c.duck[-1].stdout)
            violations = dict(zip(counts["columns"], counts["rows"][0]))
            c.check = "MATCH" if not any(violations.values()) else "MISMATCH"
            if any(violations.values()):
                c.details.append(f"DuckDB found violations clientele accepted: {violations}")
            results.append(c)

    report_jobs = {
        "kpis": (["report", "kpis", "--period", "2025-Q4"], duckdb_kpis_sql(glob), check_kpis),
        "sales": (["report", "sales", "--by", "month", "--from", YEAR_FROM, "--to", YEAR_TO],
                  duckdb_sales_sql(glob), check_sales),
    }
    for name, (cargs, sql, checker) in report_jobs.items():
        if name not in jobs:
            continue
        r = Result(name)
        for i in range(args.repeat):
            say(f"{name}: run {i + 1} (clientele)")
            r.clientele.append(measure([str(bin_path), *cargs, "--workspace", str(ws), "--format", "csv"], timeout))
            say(f"{name}: run {i + 1} (duckdb)")
            r.duck.append(measure(duckdb_cmd(sql, args.threads, True), timeout))
        bad = checker(r.clientele[-1].stdout, json.loads(r.duck[-1].stdout))
        shown = [("duckdb query", sql, r.duck[-1].stdout)]
        if name == "kpis":
            # Cross-check, untimed: the independently written query must agree as well.
            say("kpis: reference query (duckdb, untimed)")
            ref_sql = duckdb_kpis_reference_sql(glob)
            ref = measure(duckdb_cmd(ref_sql, args.threads, True), timeout)
            bad += [f"(reference query) {b}" for b in checker(r.clientele[-1].stdout, json.loads(ref.stdout))]
            shown.append(("duckdb reference query", ref_sql, ref.stdout))
        r.check = "MISMATCH" if bad else "MATCH"
        r.details = bad
        if args.show_sql or bad:
            r.details.append("clientele output:\n" + r.clientele[-1].stdout)
            for title, q, out in shown:
                r.details.append(f"{title}:\n{q}")
                r.details.append(f"{title} output:\n{out}")
        results.append(r)

    if "startup" in jobs:
        # Process start-up floor of each side: a no-op run. Not a target, only to read the
        # small jobs' numbers with.
        r = Result("startup (no-op)")
        for _ in range(args.repeat):
            r.clientele.append(measure([str(bin_path), "--version"], timeout))
            r.duck.append(measure(duckdb_cmd("SELECT 1", args.threads, True), timeout))
        results.append(r)
    return results


# ---------------------------------------------------------------------------------------------
# Output

HEADER = ["job", "clientele s", "duckdb s", "ratio", "clientele MB", "duckdb MB", "check", "target", "result"]


def table_rows(results: list[Result]) -> list[list[str]]:
    out = []
    for r in results:
        cs, ds = r.med(r.clientele), r.med(r.duck)
        cm, dm = r.peak(r.clientele), r.peak(r.duck)
        ratio = cs / ds if ds > 0 else float("inf")
        if r.job.startswith("startup"):
            target, verdict = "-", "-"
        else:
            target = f"ratio <= {RATIO_TARGET}, RSS <= {RSS_TARGET_MB} MB"
            ok = ratio <= RATIO_TARGET and cm <= RSS_TARGET_MB and r.check != "MISMATCH"
            verdict = "pass" if ok else "FAIL"
        out.append([r.job, f"{cs:.2f}", f"{ds:.2f}", f"{ratio:.2f}", f"{cm:.0f}", f"{dm:.0f}", r.check, target, verdict])
    return out


def print_text(rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    print(line(HEADER))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))


def print_markdown(rows: list[list[str]]) -> None:
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join("---" for _ in HEADER) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = psutil.virtual_memory().total / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, "
            f"python {platform.python_version()}, duckdb {duckdb.__version__}")


def main() -> int:
    global USE_GNU_TIME
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="orders to generate (default 10,000,000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per job and side; the median time is shown")
    ap.add_argument("--jobs", default="ingest,checked,kpis,sales,startup",
                    help="comma-separated: ingest, checked (DuckDB ingest with clientele's checks), kpis, sales, startup (default all)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="DuckDB threads (default: cores)")
    ap.add_argument("--bin", type=Path, default=None, help="clientele binary (default target/release/clientele)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before one run is abandoned")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    ap.add_argument("--show-sql", action="store_true", help="print DuckDB's queries and both outputs")
    ap.add_argument("--rss", choices=["auto", "time", "psutil"], default="auto",
                    help="how to measure peak RSS: GNU time -v, psutil polling, or the first available")
    args = ap.parse_args()

    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    bin_path = (args.bin or target_dir / "release" / "clientele").resolve()
    if not bin_path.exists():
        print(f"no clientele binary at {bin_path}: run bench/run.sh (it builds it)", file=sys.stderr)
        return 2
    USE_GNU_TIME = {"auto": have_gnu_time(), "time": True, "psutil": False}[args.rss]

    csv_path = generate(args.rows, DATA / f"orders-{args.rows}")
    results = run_jobs(args, csv_path, bin_path)
    rows = table_rows(results)

    print(f"machine: {machine()}")
    print(f"data: {csv_path} ({args.rows:,} rows, {csv_path.stat().st_size / 1e6:,.0f} MB); "
          f"median of {args.repeat} runs; DuckDB threads={args.threads}; peak RSS via "
          f"{'GNU time -v' if USE_GNU_TIME else 'psutil polling (20 ms)'}")
    print()
    (print_markdown if args.markdown else print_text)(rows)
    print("\nevery run, seconds (clientele | duckdb):")
    for r in results:
        runs = lambda side: ", ".join(f"{x.seconds:.2f}" for x in side)  # noqa: E731
        print(f"  {r.job}: {runs(r.clientele)} | {runs(r.duck)}")
    failed = False
    for r in results:
        if r.details:
            print(f"\n{r.job}: {r.check}")
            for d in r.details:
                print("  " + d.replace("\n", "\n    "))
        failed |= r.check == "MISMATCH"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
