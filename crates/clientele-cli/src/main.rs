//! `clientele`: the command-line program. It parses arguments (`args`), runs the command
//! (`commands`), prints results in the chosen format (`output`) and maps failures to exit
//! codes (`error`: 0 success, 1 runtime failure, 2 bad usage or bad input). Only this crate
//! knows about the terminal.

mod args;
mod commands;
mod error;
mod output;

/// mimalloc, as datafusion-cli uses: the analyses allocate and free large buffers phase after
/// phase, and mimalloc reuses their pages where the system allocator returns them to the
/// kernel and faults them in again (a tenth of `clv`'s time at a million customers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clientele_ingest::IngestError;

fn main() -> ExitCode {
    let (globals, invocation) = args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(globals, invocation)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if error::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(IngestError::Rejected(report)) = e.downcast_ref::<IngestError>() {
                commands::print_issues(report);
            }
            eprintln!("error: {}", error::render(&e));
            ExitCode::from(error::exit_code(&e))
        }
    }
}
