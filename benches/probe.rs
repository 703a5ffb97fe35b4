//! Probe benchmark: how much the bounded probe costs over the raw reads it needs.
//!
//! The machine this runs on is shared and noisy, so every figure is reported next to
//! a baseline measured in the same run, rounds interleaved with it, as a ratio:
//!
//! - floor: walk the healthy Surface Book 2 fixture tree, open and read every regular
//!   file once and stat every device node (plain `std::fs`, no bounds);
//! - probe: `facts::collect` + `checks::diagnose` in-process on the same tree, and
//!   its ratio to the floor (target: at most 2x);
//! - replay: the probe's own lookups (as `strace` records them) done again with plain
//!   `std::fs` calls, a floor for exactly the probe's work, on the fixture and on `/`;
//! - cli: `surface-check status --local --root DIR --json` as a process, its output
//!   read through a pipe (target: under 20 ms), against spawning `/bin/true`.
//!
//! Run with `cargo bench --bench probe`. `PROBE_BENCH_ROUNDS=N` sets the rounds of
//! the in-process rows (the CLI rows take half as many). Without `--bench` (`cargo
//! test --all-targets`) every row runs once, as a smoke test. Building the fixture
//! makes device nodes, which needs root. `PROBE_BENCH_KEEP_FIXTURE=1` only builds the
//! fixture, prints where, and leaves it there for profiling.
//! `PROBE_BENCH_BEFORE=PATH` adds rows for another `surface-check` binary (a build of
//! an earlier commit), run in the same rounds as this one, for a before/after.

#[path = "../tests/common/mod.rs"]
mod common;

#[path = "support/stats.rs"]
mod stats;
use stats::median;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::sb2::{Distro, Sb2, Size};
use surface_check::checks;
use surface_check::facts;
use surface_check::profiles::SURFACE_BOOK_2;
use surface_check::report::Report;
use surface_check::root::Root;

/// One row's rounds.
#[derive(Clone)]
struct Row {
    samples: Vec<Duration>,
    median: Duration,
    min: Duration,
}

impl Row {
    fn of(samples: Vec<Duration>) -> Row {
        Row {
            median: median(samples.clone(), |a, b| (a + b) / 2),
            min: samples.iter().copied().min().expect("at least one round"),
            samples,
        }
    }

    /// The median over rounds of this row's time divided by `base`'s time in the same
    /// round: the two ran back to back, so a burst of load from elsewhere tends to hit
    /// both, and the ratio is steadier than either figure.
    fn paired(&self, base: &Row) -> f64 {
        let r: Vec<f64> = self
            .samples
            .iter()
            .zip(&base.samples)
            .map(|(a, b)| ratio(*a, *b))
            .collect();
        median(r, |a, b| (a + b) / 2.0)
    }
}

fn time<T>(f: impl FnOnce() -> T) -> Duration {
    let t = Instant::now();
    black_box(f());
    t.elapsed()
}

/// Runs the closures in turn, `rounds` times after `warmup` unmeasured rounds, in an
/// order that rotates each round so no row always runs right after another.
fn interleaved(warmup: usize, rounds: usize, fs: &mut [&mut dyn FnMut()]) -> Vec<Row> {
    let k = fs.len();
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); k];
    for round in 0..warmup + rounds {
        for j in 0..k {
            let i = (round + j) % k;
            let d = time(|| (fs[i])());
            if round >= warmup {
                samples[i].push(d);
            }
        }
    }
    samples.into_iter().map(Row::of).collect()
}

// ---- floor: every file of the tree, read plainly --------------------------------

#[derive(Default, Debug, Clone, Copy)]
struct Walk {
    dirs: usize,
    files: usize,
    bytes: usize,
    nodes: usize,
    links: usize,
}

/// Walks `dir` without following symlinks: reads every regular file, stats every
/// device node.
fn walk(dir: &Path, w: &mut Walk) {
    w.dirs += 1;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let p = e.path();
        if ft.is_dir() {
            walk(&p, w);
        } else if ft.is_file() {
            if let Ok(b) = std::fs::read(&p) {
                w.files += 1;
                w.bytes += black_box(b).len();
            }
        } else if ft.is_symlink() {
            w.links += 1;
        } else {
            use std::os::unix::fs::FileTypeExt;
            if (ft.is_char_device() || ft.is_block_device()) && std::fs::metadata(&p).is_ok() {
                w.nodes += 1;
            }
        }
    }
}

fn floor(dir: &Path) -> Walk {
    let mut w = Walk::default();
    walk(dir, &mut w);
    w
}

// ---- the probe --------------------------------------------------------------------

fn collect(dir: &Path) -> facts::Facts {
    let root = Root::open(dir).expect("opening the root");
    facts::collect(&root, &SURFACE_BOOK_2).expect("collecting facts")
}

