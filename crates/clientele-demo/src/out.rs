//! CSV output: one writer per file, each writing to `<name>.tmp` and renamed into place only
//! when every file of the company has been written, so a failed run leaves no half-written
//! table behind. Fields are written one at a time from a reused buffer: the generator writes
//! millions of rows and allocating a `String` per field would dominate its run time.
//!
//! May use: `calendar` (to format dates and timestamps).

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use clientele_schema::TABLES;

use crate::DemoError;
use crate::calendar::Calendar;

/// One CSV file being written.
pub(crate) struct Out {
    w: csv::Writer<File>,
    path: PathBuf,
    tmp: PathBuf,
    buf: String,
    columns: usize,
    fields: usize,
    rows: usize,
    err: Option<csv::Error>,
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

impl Out {
    /// Creates `<path>.tmp` and writes the header.
    pub(crate) fn create(path: PathBuf, header: &[&str]) -> Result<Out, DemoError> {
        let tmp = tmp_path(&path);
        let file = File::create(&tmp).map_err(|source| DemoError::Io {
            path: tmp.clone(),
            source,
        })?;
        let w = csv::WriterBuilder::new()
            .buffer_capacity(1 << 16)
            .from_writer(file);
        let mut out = Out {
            w,
            path,
            tmp,
            buf: String::new(),
            columns: header.len(),
            fields: 0,
            rows: 0,
            err: None,
        };
        for h in header {
            out.s(h);
        }
        out.end()?;
        out.rows = 0;
        Ok(out)
    }

    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.fields += 1;
        if self.err.is_none()
            && let Err(e) = self.w.write_field(bytes)
        {
            self.err = Some(e);
        }
        self
    }

    fn flush_buf(&mut self) -> &mut Self {
        let buf = std::mem::take(&mut self.buf);
        self.raw(buf.as_bytes());
        self.buf = buf;
        self
    }

    /// A text field.
    pub(crate) fn s(&mut self, v: &str) -> &mut Self {
        self.raw(v.as_bytes())
    }

    /// An empty (missing) field.
    pub(crate) fn empty(&mut self) -> &mut Self {
        self.raw(b"")
    }

    /// An optional text field.
    pub(crate) fn opt(&mut self, v: Option<&str>) -> &mut Self {
        self.raw(v.unwrap_or("").as_bytes())
    }

    /// An identifier: prefix and zero-padded number (`C000042`).
    pub(crate) fn id(&mut self, prefix: &str, n: usize, width: usize) -> &mut Self {
        self.buf.clear();
        let _ = write!(self.buf, "{prefix}{n:0width$}");
        self.flush_buf()
    }

    /// An optional identifier; `None` writes an empty field.
    pub(crate) fn opt_id(&mut self, prefix: &str, n: Option<usize>, width: usize) -> &mut Self {
        match n {
            Some(n) => self.id(prefix, n, width),
            None => self.empty(),
        }
    }

