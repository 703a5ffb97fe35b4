//! Hostile-input benchmark (issue 6, item 6): peak RSS and wall time of the real
//! binary on the hostile trees of `tests/bounds.rs`, against the healthy fixture
//! measured in the same run, rounds interleaved, reported as ratios.
//!
//! Targets: peak RSS under 64 MB and wall time under 3 s on every hostile tree.
//! Each run goes through `/usr/bin/time -f %M` (package `time`), which forks from its
//! own small process, so the peak RSS is the binary's alone.
//!
//! Run with `cargo bench --bench hostile` (`HOSTILE_BENCH_ROUNDS=N`, default 5).
//! Without `--bench` (`cargo test --all-targets`) every row runs once, as a smoke
//! test. Building the trees makes device nodes and FIFOs, which needs root; it
//! takes a few seconds and about 200 MB of disk in the temporary directory.

#[path = "../tests/bounds.rs"]
#[allow(dead_code)]
mod bounds;

#[path = "support/stats.rs"]
mod stats;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bounds::common;
use common::sb2::{Distro, Sb2, Size};
use common::tree::Tree;

/// The arguments of one command on a tree.
type Args = fn(&Path) -> Vec<String>;

struct Sample {
    wall: Duration,
    rss_kib: u64,
}

fn run(args: &[&str]) -> Sample {
    let report = tempfile::NamedTempFile::new().unwrap();
    let start = Instant::now();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(report.path())
        .arg(common::BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("/usr/bin/time (package `time`) must be installed");
    let wall = start.elapsed();
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "{args:?}: exit {status}"
    );
    let rss_kib = std::fs::read_to_string(report.path())
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("time -f %M prints the peak RSS");
    Sample { wall, rss_kib }
}

struct Case {
    name: &'static str,
    tree: Tree,
}

fn case(name: &'static str, hostile: impl FnOnce(&Sb2, &Tree)) -> Case {
    let sb2 = Sb2::new(Size::In15, Distro::DebianSurface);
    let tree = sb2.build();
    hostile(&sb2, &tree);
    Case { name, tree }
}

fn median(v: Vec<f64>) -> f64 {
    stats::median(v, |a, b| (a + b) / 2.0)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds: usize = if bench {
        std::env::var("HOSTILE_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5)
    } else {
        println!("smoke run (no --bench): one round of each row, not a measurement");
        1
    };
    let cases = [
        case("healthy fixture (baseline)", |_, _| {}),
        case("valid 60 MiB proc/config.gz", |_, t| bounds::big_config(t)),
        case("6.2 M-line modules.dep", |s, t| {
            bounds::huge_modules_dep(t, &s.module_dir())
        }),
        case("300 links to a dir of 99,999", |_, t| {
            bounds::many_links_to_a_big_dir(t)
        }),
        case("16 FIFOs + 60 MiB config.gz", |_, t| {
            bounds::big_config(t);
            bounds::fifos(t);
        }),
    ];
    let commands: [(&str, Args); 2] = [
        ("status", |p| {
            ["status", "--local", "--root", p.to_str().unwrap(), "--json"]
                .map(String::from)
                .to_vec()
        }),
        ("capture", |p| {
            ["capture", "--root", p.to_str().unwrap()]
                .map(String::from)
                .to_vec()
        }),
    ];
    // samples[command][case][round]
    let mut samples: Vec<Vec<Vec<Sample>>> = commands
        .iter()
        .map(|_| cases.iter().map(|_| Vec::new()).collect())
        .collect();
    for _ in 0..rounds {
        for (ci, (_, args)) in commands.iter().enumerate() {
            for (k, c) in cases.iter().enumerate() {
                let a = args(c.tree.path());
                let a: Vec<&str> = a.iter().map(String::as_str).collect();
                samples[ci][k].push(run(&a));
            }
        }
    }
    println!(
        "surface-check hostile-input benchmark: {rounds} rounds, release binary, medians; \
         ratios are to the healthy fixture in the same round"
    );
    let mut over = Vec::new();
    for (ci, (cmd, _)) in commands.iter().enumerate() {
        println!(
            "\n{cmd:<8} {:<30} {:>9} {:>8} {:>10} {:>8}",
            "tree", "wall ms", "x base", "RSS MiB", "x base"
        );
        for (k, c) in cases.iter().enumerate() {
            let s = &samples[ci][k];
            let base = &samples[ci][0];
            let wall = median(s.iter().map(|x| x.wall.as_secs_f64() * 1e3).collect());
            let rss = median(s.iter().map(|x| x.rss_kib as f64 / 1024.0).collect());
            let wall_ratio = median(
                s.iter()
                    .zip(base)
                    .map(|(a, b)| a.wall.as_secs_f64() / b.wall.as_secs_f64())
                    .collect(),
            );
            let rss_ratio = median(
                s.iter()
                    .zip(base)
                    .map(|(a, b)| a.rss_kib as f64 / b.rss_kib as f64)
                    .collect(),
            );
            let max_rss_mb = s.iter().map(|x| x.rss_kib * 1024).max().unwrap_or(0) as f64 / 1e6;
            let max_wall = s.iter().map(|x| x.wall).max().unwrap_or_default();
            println!(
                "{:<8} {:<30} {wall:>9.1} {wall_ratio:>7.1}x {rss:>10.1} {rss_ratio:>7.1}x",
                "", c.name
            );
            if max_rss_mb >= 64.0 || max_wall >= Duration::from_secs(3) {
                over.push(format!(
                    "{cmd} on {}: {:.2} s, {max_rss_mb:.1} MB",
                    c.name,
                    max_wall.as_secs_f64()
                ));
            }
        }
    }
    if over.is_empty() {
        println!("\ntargets: every run under 64 MB peak RSS and 3 s wall time: met");
    } else {
        println!("\ntargets (64 MB, 3 s) missed: {}", over.join("; "));
        if bench {
            std::process::exit(1);
        }
    }
}