fn probe(dir: &Path) -> Report {
    let facts = collect(dir);
    checks::diagnose(&facts, &SURFACE_BOOK_2, &dir.display().to_string())
}

// ---- replay: the probe's lookups, done plainly ----------------------------------

/// One lookup of the probe, as seen by `strace`.
#[derive(Debug, Clone)]
enum Op {
    /// `O_PATH` open: `stat`, `exists`, `canonical`, a `read_link` parent.
    Stat(PathBuf),
    /// A directory listing.
    List(PathBuf),
    /// A file read (or a device open).
    Read(PathBuf),
    /// `readlinkat` of a symlink.
    Link(PathBuf),
}

impl Op {
    fn run(&self) {
        match self {
            Op::Stat(p) => {
                black_box(std::fs::metadata(p).is_ok());
            }
            Op::List(p) => {
                if let Ok(d) = std::fs::read_dir(p) {
                    black_box(d.flatten().count());
                }
            }
            Op::Read(p) => {
                black_box(std::fs::read(p).map(|b| b.len()).ok());
            }
            Op::Link(p) => {
                black_box(std::fs::read_link(p).is_ok());
            }
        }
    }
}

/// The first quoted argument of an strace line, unescaped enough for these paths.
fn quoted(line: &str) -> Option<&str> {
    let start = line.find('"')? + 1;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// strace's output for one CLI run (`status --local --root ROOT --json`) with
/// `opts`; `None` when strace is not available or the run did not exit 0 or 1
/// (1: something degraded, as on a live machine that is not a Surface).
fn strace_cli(opts: &[&str], bin: &Path, root: &Path) -> Option<String> {
    let out = tempfile::NamedTempFile::new().ok()?;
    let st = command("strace")
        .args(opts)
        .arg("-o")
        .arg(out.path())
        .arg(bin)
        .args(["status", "--local", "--root"])
        .arg(root)
        .arg("--json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !matches!(st.code(), Some(0 | 1)) {
        return None;
    }
    std::fs::read_to_string(out.path()).ok()
}

/// The lookups of one CLI run on `root`, from `strace -f`, in order: `openat2` and
/// `readlinkat` relative to a captured tree, or the plain `openat`, `newfstatat` and
/// `readlink` calls the live `/` is read with. `None` when strace is not available.
fn traced_ops(bin: &Path, root: &Path) -> Option<Vec<Op>> {
    let text = strace_cli(
        &[
            "-f",
            "-qq",
            "-s",
            "512",
            "-e",
            "trace=openat2,openat,newfstatat,readlink,readlinkat",
        ],
        bin,
        root,
    )?;
    let mut ops = Vec::new();
    let mut last_parent: Option<String> = None;
    for line in text.lines() {
        let call = line
            .split_once(' ')
            .map_or(line, |(_, rest)| rest)
            .trim_start();
        // The live `/` is read with plain libc calls on absolute paths (openat,
        // newfstatat, readlink); a captured tree with openat2 relative to the root.
        if let Some(path) = call
            .strip_prefix("openat(AT_FDCWD, ")
            .or_else(|| call.strip_prefix("newfstatat(AT_FDCWD, "))
            .and_then(quoted)
            .filter(|p| p.starts_with('/') && !p.starts_with("/proc/self/fd"))
            // The dynamic loader's opens are process start-up, not the probe.
            .filter(|p| !p.contains(".so") && !p.starts_with("/etc/ld.so"))
        {
            let p = PathBuf::from(path);
            if call.starts_with("newfstatat(") || call.contains("O_PATH") {
                ops.push(Op::Stat(p));
            } else if call.contains("O_DIRECTORY") {
                ops.push(Op::List(p));
            } else {
                ops.push(Op::Read(p));
            }
            continue;
        }
        if let Some(path) = call
            .strip_prefix("readlink(")
            .or_else(|| call.strip_prefix("readlinkat(AT_FDCWD, "))
            .and_then(quoted)
            .filter(|p| p.starts_with('/') && !p.starts_with("/proc/self/fd"))
        {
            ops.push(Op::Link(PathBuf::from(path)));
            continue;
        }
        if call.starts_with("openat2(") {
            let rel = quoted(call)?;
            let p = root.join(rel);
            if call.contains("O_PATH") {
                // An O_PATH|O_DIRECTORY open is the parent of a readlinkat that follows.
                if call.contains("O_DIRECTORY") {
                    last_parent = Some(rel.to_string());
                    continue;
                }
                ops.push(Op::Stat(p));
            } else if call.contains("O_DIRECTORY") {
                ops.push(Op::List(p));
            } else {
                ops.push(Op::Read(p));
            }
        } else if call.starts_with("readlinkat(") {
            let name = quoted(call)?;
            if name.starts_with('/') {
                // `canonical` reading /proc/self/fd: counted with its O_PATH open.
                continue;
            }
            let parent = last_parent.take().unwrap_or_else(|| ".".into());
            ops.push(Op::Link(root.join(parent).join(name)));
        }
    }
    (!ops.is_empty()).then_some(ops)
}

fn replay(ops: &[Op]) {
    for op in ops {
        op.run();
    }
}

/// Syscall counts of one CLI run, from `strace -c -f`: (total, openat2, read).
fn syscall_counts(bin: &Path, root: &Path) -> Option<(u64, u64, u64)> {
    let text = strace_cli(&["-f", "-c"], bin, root)?;
    let calls = |name: &str| -> Option<u64> {
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // % time, seconds, usecs/call, calls, [errors], syscall
            (f.last() == Some(&name)).then(|| f.get(3)?.parse().ok())?
        })
    };
    Some((
        calls("total")?,
        calls("openat2").unwrap_or(0),
        calls("read").unwrap_or(0),
    ))
}

