//! Preflight benchmark: judging a real Debian kernel package (about 70 MB of
//! `data.tar.xz` that decompresses to about 400 MB) against the floor of
//! decompressing it once with the system's own tools, in the same run.
//!
//! Measured, rounds interleaved (floor, library, binary) because the machines this
//! runs on are shared and noisy, after one warm-up round that fills the page cache:
//!
//! 1. the floor: `dpkg-deb --fsys-tarfile PKG | tar -t >/dev/null` (dpkg-deb decodes
//!    xz with liblzma's multithreaded decoder);
//! 2. the library: `preflight::source::inspect` of the package, in this process;
//! 3. the binary end to end: `surface-check kernel --inspect PKG --json` (reading,
//!    prediction, boot check against this machine, JSON);
//!
//! with the median wall time of each and the ratios to the floor (target: at most
//! 1.5x), and the binary's peak RSS (target: under 64 MB).
//!
//! Processes are timed from spawn to `wait4`, whose rusage gives their CPU time and
//! peak RSS. The peak must come from a small parent: std spawns with `vfork`, and on
//! `exec` the kernel records the spawning process's peak RSS into the child's (this
//! process holds tens of MB after the in-process rounds). So each process is spawned
//! by a fresh copy of this bench in launcher mode (`PREFLIGHT_BENCH_LAUNCH=1`), a few
//! megabytes, which waits for it with `wait4` and prints the figures.
//!
//! Run with `cargo bench --bench preflight` after `scripts/fetch-debian-kernel.sh`
//! (the package is read from `$SURFACE_CHECK_DEBIAN_KERNEL` or
//! `target/debian-kernel/*.deb`). `PREFLIGHT_BENCH_ROUNDS=N` sets the rounds
//! (default 5, at least 3). Without `--bench` (`cargo test --all-targets`) it runs one
//! round as a smoke test. A measurement that cannot be made fails the bench; a
//! target missed does not (the figures are printed with their targets).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/stats.rs"]
mod stats;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use surface_check::preflight::source::{Caps, inspect};
use surface_check::profiles::SURFACE_BOOK_2;
use surface_check::root::Root;

const BIN: &str = env!("CARGO_BIN_EXE_surface-check");
const LAUNCH: &str = "PREFLIGHT_BENCH_LAUNCH";

/// One process run: wall time (spawn to wait4), CPU time, peak RSS, exit code.
#[derive(Debug, Clone, Copy)]
struct Ran {
    wall: Duration,
    cpu: Duration,
    rss_kib: u64,
    code: i32,
}

/// Launcher mode: runs argv[1..] with output to /dev/null, waits with `wait4`, and
/// prints `wall_ns cpu_ns maxrss_kib code`.
fn launch() -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let start = Instant::now();
    let child = Command::new(&args[0])
        .args(&args[1..])
        .env_remove(LAUNCH)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", args[0]));
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, which std will not wait for again (the
    // `Child` is dropped without `wait`).
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(
        pid,
        child.id() as libc::pid_t,
        "wait4: {}",
        std::io::Error::last_os_error()
    );
    drop(child);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    println!(
        "{} {} {} {}",
        wall.as_nanos(),
        cpu.as_nanos(),
        usage.ru_maxrss,
        code
    );
    std::process::exit(0)
}