    /// A whole number.
    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        self.buf.clear();
        let _ = write!(self.buf, "{v}");
        self.flush_buf()
    }

    /// Money from whole cents, with two decimals.
    pub(crate) fn cents(&mut self, c: i64) -> &mut Self {
        self.buf.clear();
        let sign = if c < 0 { "-" } else { "" };
        let a = c.unsigned_abs();
        let _ = write!(self.buf, "{sign}{}.{:02}", a / 100, a % 100);
        self.flush_buf()
    }

    /// A real number with a fixed number of decimals.
    pub(crate) fn fixed(&mut self, v: f64, decimals: usize) -> &mut Self {
        self.buf.clear();
        let _ = write!(self.buf, "{v:.decimals$}");
        self.flush_buf()
    }

    /// `true` or `false`.
    pub(crate) fn bool(&mut self, b: bool) -> &mut Self {
        self.raw(if b { b"true" } else { b"false" })
    }

    /// A date of the period, by day index.
    pub(crate) fn day(&mut self, cal: &Calendar, day: i32) -> &mut Self {
        let t = cal.date_text(day).as_bytes();
        let mut b = [0u8; 10];
        b.copy_from_slice(&t[..10]);
        self.raw(&b)
    }

    /// An optional date of the period.
    pub(crate) fn opt_day(&mut self, cal: &Calendar, day: Option<i32>) -> &mut Self {
        match day {
            Some(d) => self.day(cal, d),
            None => self.empty(),
        }
    }

    /// Any calendar date (birth dates lie before the period).
    pub(crate) fn date(&mut self, d: chrono::NaiveDate) -> &mut Self {
        self.buf.clear();
        let _ = write!(self.buf, "{}", d.format("%Y-%m-%d"));
        self.flush_buf()
    }

    /// An optional calendar date.
    pub(crate) fn opt_date(&mut self, d: Option<chrono::NaiveDate>) -> &mut Self {
        match d {
            Some(d) => self.date(d),
            None => self.empty(),
        }
    }

    /// An optional whole number.
    pub(crate) fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(v),
            None => self.empty(),
        }
    }

    /// A timestamp given in seconds since the start of day 0.
    pub(crate) fn ts(&mut self, cal: &Calendar, secs: i64) -> &mut Self {
        let t = cal.timestamp_text(secs);
        self.raw(&t)
    }

    /// An optional timestamp.
    pub(crate) fn opt_ts(&mut self, cal: &Calendar, secs: Option<i64>) -> &mut Self {
        match secs {
            Some(s) => self.ts(cal, s),
            None => self.empty(),
        }
    }

    /// Ends the row. Write errors are kept until here so the row code stays one chain.
    pub(crate) fn end(&mut self) -> Result<(), DemoError> {
        debug_assert_eq!(
            self.fields,
            self.columns,
            "{}: wrong field count",
            self.path.display()
        );
        self.fields = 0;
        if self.err.is_none()
            && let Err(e) = self.w.write_record(None::<&[u8]>)
        {
            self.err = Some(e);
        }
        if let Some(source) = self.err.take() {
            return Err(DemoError::Csv {
                path: self.tmp.clone(),
                source,
            });
        }
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far, header excluded.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Flushes the temporary file; returns (temporary path, final path).
    fn close(mut self) -> Result<(PathBuf, PathBuf), DemoError> {
        self.w.flush().map_err(|source| DemoError::Io {
            path: self.tmp.clone(),
            source,
        })?;
        Ok((self.tmp, self.path))
    }
}

/// Positions of the canonical tables in [`TABLES`], looked up once by name.
pub(crate) struct Ix {
    pub customers: usize,
    pub products: usize,
    pub campaigns: usize,
    pub sales_reps: usize,
    pub orders: usize,
    pub order_items: usize,
    pub touchpoints: usize,
    pub experiments: usize,
    pub leads: usize,
    pub deals: usize,
    pub deal_stage_history: usize,
    pub tickets: usize,
    pub surveys: usize,
    pub web_sessions: usize,
    pub subscriptions: usize,
    pub marketing_spend: usize,
    pub kpi_targets: usize,
}

impl Ix {
    /// Finds every table the generator writes; fails if the canonical model lost one.
    pub(crate) fn new() -> Result<Ix, DemoError> {
        let f = |name: &str| {
            TABLES.iter().position(|t| t.name == name).ok_or_else(|| {
                DemoError::InvalidConfig(format!(
                    "the canonical model has no table named {name}; this generator needs updating"
                ))
            })
        };
        Ok(Ix {
            customers: f("customers")?,
            products: f("products")?,
            campaigns: f("campaigns")?,
            sales_reps: f("sales_reps")?,
            orders: f("orders")?,
            order_items: f("order_items")?,
            touchpoints: f("touchpoints")?,
            experiments: f("experiments")?,
            leads: f("leads")?,
            deals: f("deals")?,
            deal_stage_history: f("deal_stage_history")?,
            tickets: f("tickets")?,
            surveys: f("surveys")?,
            web_sessions: f("web_sessions")?,
            subscriptions: f("subscriptions")?,
            marketing_spend: f("marketing_spend")?,
            kpi_targets: f("kpi_targets")?,
        })
    }
}

