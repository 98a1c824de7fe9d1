//! The workspace on disk: Parquet files per table in a *generation* folder, and a manifest
//! naming the current generation. An ingest writes a new generation beside the old one and
//! switches by renaming the manifest, so an interrupted or failed ingest leaves the previous
//! workspace untouched.
//!
//! ```text
//! <workspace>/manifest.json
//! <workspace>/tables/g000003/orders/part-00000.parquet
//! <workspace>/tables/.staging-<pid>-<nanos>/…        (an ingest in progress)
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::IngestError;

/// File name of the manifest inside a workspace.
pub const MANIFEST: &str = "manifest.json";

/// What a workspace holds; written last by every ingest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// [`clientele_schema::SCHEMA_VERSION`] the workspace was written with.
    pub schema_version: u32,
    /// Increases with each ingest; names the folder under `tables/`.
    pub generation: u64,
    /// When the last ingest finished (RFC 3339, UTC).
    pub ingested_at: String,
    /// The tables present, by name: canonical tables and analysis outputs.
    pub tables: BTreeMap<String, TableEntry>,
    /// The analyses whose per-customer results are stored, by analysis name: when they ran,
    /// with which parameters, and which table holds the results.
    #[serde(default)]
    pub analyses: BTreeMap<String, AnalysisRun>,
}

/// One stored analysis result: what ran, when, and with which parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AnalysisRun {
    /// Analysis name (`clv`, `churn`, `segment_rfm` …).
    pub analysis: String,
    /// Table holding its per-customer results.
    pub table: String,
    /// When it ran (RFC 3339, UTC).
    pub ran_at: String,
    /// Its parameters as given or defaulted, as text.
    pub parameters: BTreeMap<String, String>,
    /// Rows stored.
    pub rows: u64,
}

/// One stored table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableEntry {
    /// Folder of the table's Parquet files, relative to the workspace.
    pub dir: String,
    /// Parquet files in `dir`.
    pub files: Vec<String>,
    /// Rows stored.
    pub rows: u64,
    /// Canonical columns the source provided (the others are stored as nulls).
    pub columns: Vec<String>,
    /// Extra source columns kept as they were.
    pub extra_columns: Vec<String>,
    /// Source files the rows came from.
    pub sources: Vec<String>,
    /// When this table was last written (RFC 3339, UTC).
    pub ingested_at: String,
}