/// Runs `args` through a launcher (see the module documentation).
fn run(args: &[&str]) -> Ran {
    let out = Command::new(std::env::current_exe().expect("the bench's own path"))
        .args(args)
        .env(LAUNCH, "1")
        .env_remove("SURFACE_CHECK_LOG")
        .env("NO_COLOR", "1")
        .stderr(Stdio::inherit())
        .output()
        .expect("spawning the launcher");
    assert!(out.status.success(), "launcher for {args:?} failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<u128> = text
        .split_whitespace()
        .map(|x| {
            x.parse()
                .unwrap_or_else(|_| panic!("launcher said {text:?}"))
        })
        .collect();
    assert_eq!(f.len(), 4, "launcher said {text:?}");
    Ran {
        wall: Duration::from_nanos(f[0] as u64),
        cpu: Duration::from_nanos(f[1] as u64),
        rss_kib: f[2] as u64,
        code: f[3] as i32,
    }
}

fn median_d(v: Vec<Duration>) -> Duration {
    stats::median(v, |a, b| (a + b) / 2)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    if std::env::var_os(LAUNCH).is_some() {
        launch();
    }
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds: usize = if bench {
        std::env::var("PREFLIGHT_BENCH_ROUNDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(5)
            .max(3)
    } else {
        1
    };
    let deb = common::debian_kernel();
    let deb_s = deb.to_str().expect("a UTF-8 path").to_string();
    let size = std::fs::metadata(&deb).expect("the package").len();
    let floor_script = "dpkg-deb --fsys-tarfile \"$0\" | tar -t >/dev/null";
    let floor_args = ["sh", "-c", floor_script, deb_s.as_str()];
    let bin_args = [BIN, "kernel", "--inspect", deb_s.as_str(), "--json"];
    let root = Root::open("/").expect("opening /");

    let library = || {
        let start = Instant::now();
        let k = inspect(&root, &deb_s, &SURFACE_BOOK_2, &Caps::default())
            .unwrap_or_else(|e| panic!("inspect: {e}"));
        let t = start.elapsed();
        assert!(k.release.is_some() && k.config.ok().is_some(), "{k:?}");
        t
    };

    println!(
        "preflight bench: {} ({:.1} MB), {rounds} rounds after a warm-up",
        deb.display(),
        size as f64 / 1e6
    );
    // Warm-up: the page cache, the binary.
    let w = run(&floor_args);
    assert_eq!(w.code, 0, "the floor failed: is dpkg-deb installed?");
    library();
    let b = run(&bin_args);
    assert!(matches!(b.code, 0 | 1), "the binary failed with {}", b.code);

    let (mut floor, mut lib, mut bin) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        floor.push(run(&floor_args));
        lib.push(library());
        bin.push(run(&bin_args));
    }
    for r in floor.iter().chain(&bin) {
        assert!(matches!(r.code, 0 | 1), "a run failed: {r:?}");
    }
    let f = median_d(floor.iter().map(|r| r.wall).collect());
    let fc = median_d(floor.iter().map(|r| r.cpu).collect());
    let l = median_d(lib.clone());
    let b = median_d(bin.iter().map(|r| r.wall).collect());
    let bc = median_d(bin.iter().map(|r| r.cpu).collect());
    let peak = bin.iter().map(|r| r.rss_kib).max().unwrap_or(0);
    let floor_peak = floor.iter().map(|r| r.rss_kib).max().unwrap_or(0);
    let ratio = |x: Duration| x.as_secs_f64() / f.as_secs_f64();
    println!(
        "\n{:<52} {:>10} {:>10} {:>8}",
        "median of the rounds", "wall", "cpu", "ratio"
    );
    println!(
        "{:<52} {:>10} {:>10} {:>8}",
        "floor: dpkg-deb --fsys-tarfile | tar -t",
        ms(f),
        ms(fc),
        "1.00x"
    );
    println!(
        "{:<52} {:>10} {:>10} {:>7.2}x",
        "library: source::inspect",
        ms(l),
        "-",
        ratio(l)
    );
    println!(
        "{:<52} {:>10} {:>10} {:>7.2}x",
        "binary: surface-check kernel --inspect --json",
        ms(b),
        ms(bc),
        ratio(b)
    );
    println!(
        "\nall rounds (wall): floor {:?}\n                   library {:?}\n                   binary {:?}",
        floor.iter().map(|r| ms(r.wall)).collect::<Vec<_>>(),
        lib.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        bin.iter().map(|r| ms(r.wall)).collect::<Vec<_>>()
    );
    println!(
        "\npeak RSS (wait4 ru_maxrss, max of the rounds): binary {:.1} MB (target < 64 MB), floor {:.1} MB",
        peak as f64 / 1024.0,
        floor_peak as f64 / 1024.0
    );
    println!(
        "targets: library {} 1.5x ({:.2}x), binary {} 1.5x ({:.2}x), peak RSS {} 64 MB",
        if ratio(l) <= 1.5 { "within" } else { "OVER" },
        ratio(l),
        if ratio(b) <= 1.5 { "within" } else { "OVER" },
        ratio(b),
        if peak < 64 * 1024 { "under" } else { "OVER" }
    );
}
