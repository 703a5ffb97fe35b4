//! Records boots into a history database in a loop until killed, for the SIGKILL test
//! (tests/history_store.rs). After each record is committed it prints, flushed:
//!
//! ```text
//! <boot id> <recorded_us>
//! ```
//!
//! Every fourth record updates the boot recorded just before (a later
//! `recorded_us`) instead of adding one. The report and the diff facts are those
//! the `sb2-15-nixos` facts seed gives.
//!
//! Usage: `history-writer STATE_DIR [KEEP]` (KEEP: boots kept, default 1000000).
//! Exit 1 with a line on stderr when the history fails.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use surface_check::facts::Facts;
use surface_check::history::{BootRecord, DiffFacts, History};
use surface_check::profiles::SURFACE_BOOK_2;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: history-writer STATE_DIR [KEEP]");
        return ExitCode::from(2);
    };
    let keep = match args.next().map(|k| k.to_string_lossy().parse::<usize>()) {
        None => 1_000_000,
        Some(Ok(k)) => k,
        Some(Err(e)) => {
            eprintln!("history-writer: KEEP: {e}");
            return ExitCode::from(2);
        }
    };
    let facts = match Facts::from_json(include_bytes!("../fuzz/seeds/facts_json/sb2-15-nixos.json"))
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("history-writer: the facts seed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = surface_check::checks::diagnose(&facts, &SURFACE_BOOK_2, "history-writer");
    let diff_facts = DiffFacts::from_facts(&facts, &SURFACE_BOOK_2);
    let mut history = match History::open_with(&dir, keep) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("history-writer: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pid = std::process::id();
    let start = now_us();
    let mut out = std::io::stdout().lock();
    let mut last: Option<String> = None;
    for i in 0u64.. {
        let boot_id = match &last {
            Some(prev) if i % 4 == 3 => prev.clone(),
            _ => format!(
                "{pid:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                (start >> 16) & 0xffff,
                start & 0xfff,
                (i >> 48) & 0xfff,
                i & 0xffff_ffff_ffff
            ),
        };
        let rec = BootRecord {
            boot_id: boot_id.clone(),
            recorded_us: now_us(),
            kernel: format!("6.{}.{}-surface", 18 + i % 2, i % 10),
            generation: u32::try_from(40 + i % 5).ok(),
            report: report.clone(),
            facts: diff_facts.clone(),
        };
        if let Err(e) = history.record(&rec) {
            eprintln!("history-writer: recording {boot_id}: {e}");
            return ExitCode::FAILURE;
        }
        // One write per line: a line on stdout is a committed record.
        if writeln!(out, "{boot_id} {}", rec.recorded_us)
            .and_then(|()| out.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
        last = Some(boot_id);
    }
    ExitCode::SUCCESS
}
