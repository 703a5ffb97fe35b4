//! Reads the clipboard-detach (DTX) event stream of the live machine for a while and
//! prints what arrives, one JSON object a line:
//!
//! ```text
//! {"event":{"kind":"request"},"text":"detach requested"}
//! {"event":{"kind":"latch_status","value":1},"text":"latch opened"}
//! {"end":"timeout"}                      after SECONDS without an error (exit 0)
//! {"error":"..."}                        the device refused or went away (exit 1)
//! ```
//!
//! Usage: `dtx-events SECONDS`. tests/umockdev.rs runs it against the emulated
//! device; on a Surface Book it needs read access to /dev/surface/dtx.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;
use surface_check::facts::dtx::DtxEvents;
use surface_check::root::Root;

fn main() -> std::process::ExitCode {
    let secs: f64 = match std::env::args().nth(1).map(|s| s.parse()) {
        Some(Ok(s)) if (0.0..=3600.0).contains(&s) => s,
        _ => {
            eprintln!("usage: dtx-events SECONDS (0 to 3600)");
            return std::process::ExitCode::from(2);
        }
    };
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut out = std::io::stdout().lock();
    let mut say = |v: serde_json::Value| {
        let _ = writeln!(out, "{v}");
        let _ = out.flush();
    };
    let root = match Root::open("/") {
        Ok(r) => r,
        Err(e) => {
            say(json!({ "error": e.to_string() }));
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut stream = match DtxEvents::open(&root) {
        Ok(s) => s,
        Err(e) => {
            say(json!({ "error": e.to_string() }));
            return std::process::ExitCode::FAILURE;
        }
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match stream.next(left) {
            Ok(events) => {
                for e in events {
                    say(json!({ "event": e, "text": e.to_string() }));
                }
            }
            Err(e) => {
                say(json!({ "error": e.to_string() }));
                return std::process::ExitCode::FAILURE;
            }
        }
        if left.is_zero() {
            say(json!({ "end": "timeout" }));
            return std::process::ExitCode::SUCCESS;
        }
    }
}