impl Manifest {
    /// Reads the manifest of a workspace; `Ok(None)` when the folder holds no workspace yet.
    pub fn read(workspace: &Path) -> Result<Option<Manifest>, IngestError> {
        let path = workspace.join(MANIFEST);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(IngestError::Io { path, source: e }),
        };
        let m: Manifest = serde_json::from_str(&text).map_err(|e| IngestError::Workspace {
            path: path.clone(),
            message: format!("the manifest is not readable ({e})"),
        })?;
        if m.schema_version != clientele_schema::SCHEMA_VERSION {
            return Err(IngestError::Workspace {
                path,
                message: format!(
                    "the workspace was written with data model version {}, this clientele reads version {}; ingest the data again into a new workspace",
                    m.schema_version,
                    clientele_schema::SCHEMA_VERSION
                ),
            });
        }
        Ok(Some(m))
    }

    /// Absolute paths of a table's Parquet files.
    pub fn table_files(&self, workspace: &Path, table: &str) -> Vec<PathBuf> {
        self.tables
            .get(table)
            .map(|t| {
                t.files
                    .iter()
                    .map(|f| workspace.join(&t.dir).join(f))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// File that marks a workspace as being written by an ingest (holds the writer's pid).
pub const LOCK: &str = ".ingest.lock";

/// Exclusive right to write a workspace, released on drop. A lock left by a process that no
/// longer runs (killed mid-ingest) is taken over.
struct Lock(PathBuf);

impl Lock {
    fn acquire(workspace: &Path) -> Result<Lock, IngestError> {
        let path = workspace.join(LOCK);
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    use std::io::Write;
                    let _ = write!(f, "{}", std::process::id());
                    return Ok(Lock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if Path::new(&format!("/proc/{pid}")).exists() => {
                            return Err(IngestError::Workspace {
                                path: workspace.to_path_buf(),
                                message: format!(
                                    "another ingest (process {pid}) is writing this workspace; wait for it to finish"
                                ),
                            });
                        }
                        _ => {
                            let _ = fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(IngestError::Io { path, source: e }),
            }
        }
        Err(IngestError::Workspace {
            path: workspace.to_path_buf(),
            message: format!("cannot take the ingest lock {}", path.display()),
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// A generation being written. Dropping it without [`Staging::commit`] removes it.
pub struct Staging {
    _lock: Lock,
    workspace: PathBuf,
    dir: PathBuf,
    generation: u64,
    committed: bool,
}

impl Staging {
    /// Starts a new generation in `workspace` (created if missing), clearing leftovers of
    /// interrupted ingests first.
    /// Returns the staging area and the manifest it replaces, read under the lock so that no
    /// other ingest commits in between.
    pub fn begin(workspace: &Path) -> Result<(Staging, Option<Manifest>), IngestError> {
        let tables = workspace.join("tables");
        fs::create_dir_all(&tables).map_err(|e| IngestError::Io {
            path: tables.clone(),
            source: e,
        })?;
        let lock = Lock::acquire(workspace)?;
        let manifest = Manifest::read(workspace)?;
        let previous = manifest.as_ref();
        remove_unreferenced(workspace, previous);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = tables.join(format!(".staging-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| IngestError::Io {
            path: dir.clone(),
            source: e,
        })?;
        let staging = Staging {
            _lock: lock,
            workspace: workspace.to_path_buf(),
            dir,
            generation: previous.map_or(1, |m| m.generation + 1),
            committed: false,
        };
        Ok((staging, manifest))
    }

    /// Folder for a table's files inside the staging generation (created).
    pub fn table_dir(&self, table: &str) -> Result<PathBuf, IngestError> {
        let d = self.dir.join(table);
        fs::create_dir_all(&d).map_err(|e| IngestError::Io {
            path: d.clone(),
            source: e,
        })?;
        Ok(d)
    }

    /// The generation folder name this staging becomes, relative to the workspace.
    pub fn final_dir(&self) -> String {
        format!("tables/g{:06}", self.generation)
    }

    /// Links (or copies) the files of an unchanged table from the previous generation.
    pub fn carry_over(
        &self,
        workspace: &Path,
        table: &str,
        entry: &TableEntry,
    ) -> Result<(), IngestError> {
        let dst = self.table_dir(table)?;
        for f in &entry.files {
            let src = workspace.join(&entry.dir).join(f);
            let to = dst.join(f);
            if fs::hard_link(&src, &to).is_err() {
                fs::copy(&src, &to).map_err(|e| IngestError::Io {
                    path: src.clone(),
                    source: e,
                })?;
            }
        }
        Ok(())
    }

    /// Makes the staged generation current: rename it into place, then atomically replace
    /// the manifest, then delete the previous generation.
    pub fn commit(mut self, mut manifest: Manifest) -> Result<Manifest, IngestError> {
        let final_rel = self.final_dir();
        let final_abs = self.workspace.join(&final_rel);
        if final_abs.exists() {
            fs::remove_dir_all(&final_abs).map_err(|e| IngestError::Io {
                path: final_abs.clone(),
                source: e,
            })?;
        }
        sync_dir_tree(&self.dir);
        fs::rename(&self.dir, &final_abs).map_err(|e| IngestError::Io {
            path: final_abs.clone(),
            source: e,
        })?;
        self.committed = true;
        manifest.generation = self.generation;
        for (name, t) in manifest.tables.iter_mut() {
            t.dir = format!("{final_rel}/{name}");
        }
        let tmp = self.workspace.join(format!("{MANIFEST}.tmp"));
        let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
        write_synced(&tmp, text.as_bytes())?;
        let path = self.workspace.join(MANIFEST);
        fs::rename(&tmp, &path).map_err(|e| IngestError::Io { path, source: e })?;
        remove_unreferenced(&self.workspace, Some(&manifest));
        Ok(manifest)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Stores the per-row results of an analysis as table `run.table` in a new generation (all
/// other tables carried over), and records the run in the manifest. All or nothing, under the
/// same lock as an ingest. The table name must not be a canonical table's.
pub fn save_analysis(
    workspace: &Path,
    batches: &[arrow::array::RecordBatch],
    schema: arrow::datatypes::SchemaRef,
    run: AnalysisRun,
) -> Result<Manifest, IngestError> {
    if clientele_schema::table(&run.table).is_some() {
        return Err(IngestError::Usage(format!(
            "cannot store analysis results as `{}`: that is a data table",
            run.table
        )));
    }
    let (staging, previous) = Staging::begin(workspace)?;
    let Some(mut manifest) = previous else {
        return Err(IngestError::Usage(format!(
            "no workspace at {}: run `clientele demo` or `clientele ingest SOURCE` first",
            workspace.display()
        )));
    };
    for (name, entry) in &manifest.tables {
        if name != &run.table {
            staging.carry_over(workspace, name, entry)?;
        }
    }
    let file = "part-00000.parquet";
    let path = staging.table_dir(&run.table)?.join(file);
    let write_error = |e: parquet::errors::ParquetError| IngestError::Write {
        table: run.table.clone(),
        message: e.to_string(),
    };
    let f = fs::File::create(&path).map_err(|e| IngestError::Io {
        path: path.clone(),
        source: e,
    })?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(f, schema.clone(), Some(props))
        .map_err(write_error)?;
    for b in batches {
        writer.write(b).map_err(write_error)?;
    }
    writer.close().map_err(write_error)?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    manifest.tables.insert(
        run.table.clone(),
        TableEntry {
            dir: String::new(),
            files: vec![file.into()],
            rows,
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            extra_columns: Vec::new(),
            sources: vec![format!("analysis {}", run.analysis)],
            ingested_at: now.clone(),
        },
    );
    manifest.analyses.insert(
        run.analysis.clone(),
        AnalysisRun {
            ran_at: now,
            rows,
            ..run
        },
    );
    staging.commit(manifest)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), IngestError> {
    use std::io::Write;
    let io = |e| IngestError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let mut f = fs::File::create(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

fn sync_dir_tree(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            sync_dir_tree(&p);
        } else if let Ok(f) = fs::File::open(&p) {
            let _ = f.sync_all();
        }
    }
}

/// Removes generation and staging folders the manifest does not name: leftovers of an
/// interrupted ingest, or the generation a commit just replaced. Called with the ingest lock
/// held, so no other live process owns any of them. Failures are ignored since
/// the next ingest tries again.
fn remove_unreferenced(workspace: &Path, manifest: Option<&Manifest>) {
    let keep = manifest.map(|m| format!("g{:06}", m.generation));
    let Ok(rd) = fs::read_dir(workspace.join("tables")) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(".staging-") || name.starts_with('g');
        if ours && Some(&name) != keep.as_ref() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}
