//! End-to-end tests of the `clientele` binary: one test binary (each extra one re-links the
//! whole stack), each test in its own temporary folder. This file holds the harness; the
//! tests are in `cli/`, by what they exercise.

// In `cli/`, not beside this file: cargo would build each `tests/*.rs` as a test binary.
#[path = "cli/analyses.rs"]
mod analyses;
#[path = "cli/ingest.rs"]
mod ingest;
#[path = "cli/kpis.rs"]
mod kpis;
#[path = "cli/marketing.rs"]
mod marketing;
#[path = "cli/serve.rs"]
mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn ws(&self) -> PathBuf {
        self.path("ws")
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(
            std::env::var_os("CLIENTELE_TEST_BIN")
                .unwrap_or_else(|| env!("CARGO_BIN_EXE_clientele").into()),
        );
        c.arg("--workspace")
            .arg(self.ws())
            .args(args)
            .current_dir(self.dir.path());
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
    /// Starts `clientele serve` on a free port; returns the server and its address.
    fn serve(&self, extra: &[&str]) -> (Server, String) {
        use std::io::BufRead;
        let mut args = vec!["serve", "--bind", "127.0.0.1:0"];
        args.extend(extra);
        let mut child = self
            .cmd(&args)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap() > 0 {
            if let Some(rest) = line.split("http://").nth(1) {
                let addr = rest.split('/').next().unwrap().trim().to_string();
                // Keep reading the log so the server never blocks on a full pipe.
                std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
                return (Server(Some(child)), addr);
            }
            line.clear();
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server printed no address: {line}");
    }
    fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stderr).unwrap()
    }
}

/// A running `clientele serve`: stopped with SIGTERM by [`Server::stop`], and killed when a
/// failing test drops it, so no server outlives its test.
struct Server(Option<std::process::Child>);

impl Server {
    /// Asks the server to stop as Ctrl-C or an init system would, and waits for it.
    fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().unwrap();
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A GET over a plain socket (the server closes the connection after answering).
fn http_get(addr: &str, path: &str, token: Option<&str>) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let header = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The status and body of a GET.
fn http_json(addr: &str, path: &str) -> (u16, serde_json::Value) {
    let res = http_get(addr, path, None);
    let status = res[9..12].parse().unwrap();
    let body = res.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (
        status,
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {res}")),
    )
}

const ORDERS: &str = "order_id,customer_id,order_date,total_amount,status,region\n\
O1,C1,2025-01-10,100,completed,North\n\
O2,C2,2025-02-11,50.5,completed,South\n\
O3,C1,2025-03-12,20,cancelled,North\n\
O4,C3,2025-03-20,30,,South\n";

fn seeded() -> Env {
    let env = Env::new();
    env.write("src/orders.csv", ORDERS);
    env.write(
        "src/customers.csv",
        "customer_id,first_name,region\nC1,Ann,North\nC2,Bob,South\nC3,Cy,South\n",
    );
    env.ok(&["ingest", "src"]);
    env
}