// ---- the CLI as a process -------------------------------------------------------

/// A command run as a user would run it: without the `LD_LIBRARY_PATH` that cargo sets
/// for benches, which makes the dynamic loader search the toolchain's directories
/// for libc first (about 150 more syscalls, and time, for every process).
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    c.env_remove("LD_LIBRARY_PATH");
    c
}

/// Runs `cmd` to completion with its output read through pipes, as when a report is
/// piped into another program.
fn spawn(cmd: &mut Command) {
    let out = cmd.output().expect("spawning");
    black_box(out);
}

fn cli(bin: &Path, root: &Path) -> Command {
    let mut c = command(bin);
    c.args(["status", "--local", "--root"])
        .arg(root)
        .arg("--json");
    c
}

// ---- report ---------------------------------------------------------------------

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn row(name: &str, s: &Row, vs: Option<(&str, &Row)>) {
    let r = vs.map_or(String::new(), |(base, b)| {
        format!(
            "{:>6.2}x {:<10} (medians {:.2}x, minima {:.2}x)",
            s.paired(b),
            base,
            ratio(s.median, b.median),
            ratio(s.min, b.min)
        )
    });
    println!("{:<34} {:>9} {:>9}  {}", name, ms(s.median), ms(s.min), r);
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds: usize = if bench {
        std::env::var("PROBE_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60)
            .max(1)
    } else {
        1
    };
    let warmup = if bench { 5 } else { 0 };
    let cli_rounds = (rounds / 2).max(1);
    let bin = PathBuf::from(common::BIN);

    let tree = Sb2::new(Size::In15, Distro::DebianSurface).build();
    let fx = tree.path().to_path_buf();
    if std::env::var_os("PROBE_BENCH_KEEP_FIXTURE").is_some() {
        // Left in place for profiling the CLI on it (`perf`, `strace`, `valgrind`).
        println!("fixture kept at {}", fx.display());
        std::mem::forget(tree);
        return;
    }

    // The fixture is a healthy machine: the benchmark measures the normal path.
    let report = probe(&fx);
    assert_eq!(
        report.exit_code(),
        0,
        "the healthy fixture diagnoses healthy"
    );
    let w = floor(&fx);

    let live = Path::new("/");
    let fixture_ops = if bench { traced_ops(&bin, &fx) } else { None };
    let live_ops = if bench { traced_ops(&bin, live) } else { None };
    let fixture_calls = if bench {
        syscall_counts(&bin, &fx)
    } else {
        None
    };
    let live_calls = if bench {
        syscall_counts(&bin, live)
    } else {
        None
    };

    // In-process rows, interleaved so that a burst of noise hits them alike.
    let facts = collect(&fx);
    let source = fx.display().to_string();
    let mut f_floor = || {
        black_box(floor(&fx));
    };
    let mut f_probe = || {
        black_box(probe(&fx));
    };
    let mut f_collect = || {
        black_box(collect(&fx));
    };
    let mut f_diag = || {
        black_box(checks::diagnose(&facts, &SURFACE_BOOK_2, &source));
    };
    let mut f_replay = || {
        if let Some(ops) = &fixture_ops {
            replay(ops);
        }
    };
    let fixture = interleaved(
        warmup,
        rounds,
        &mut [
            &mut f_floor,
            &mut f_probe,
            &mut f_collect,
            &mut f_diag,
            &mut f_replay,
        ],
    );
    let [s_floor, s_probe, s_collect, s_diag, s_replay] = &fixture[..] else {
        unreachable!()
    };

    let mut l_probe = || {
        black_box(probe(live));
    };
    let mut l_replay = || {
        if let Some(ops) = &live_ops {
            replay(ops);
        }
    };
    let mut l_fx = || {
        black_box(probe(&fx));
    };
    let live_stats = interleaved(
        warmup,
        rounds,
        &mut [&mut l_probe, &mut l_replay, &mut l_fx],
    );
    let [s_live, s_live_replay, s_live_fx] = &live_stats[..] else {
        unreachable!()
    };

    // Whole process runs.
    let mut c_true = || spawn(&mut command("/bin/true"));
    let mut c_fx = || spawn(&mut cli(&bin, &fx));
    let mut c_live = || spawn(&mut cli(&bin, live));
    // Another build to compare with (an earlier commit): its rows run in the same
    // rounds; without one they time /bin/true again and are not printed.
    let before = std::env::var_os("PROBE_BENCH_BEFORE").map(PathBuf::from);
    let before_cmd = |root: &Path| match &before {
        Some(b) => cli(b, root),
        None => command("/bin/true"),
    };
    let mut c_before = || spawn(&mut before_cmd(&fx));
    let mut c_before_live = || spawn(&mut before_cmd(live));
    let procs = interleaved(
        warmup.min(3),
        cli_rounds,
        &mut [
            &mut c_true,
            &mut c_fx,
            &mut c_live,
            &mut c_before,
            &mut c_before_live,
        ],
    );
    let [s_true, s_cli, s_cli_live, s_before, s_before_live] = &procs[..] else {
        unreachable!()
    };

    println!();
    if !bench {
        println!("smoke run (no --bench): one round of each row, not a measurement");
    }
    println!(
        "surface-check probe benchmark: {rounds} rounds in-process, {cli_rounds} process rounds, \
         {warmup} warm-up; medians and minima"
    );
    println!(
        "fixture: Surface Book 2 15\" Debian/linux-surface, {} regular files ({} bytes), \
         {} device nodes, {} symlinks, {} directories",
        w.files, w.bytes, w.nodes, w.links, w.dirs
    );
    if let Some(ops) = &fixture_ops {
        println!("probe lookups on the fixture (strace): {}", summary(ops));
    }
    if let Some(ops) = &live_ops {
        println!("probe lookups on / (strace): {}", summary(ops));
    }
    for (name, c) in [("fixture", fixture_calls), ("/", live_calls)] {
        if let Some((total, openat2, read)) = c {
            println!(
                "syscalls of one CLI run on {name} (strace -c -f): {total} in all, \
                 {openat2} openat2, {read} read"
            );
        }
    }
    println!();
    println!(
        "{:<34} {:>9} {:>9}  median of per-round ratios to a baseline",
        "row", "median ms", "min ms"
    );
    row("fixture: floor (read every file)", s_floor, None);
    if fixture_ops.is_some() {
        row(
            "fixture: replay probe lookups",
            s_replay,
            Some(("floor", s_floor)),
        );
    }
    row("fixture: probe+diagnose", s_probe, Some(("floor", s_floor)));
    if fixture_ops.is_some() {
        row("", s_probe, Some(("replay", s_replay)));
    }
    row("fixture: collect only", s_collect, Some(("floor", s_floor)));
    row("fixture: diagnose only", s_diag, Some(("floor", s_floor)));
    if live_ops.is_some() {
        row("/: replay probe lookups", s_live_replay, None);
    }
    row("/: probe+diagnose", s_live, Some(("fx probe", s_live_fx)));
    if live_ops.is_some() {
        row("", s_live, Some(("replay", s_live_replay)));
    }
    row("process: /bin/true", s_true, None);
    row(
        "process: cli on fixture",
        s_cli,
        Some(("/bin/true", s_true)),
    );
    row("process: cli on /", s_cli_live, Some(("/bin/true", s_true)));
    if before.is_some() {
        row(
            "process: before-build cli on fx",
            s_before,
            Some(("/bin/true", s_true)),
        );
        row("", s_cli, Some(("before", s_before)));
        row(
            "process: before-build cli on /",
            s_before_live,
            Some(("/bin/true", s_true)),
        );
        row("", s_cli_live, Some(("before", s_before_live)));
    }
    println!();
    let over = s_cli.median.saturating_sub(s_true.median);
    println!(
        "targets: probe+diagnose / floor = {:.2} (<= 2); cli on fixture = {} ms (< 20), \
         {} ms over /bin/true",
        s_probe.paired(s_floor),
        ms(s_cli.median),
        ms(over)
    );
}

fn summary(ops: &[Op]) -> String {
    let (mut s, mut l, mut r, mut k) = (0, 0, 0, 0);
    for op in ops {
        match op {
            Op::Stat(_) => s += 1,
            Op::List(_) => l += 1,
            Op::Read(_) => r += 1,
            Op::Link(_) => k += 1,
        }
    }
    format!(
        "{} in all: {r} file reads, {s} path lookups, {l} listings, {k} readlinks",
        ops.len()
    )
}
