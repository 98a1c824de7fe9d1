//! Generates a demo company: `cargo run --release -p clientele-demo --example demo_generate --
//! CUSTOMERS SEED OUT_DIR`; writes `OUT_DIR/data` and `OUT_DIR/truth` and prints the row
//! counts and the time taken.

use std::path::PathBuf;
use std::time::Instant;

use clientele_demo::{DemoConfig, generate};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let customers = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let seed = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(42);
    let out = PathBuf::from(args.get(3).cloned().unwrap_or_else(|| "demo-out".into()));
    let config = DemoConfig {
        customers,
        seed,
        ..DemoConfig::default()
    };
    let t = Instant::now();
    match generate(
        &config,
        &out.join("data"),
        &out.join("truth"),
        &mut |_, _, _| {},
    ) {
        Ok(summary) => {
            for (table, rows) in &summary.tables {
                println!("{table:20} {rows:>10}");
            }
            println!(
                "{customers} customers in {:.2} s",
                t.elapsed().as_secs_f64()
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
