//! Running an analysis from the terminal: the CLI face of every declaration in
//! `clientele_analytics::analyses`, built by walking the library's registry. The flags come
//! from the parameter struct, the spinner text and the store flags from the declaration.

use std::future::Future;
use std::io::IsTerminal;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::OnceLock;

use anyhow::Result;
use clap::{ArgMatches, Args, FromArgMatches};
use clientele_analytics::analyses::{self, Def, Params as _, Spec, Visitor};
use clientele_analytics::{Analysis, Engine};

use crate::args::{Globals, StoreArgs};
use crate::output::{self, Sink};

/// A run in progress: the engine it ran on and the result.
pub type Running<'a> = Pin<Box<dyn Future<Output = Result<(Engine, Analysis)>> + Send + 'a>>;

/// An analysis as the CLI sees it, its parameter type erased.
pub trait CliAnalysis: Send + Sync {
    /// Its declaration.
    fn def(&self) -> Def;
    /// Its subcommand: the last of its command words, its flags and its help.
    fn command(&self) -> clap::Command;
    /// Reads its parameters from the matches of its subcommand and runs it, on the
    /// workspace or, when the parameters name an input file, on a detached engine; returns
    /// the engine it ran on with the result.
    fn run<'a>(&'a self, g: &'a Globals, matches: &'a ArgMatches) -> Running<'a>;
}

struct Typed<S>(PhantomData<fn() -> S>);

impl<S: Spec> CliAnalysis for Typed<S> {
    fn def(&self) -> Def {
        S::DEF
    }

    fn command(&self) -> clap::Command {
        let def = S::DEF;
        let name = def.command.last().copied().unwrap_or(def.name);
        let mut cmd = S::Params::augment_args(clap::Command::new(name));
        if def.stores.is_some() {
            cmd = StoreArgs::augment_args(cmd);
        }
        // After the flags: `augment_args` sets the help text from the structs' doc comments.
        cmd.about(def.about)
            .long_about(format!("{}\n\n{}", def.about, def.long_about))
            .visible_aliases(def.aliases.iter().copied())
    }

    fn run<'a>(&'a self, g: &'a Globals, matches: &'a ArgMatches) -> Running<'a> {
        Box::pin(async move {
            let params = S::Params::from_arg_matches(matches)?;
            let engine = match params.input_file() {
                Some(_) => Engine::detached(g.engine_options()).await?,
                None => g.engine().await?,
            };
            let spinner = Spinner::start(S::DEF.progress);
            let result = analyses::run::<S>(&engine, &params).await?;
            drop(spinner);
            Ok((engine, result))
        })
    }
}

/// Every analysis of the library, in its order.
pub fn registry() -> &'static [&'static dyn CliAnalysis] {
    static REGISTRY: OnceLock<Vec<&'static dyn CliAnalysis>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        struct Collect(Vec<&'static dyn CliAnalysis>);
        impl Visitor for Collect {
            fn visit<S: Spec>(&mut self) {
                // A zero-sized value: leaking it allocates nothing.
                self.0.push(Box::leak(Box::new(Typed::<S>(PhantomData))));
            }
        }
        let mut c = Collect(Vec::new());
        analyses::visit(&mut c);
        c.0
    })
}

/// `clientele <analysis> …`: runs it with a spinner, prints it (or its per-customer rows) and
/// stores its per-customer results unless told not to.
pub async fn run(g: &Globals, analysis: &dyn CliAnalysis, matches: &ArgMatches) -> Result<()> {
    let def = analysis.def();
    let store = if def.stores.is_some() {
        Some(StoreArgs::from_arg_matches(matches)?)
    } else {
        None
    };
    let (engine, result) = analysis.run(g, matches).await?;
    let per_customer = store.as_ref().is_some_and(|s| s.customers);
    let mut sink = Sink::open(g.out.as_deref())?;
    output::write_analysis(sink.writer(), &result, g.format, per_customer)?;
    sink.commit()?;
    // A detached engine (an input file instead of the workspace) has nowhere to store.
    if store.is_some_and(|s| !s.no_save) && !engine.workspace().as_os_str().is_empty() {
        save(&engine, &result)?;
    }
    Ok(())
}

/// Stores an analysis's per-customer results and says where.
pub fn save(engine: &Engine, analysis: &Analysis) -> Result<()> {
    if let Some(table) = clientele_analytics::save(engine, analysis)? {
        let view = if table.starts_with("scores_") {
            " (joined into the customer_scores view)"
        } else {
            ""
        };
        eprintln!(
            "stored the per-row results in table {table} of {}{view}",
            engine.workspace().display()
        );
    }
    Ok(())
}

/// A spinner on stderr while a long analysis runs (nothing when stderr is not a terminal);
/// cleared when dropped.
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    /// Starts one saying `what`.
    pub fn start(what: &str) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("template"),
        );
        pb.set_message(what.to_string());
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner(Some(pb))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(pb) = self.0.take() {
            pb.finish_and_clear();
        }
    }
}
