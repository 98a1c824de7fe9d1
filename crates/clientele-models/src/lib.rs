//! The statistical models behind clientele's customer intelligence.
//!
//! Pure numerics: every function takes plain slices or `ndarray` arrays and returns plain
//! results or a [`ModelError`]; reading tables and writing results is the caller's job.

use thiserror::Error;

pub mod abtest;
pub mod attribution;
pub mod basket;
pub mod btyd;
pub mod classify;
pub mod cluster;
pub mod forecast;
pub mod lifecycle;
pub mod metrics;
pub mod mmm;
pub mod pipeline;
pub mod rfm;
pub mod tabular;

/// Why a model could not be fitted or applied.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The data cannot support the model (too few rows, no repeat buyers, one class only…).
    #[error("{0}")]
    InsufficientData(String),
    /// The optimiser did not converge to a usable optimum.
    #[error("{0}")]
    NoConvergence(String),
    /// A parameter given by the caller is out of range.
    #[error("{0}")]
    BadParameter(String),
}

/// The `q` quantile of sorted values, linearly interpolated between order statistics
/// (numpy's default); NaN for no values.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Whether the scale tests (a million rows; minutes in a debug build) run: set
/// `CLIENTELE_SCALE_TESTS=1` and use a release build, as `bench/models.sh` does. They are
/// left out of the CI test run, which builds in debug.
#[cfg(test)]
pub(crate) fn scale_tests() -> bool {
    let on = std::env::var_os("CLIENTELE_SCALE_TESTS").is_some_and(|v| v != "0");
    if !on {
        eprintln!("scale test skipped: set CLIENTELE_SCALE_TESTS=1 and build in release");
    }
    on
}