/// The writers of every canonical table, in [`TABLES`] order, plus the ground-truth files.
pub(crate) struct Sinks {
    tables: Vec<Out>,
    /// `customers_truth.csv`.
    pub truth: Out,
    truth_json: PathBuf,
    /// Every temporary path created, for clean-up after a failure.
    created: Vec<PathBuf>,
}

/// Columns of `customers_truth.csv`.
pub(crate) const TRUTH_COLUMNS: &[&str] = &[
    "customer_id",
    "lambda",
    "p",
    "alive_at_end",
    "dropout_date",
    "mean_spend",
    "true_segment",
    "n_orders",
    "n_purchases",
];

impl Sinks {
    /// Opens `<data_dir>/<table>.csv.tmp` for every canonical table (header in canonical
    /// column order) and the truth files in `truth_dir`.
    pub(crate) fn open(data_dir: &Path, truth_dir: &Path) -> Result<Sinks, DemoError> {
        let mut created = Vec::new();
        let result = Self::open_all(data_dir, truth_dir, &mut created);
        if result.is_err() {
            for p in &created {
                let _ = fs::remove_file(p);
            }
        }
        result
    }

    fn open_all(
        data_dir: &Path,
        truth_dir: &Path,
        created: &mut Vec<PathBuf>,
    ) -> Result<Sinks, DemoError> {
        let mut tables = Vec::with_capacity(TABLES.len());
        for t in TABLES {
            let header: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
            let path = data_dir.join(format!("{}.csv", t.name));
            created.push(tmp_path(&path));
            tables.push(Out::create(path, &header)?);
        }
        let path = truth_dir.join("customers_truth.csv");
        created.push(tmp_path(&path));
        let truth = Out::create(path, TRUTH_COLUMNS)?;
        let truth_json = truth_dir.join("ground_truth.json");
        created.push(tmp_path(&truth_json));
        Ok(Sinks {
            tables,
            truth,
            truth_json,
            created: std::mem::take(created),
        })
    }

    /// The writer of the canonical table at `index` (see [`Ix`]).
    pub(crate) fn at(&mut self, index: usize) -> &mut Out {
        &mut self.tables[index]
    }

    /// Writers of several distinct tables at once.
    pub(crate) fn several<const N: usize>(
        &mut self,
        indices: [usize; N],
    ) -> Result<[&mut Out; N], DemoError> {
        self.tables.get_disjoint_mut(indices).map_err(|e| {
            DemoError::InvalidConfig(format!(
                "internal error: table writers requested twice ({e})"
            ))
        })
    }

    /// Rows written per table, in canonical order.
    pub(crate) fn counts(&self) -> Vec<(String, usize)> {
        TABLES
            .iter()
            .zip(&self.tables)
            .map(|(t, o)| (t.name.to_string(), o.rows()))
            .collect()
    }

    /// Writes the ground truth JSON, flushes everything and renames every file into place.
    pub(crate) fn commit(self, truth_json: &serde_json::Value) -> Result<(), DemoError> {
        let created = self.created.clone();
        let result = self.commit_inner(truth_json);
        if result.is_err() {
            for p in &created {
                let _ = fs::remove_file(p);
            }
        }
        result
    }

    fn commit_inner(self, truth_json: &serde_json::Value) -> Result<(), DemoError> {
        let json_tmp = tmp_path(&self.truth_json);
        let mut text = serde_json::to_string_pretty(truth_json).unwrap_or_default();
        text.push('\n');
        fs::write(&json_tmp, text).map_err(|source| DemoError::Io {
            path: json_tmp.clone(),
            source,
        })?;
        let mut moves = Vec::with_capacity(self.tables.len() + 2);
        for o in self.tables {
            moves.push(o.close()?);
        }
        moves.push(self.truth.close()?);
        moves.push((json_tmp, self.truth_json));
        for (tmp, path) in moves {
            fs::rename(&tmp, &path).map_err(|source| DemoError::Io {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Removes every temporary file after a failure (best effort).
    pub(crate) fn abandon(self) {
        let created = self.created.clone();
        drop(self);
        for p in &created {
            let _ = fs::remove_file(p);
        }
    }
}
