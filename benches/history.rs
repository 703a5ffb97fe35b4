//! History benchmark (issue 9): what a long history costs `surface-check report`,
//! the command the timer runs after every boot and resume, and how large the
//! database grows per boot.
//!
//! Like the other benches, every time is reported next to a baseline measured in the
//! same run, rounds interleaved with it, because the machines this runs on are shared
//! and noisy: a history of 10,000 earlier boots against one of 10, as a ratio.
//!
//! Measured, all with the real binary (`CARGO_BIN_EXE_surface-check`, built by
//! `cargo bench` in the optimized bench profile) on the NixOS Surface Book 2 15"
//! fixture of the integration tests, output into files:
//!
//! 1. `report --local --root FIXTURE --state-dir DIR --keep N` (healthy fixture) on
//!    histories of 10, 500 (the default `--keep`) and 10,000 boots, each run with a
//!    fresh boot id written into the fixture first (untimed), so that every run
//!    records a new boot, as the run after a reboot does; `--keep N` holds each
//!    history at its size (the run adds a boot, the oldest goes). Then the run again
//!    in the newest boot (what the timer does after a resume: the record is
//!    replaced);
//! 2. the same with touch failed now and on every boot recorded (the fixture without
//!    the ipts module): no earlier boot where it worked, so `report` reads every
//!    boot, the worst case of the rules;
//! 3. `history --limit 20` and `diff` (previous against latest) on 10 and 10,000;
//! 4. the database: its file size per boot after the fill (the WAL checkpointed into
//!    the file, as after every record) and after the rounds, with SQLite's counts;
//! 5. the phases of a report, in-process through the library (open with its
//!    `quick_check`, reading the earlier boots, the rules, recording), and the
//!    queries that read the whole table, to say where the time of (1) goes;
//! 6. the 10,000-boot report with the database evicted from the page cache
//!    (`posix_fadvise(DONTNEED)` on that one file), as on the first run after boot.
//!
//! Wall and CPU time come from `wait4`; the peak RSS of each row from one more run
//! through GNU time (`/usr/bin/time -f %M`; left out without it).
//!
//! The records are the fixture's own, as the binary stored them in a scratch history
//! (a healthy boot, one whose kernel lacks the ipts module, one with iptsd stopped),
//! with the boot id, kernel, NixOS generation and time varied: a kernel lasts 25
//! boots, every 23rd kernel breaks touch for all its boots, and about 1 boot in 100
//! has iptsd stopped. The histories of 10 and 500 boots are written with
//! `History::record` in `/dev/shm` and copied to disk. The 10,000-boot ones are
//! inserted in one transaction with `History::record`'s statement and serialization
//! instead, because `record` scans the whole table on each call (its prune query):
//! 10,000 calls take about 90 s even in memory. A 500-boot history written both ways
//! is checked to read back equal, in a file of the same size. Everything is built
//! anew in temporary directories on each run of the bench.
//!
//! Run with `cargo bench --bench history` as root (the fixture has device nodes).
//! `HISTORY_BENCH_ROUNDS=N` sets the report rounds (default 15), `HISTORY_BENCH_BOOTS`
//! the long history (default 10000); `HISTORY_BENCH_KEEP=1` only builds the fixtures
//! and histories, prints where, and leaves them for profiling. Without `--bench`
//! (`cargo test --all-targets`) it runs a smoke test (50 boots against 10, 2 rounds)
//! that goes through every path but measures nothing. It fails only when a
//! measurement cannot be made; the figures are printed, never asserted.

#[path = "../tests/common/mod.rs"]
mod common;

#[path = "support/stats.rs"]
mod stats;
use stats::median;

use std::fs::File;
use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::sb2::{Break, Distro, Sb2, Size};
use common::tree::Tree;
use rusqlite::{Connection, OpenFlags};
use surface_check::history::store::DB_FILE;
use surface_check::history::{BootRecord, History, diff};
use surface_check::profiles::SURFACE_BOOK_2;
use surface_check::report::Status;

const BIN: &str = env!("CARGO_BIN_EXE_surface-check");
const BOOT_ID: &str = "proc/sys/kernel/random/boot_id";
/// Boots per kernel in the generated histories.
const BOOTS_PER_KERNEL: usize = 25;
/// Every this many kernels, one breaks touch (the ipts module missing).
const BAD_KERNEL_EVERY: usize = 23;
/// About one boot in this many has iptsd stopped.
const IPTSD_STOPPED_EVERY: usize = 97;
/// Hours between generated boots.
const HOURS_APART: u64 = 8;

// ---- statistics -------------------------------------------------------------------

#[derive(Clone, Default)]
struct Row {
    samples: Vec<Duration>,
    /// Peak RSS, KiB, of one more run through GNU time (`time -f %M`); empty for
    /// in-process rows or without `/usr/bin/time`.
    rss_kib: Vec<u64>,
    /// User plus system CPU time of each run.
    cpu: Vec<Duration>,
}

impl Row {
    fn median(&self) -> Duration {
        median(self.samples.clone(), |a, b| (a + b) / 2)
    }

    fn min(&self) -> Duration {
        self.samples
            .iter()
            .copied()
            .min()
            .expect("a row without samples")
    }

    /// The median over rounds of this row's time divided by `base`'s in the same
    /// round: the two ran close together, so a burst of load from elsewhere tends to
    /// hit both.
    fn paired(&self, base: &Row) -> f64 {
        let r: Vec<f64> = self
            .samples
            .iter()
            .zip(&base.samples)
            .map(|(a, b)| ratio(*a, *b))
            .collect();
        median(r, |a, b| (a + b) / 2.0)
    }

    fn rss_mib(&self) -> Option<f64> {
        (!self.rss_kib.is_empty())
            .then(|| median(self.rss_kib.clone(), |a, b| (a + b) / 2) as f64 / 1024.0)
    }

    fn cpu(&self) -> Option<Duration> {
        (!self.cpu.is_empty()).then(|| median(self.cpu.clone(), |a, b| (a + b) / 2))
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// One measured run: its time, and for a process its peak RSS and CPU time.
struct Sample {
    wall: Duration,
    rss_kib: Option<u64>,
    cpu: Option<Duration>,
}

impl From<Duration> for Sample {
    fn from(wall: Duration) -> Sample {
        Sample {
            wall,
            rss_kib: None,
            cpu: None,
        }
    }
}

/// GNU time, for the peak RSS of a process of its own.
const GNU_TIME: &str = "/usr/bin/time";

thread_local! {
    /// Whether [`run`] goes through [`GNU_TIME`] for the peak RSS (not timed).
    static PEAK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs the rows in turn, `rounds` times after `warmup` unmeasured rounds, in an
/// order that rotates each round so that no row always runs right after another.
/// Each row times itself (what it prepares before is not counted). Then, when GNU
/// time is there, each row once more through it for its peak RSS.
fn interleaved(warmup: usize, rounds: usize, rows: &mut [&mut dyn FnMut() -> Sample]) -> Vec<Row> {
    let k = rows.len();
    let mut out: Vec<Row> = vec![Row::default(); k];
    for round in 0..warmup + rounds {
        for j in 0..k {
            let i = (round + j) % k;
            let s = (rows[i])();
            if round >= warmup {
                out[i].samples.push(s.wall);
                out[i].cpu.extend(s.cpu);
            }
        }
    }
    if Path::new(GNU_TIME).exists() {
        PEAK.set(true);
        for (row, f) in out.iter_mut().zip(rows.iter_mut()) {
            row.rss_kib.extend(f().rss_kib);
        }
        PEAK.set(false);
    }
    out
}

// ---- the binary -------------------------------------------------------------------

/// What one run of the binary printed and how it ended.
struct Ran {
    code: i32,
    out: String,
    err: String,
    sample: Sample,
}

/// Runs `surface-check ARGS` as the timer would (no colour, no `STATE_DIRECTORY`,
/// without the `LD_LIBRARY_PATH` cargo sets for benches), output into files, and
/// times it from spawn to `wait4`, which also gives its CPU time. Journal entries
/// (regressions, recoveries) go to a socket path where nothing listens, not to the
/// host's journal.
///
/// With [`PEAK`] set it runs through GNU time for the peak RSS instead. `wait4`'s
/// `ru_maxrss` would not do: std spawns with `vfork`, and the kernel counts the
/// spawning process's peak RSS into the child's (the in-process fill and checks
/// hold tens of MB); GNU time forks the binary from a small process of its own.
fn run(args: &[&str], scratch: &Path) -> Ran {
    let out_path = scratch.join("stdout");
    let err_path = scratch.join("stderr");
    let rss_path = scratch.join("rss");
    let out = File::create(&out_path).expect("creating the output file");
    let err = File::create(&err_path).expect("creating the error file");
    let peak = PEAK.get();
    let mut cmd = if peak {
        let mut c = Command::new(GNU_TIME);
        c.args(["-f", "%M", "-o"]).arg(&rss_path).arg(BIN);
        c
    } else {
        Command::new(BIN)
    };
    cmd.args(args)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("STATE_DIRECTORY")
        .env_remove("SURFACE_CHECK_LOG")
        .env("NO_COLOR", "1")
        .env(
            "SURFACE_CHECK_JOURNAL_SOCKET",
            scratch.join("no-journal-here"),
        )
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let start = Instant::now();
    let child = cmd.spawn().expect("spawning surface-check");
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
    assert!(
        libc::WIFEXITED(status),
        "surface-check {args:?} was killed (status {status})"
    );
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ran {
        code: libc::WEXITSTATUS(status),
        out: std::fs::read_to_string(&out_path).expect("reading the output"),
        err: std::fs::read_to_string(&err_path).expect("reading the errors"),
        sample: Sample {
            wall,
            rss_kib: peak.then(|| {
                std::fs::read_to_string(&rss_path)
                    .ok()
                    .and_then(|t| t.lines().last()?.trim().parse().ok())
                    .expect("time -f %M prints the peak RSS")
            }),
            cpu: Some(tv(usage.ru_utime) + tv(usage.ru_stime)),
        },
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// `report --local --root ROOT --state-dir STATE --keep KEEP`; fails the bench unless
/// it recorded the boot (`new` or `updated` as expected).
fn report(root: &Path, state: &Path, keep: usize, scratch: &Path, expect: Recorded) -> Ran {
    let keep = keep.to_string();
    let r = run(
        &[
            "report",
            "--local",
            "--root",
            path_str(root),
            "--state-dir",
            path_str(state),
            "--keep",
            &keep,
        ],
        scratch,
    );
    let word = match expect {
        Recorded::New => " · recorded\n",
        Recorded::Updated => " · record of this boot updated\n",
    };
    assert!(
        matches!(r.code, 0 | 1) && r.out.contains(word),
        "report on {} did not record the boot as {expect:?} (exit {}):\n{}{}",
        state.display(),
        r.code,
        r.out,
        r.err
    );
    r
}

#[derive(Debug, Clone, Copy)]
enum Recorded {
    New,
    Updated,
}

// ---- fixtures and histories -------------------------------------------------------

fn machine() -> Sb2 {
    Sb2::new(Size::In15, Distro::NixOs)
}

/// The NixOS machine (kernel 6.19.8, generation 42), with a link broken.
fn fixture(brk: Option<Break>) -> Tree {
    let m = machine();
    let t = m.build();
    if let Some(b) = brk {
        b.apply(&m, &t);
    }
    t
}

/// splitmix64: boot ids that look random and never repeat within a run.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A version-4 boot id, unique for (`tag`, `n`): the last group holds both.
fn boot_id(tag: u16, n: u64) -> String {
    let h = mix(u64::from(tag) << 48 | n);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:04x}{:08x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        0x8000 | (mix(h) & 0x3fff),
        tag,
        n
    )
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The records stored for the three kinds of boot, as the binary wrote them.
struct Templates {
    healthy: BootRecord,
    /// The kernel lacks the ipts module: touch fails.
    no_ipts: BootRecord,
    /// iptsd is stopped: touch degraded or failed.
    iptsd_stopped: BootRecord,
    /// When the bench started, microseconds since the epoch.
    now_us: u64,
}

/// The record the binary stores for `tree` (a first boot in a scratch history).
fn template(tree: &Tree, tag: u16, scratch: &Path) -> BootRecord {
    let id = boot_id(tag, 0);
    tree.attr(BOOT_ID, &id);
    let state = tempfile::tempdir().expect("a scratch state directory");
    report(tree.path(), state.path(), 10, scratch, Recorded::New);
    History::open_read_only(state.path())
        .expect("opening the scratch history")
        .expect("a history")
        .boot(&id)
        .expect("reading the boot back")
        .expect("the boot was recorded")
}

fn touch(b: &BootRecord) -> Status {
    b.report
        .subsystems
        .iter()
        .find(|s| s.id == "touch")
        .map(|s| s.status)
        .expect("a touch subsystem")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Mostly healthy: some kernels break touch, some boots have iptsd stopped.
    Mixed,
    /// Touch failed on every boot (the ipts module missing from every kernel).
    TouchNeverOk,
}

/// Boot `i` of `n` in a generated history of `kind`, whose newest boot is the last
/// of a timeline of `span` boots (so a short history is the tail of a long one):
/// boot id, kernel (a new one every [`BOOTS_PER_KERNEL`] boots of the timeline, each
/// a NixOS generation; synthetic releases 6.1.1, 6.1.2, ...), time (a boot every
/// [`HOURS_APART`] hours, the newest an hour ago) and the record of its kind.
fn generated(kind: Kind, tag: u16, i: usize, n: usize, span: usize, t: &Templates) -> BootRecord {
    let pos = span - n + i;
    let k = pos / BOOTS_PER_KERNEL;
    let kernel = format!("6.{}.{}", 1 + k / 16, 1 + k % 16);
    let base = match kind {
        Kind::TouchNeverOk => &t.no_ipts,
        // The newest boots are healthy, so a healthy report now finds no recovery.
        Kind::Mixed if pos + BOOTS_PER_KERNEL >= span => &t.healthy,
        Kind::Mixed if k % BAD_KERNEL_EVERY == 7 => &t.no_ipts,
        Kind::Mixed if pos % IPTSD_STOPPED_EVERY == 13 => &t.iptsd_stopped,
        Kind::Mixed => &t.healthy,
    };
    let mut rec = base.clone();
    rec.boot_id = boot_id(tag, i as u64);
    let hours_ago = (span - pos) as u64 * HOURS_APART - HOURS_APART + 1;
    rec.recorded_us = t.now_us - hours_ago * 3_600_000_000 + mix(pos as u64) % 60_000_000;
    rec.kernel = kernel.clone();
    rec.generation = Some(k as u32 + 1);
    rec.report.kernel.release = Some(kernel);
    rec
}

/// `History::record`'s insert (src/history/store.rs), for [`Db::bulk`].
const INSERT: &str = "INSERT INTO boots
     (boot_id, first_us, recorded_us, kernel, generation, overall, report, facts)
 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7)";

/// A state directory on disk (the temporary directory), as `/var/lib` would be.
fn state_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("surface-check-history-")
        .tempdir()
        .expect("a state directory")
}

/// One history under test: its state directory, size (its `--keep`), the tag of its
/// boot ids, and the boot id of its newest boot.
struct Db {
    name: String,
    state: tempfile::TempDir,
    boots: usize,
    tag: u16,
    runs: u64,
    newest: String,
    fill: Duration,
}

impl Db {
    /// A history of `n` boots of `kind`, written with `History::record` (one
    /// transaction, a sync and a checkpoint each, as the binary writes them) into a
    /// directory in memory (`/dev/shm`, where a sync costs nothing), then copied to
    /// the state directory on disk and synced there.
    ///
    /// Each record also scans the table (its prune query), so this costs O(n) per
    /// boot: about 9 ms a record on average over 10,000 boots even in memory. The
    /// long histories are therefore written by [`Db::bulk`].
    fn record(name: &str, kind: Kind, n: usize, span: usize, tag: u16, t: &Templates) -> Db {
        let state = state_dir();
        let start = Instant::now();
        let shm = Path::new("/dev/shm");
        let memory = if shm.is_dir() {
            tempfile::Builder::new()
                .prefix("surface-check-history-")
                .tempdir_in(shm)
                .ok()
        } else {
            None
        };
        let dir = memory.as_ref().map_or(state.path(), |d| d.path());
        let mut h = History::open_with(dir, n).expect("creating the history");
        let mut newest = String::new();
        for i in 0..n {
            let rec = generated(kind, tag, i, n, span, t);
            h.record(&rec).expect("recording a generated boot");
            newest = rec.boot_id;
        }
        assert_eq!(h.count().expect("counting"), n);
        drop(h);
        if let Some(m) = &memory {
            for f in std::fs::read_dir(m.path()).expect("listing the history") {
                let f = f.expect("listing the history").path();
                let to = state.path().join(f.file_name().expect("a file name"));
                std::fs::copy(&f, &to).expect("copying the history to disk");
                File::open(&to)
                    .and_then(|f| f.sync_all())
                    .expect("syncing the copy");
            }
        }
        Db::new(name, state, n, tag, newest, start.elapsed())
    }

    /// The same history as [`Db::record`] writes (the library creates the schema;
    /// the rows are its statement's, with the records serialized as it serializes
    /// them), inserted in one transaction; then the WAL is checkpointed into the
    /// file, as after a record. Seconds instead of minutes for 10,000 boots.
    fn bulk(name: &str, kind: Kind, n: usize, span: usize, tag: u16, t: &Templates) -> Db {
        let state = state_dir();
        let start = Instant::now();
        drop(History::open_with(state.path(), n).expect("creating the history"));
        let mut c = Connection::open(state.path().join(DB_FILE)).expect("opening the history");
        let tx = c.transaction().expect("a transaction");
        let mut newest = String::new();
        {
            let mut insert = tx.prepare(INSERT).expect("the insert statement");
            for i in 0..n {
                let rec = generated(kind, tag, i, n, span, t);
                let report = serde_json::to_string(&rec.report).expect("report JSON");
                let facts = serde_json::to_string(&rec.facts).expect("facts JSON");
                insert
                    .execute(rusqlite::params![
                        rec.boot_id,
                        rec.recorded_us as i64,
                        rec.kernel,
                        rec.generation,
                        rec.report.overall.as_str(),
                        report,
                        facts
                    ])
                    .expect("inserting a generated boot");
                newest = rec.boot_id;
            }
        }
        tx.commit().expect("committing the history");
        let busy: i64 = c
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .expect("checkpointing");
        assert_eq!(busy, 0, "checkpoint");
        drop(c);
        File::open(state.path().join(DB_FILE))
            .and_then(|f| f.sync_all())
            .expect("syncing the history");
        let h = History::open_with(state.path(), n).expect("the library opens it");
        assert_eq!(h.count().expect("counting"), n);
        drop(h);
        Db::new(name, state, n, tag, newest, start.elapsed())
    }

    fn new(
        name: &str,
        state: tempfile::TempDir,
        boots: usize,
        tag: u16,
        newest: String,
        fill: Duration,
    ) -> Db {
        Db {
            name: name.into(),
            state,
            boots,
            tag,
            runs: 0,
            newest,
            fill,
        }
    }

    fn dir(&self) -> &Path {
        self.state.path()
    }

    fn file(&self) -> PathBuf {
        self.dir().join(DB_FILE)
    }

    /// A boot id no run used before.
    fn fresh_id(&mut self) -> String {
        self.runs += 1;
        boot_id(self.tag | 0x8000, self.runs)
    }

    /// `report` in a new boot (a fresh boot id written into `tree` first).
    fn report_new(&mut self, tree: &Tree, scratch: &Path) -> Sample {
        let id = self.fresh_id();
        tree.attr(BOOT_ID, &id);
        let r = report(tree.path(), self.dir(), self.boots, scratch, Recorded::New);
        self.newest = id;
        r.sample
    }

    /// `report` again in the newest boot recorded (after a resume).
    fn report_again(&mut self, tree: &Tree, scratch: &Path) -> Sample {
        tree.attr(BOOT_ID, &self.newest);
        report(
            tree.path(),
            self.dir(),
            self.boots,
            scratch,
            Recorded::Updated,
        )
        .sample
    }

    /// `history --limit 20`.
    fn history(&self, scratch: &Path) -> Sample {
        let r = run(
            &[
                "history",
                "--limit",
                "20",
                "--state-dir",
                path_str(self.dir()),
            ],
            scratch,
        );
        assert!(
            r.code == 0
                && r.out.starts_with("BOOT")
                && r.out.matches("(generation").count() >= self.boots.min(20),
            "history on {}: exit {}\n{}{}",
            self.name,
            r.code,
            r.out,
            r.err
        );
        r.sample
    }

    /// `diff` (previous against latest).
    fn diff(&self, scratch: &Path) -> Sample {
        let r = run(&["diff", "--state-dir", path_str(self.dir())], scratch);
        assert!(
            r.code == 0 && r.out.starts_with("from boot "),
            "diff on {}: exit {}\n{}{}",
            self.name,
            r.code,
            r.out,
            r.err
        );
        r.sample
    }
}

// ---- the database -----------------------------------------------------------------

/// The database's size and SQLite's view of it.
struct DbSize {
    file: u64,
    wal: u64,
    boots: u64,
    page_size: u64,
    pages: u64,
    free_pages: u64,
    report_bytes: f64,
    facts_bytes: f64,
}

fn db_size(db: &Db) -> DbSize {
    let wal = std::fs::metadata(db.dir().join(format!("{DB_FILE}-wal"))).map_or(0, |m| m.len());
    let file = std::fs::metadata(db.file())
        .expect("the database file")
        .len();
    let c = Connection::open_with_flags(db.file(), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("opening the database to size it");
    let one = |sql: &str| -> f64 {
        c.query_row(sql, [], |r| r.get::<_, f64>(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    DbSize {
        file,
        wal,
        boots: one("SELECT count(*) FROM boots") as u64,
        page_size: one("PRAGMA page_size") as u64,
        pages: one("PRAGMA page_count") as u64,
        free_pages: one("PRAGMA freelist_count") as u64,
        report_bytes: one("SELECT avg(length(report)) FROM boots"),
        facts_bytes: one("SELECT avg(length(facts)) FROM boots"),
    }
}

fn print_size(name: &str, s: &DbSize) {
    println!(
        "{:<24} {:>6} boots {:>12} bytes ({} in -wal) {:>8.0} bytes/boot; {} pages of {}, \
         {} free; per boot: report {:.0} + facts {:.0} bytes of JSON",
        name,
        s.boots,
        s.file,
        s.wal,
        s.file as f64 / s.boots.max(1) as f64,
        s.pages,
        s.page_size,
        s.free_pages,
        s.report_bytes,
        s.facts_bytes
    );
}

/// Drops the database file's pages from the page cache (after flushing them), as
/// after a reboot; nothing else on the machine is touched.
fn evict(path: &Path) {
    let f = File::open(path).expect("opening the database to evict it");
    f.sync_all().expect("syncing the database");
    // SAFETY: a valid descriptor; offset 0 and length 0 mean the whole file.
    let r = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(
        r,
        0,
        "posix_fadvise: {}",
        std::io::Error::from_raw_os_error(r)
    );
}

/// Pages of `path` in the page cache, of all its pages (`mincore`).
fn cached_pages(path: &Path) -> (usize, usize) {
    let f = File::open(path).expect("opening the database");
    let len = f.metadata().expect("its size").len() as usize;
    if len == 0 {
        return (0, 0);
    }
    // SAFETY: a read-only shared mapping of a file we opened, unmapped below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap");
    let page = 4096;
    let n = len.div_ceil(page);
    let mut v = vec![0u8; n];
    // SAFETY: `v` holds one byte per page of the mapping.
    let r = unsafe { libc::mincore(p, len, v.as_mut_ptr()) };
    // SAFETY: the mapping made above.
    unsafe { libc::munmap(p, len) };
    assert_eq!(r, 0, "mincore");
    (v.iter().filter(|b| *b & 1 == 1).count(), n)
}

// ---- the phases, in-process ---------------------------------------------------------

/// Phase times of one report, in-process.
#[derive(Default, Clone)]
struct Phases {
    open: Vec<Duration>,
    quick_check: Vec<Duration>,
    earlier: Vec<Duration>,
    parsed: usize,
    compare: Vec<Duration>,
    record: Vec<Duration>,
    prune_scan: Vec<Duration>,
    count: Vec<Duration>,
}

/// `report`'s steps on `db` for `current` (given a fresh boot id), timed one by one;
/// plus, on a connection of their own, `quick_check` and the two queries that read
/// every row (the prune's `OFFSET` and `count(*)`).
/// With `cold`, the database is evicted from the page cache before `quick_check`
/// and again before the open.
fn phases(db: &mut Db, current: &BootRecord, cold: bool, p: &mut Phases) {
    let mut rec = current.clone();
    rec.boot_id = db.fresh_id();
    rec.recorded_us = now_us();

    if cold {
        evict(&db.file());
    }
    let c = Connection::open_with_flags(db.file(), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("opening the database");
    let t = Instant::now();
    let q: String = c
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .expect("quick_check");
    p.quick_check.push(t.elapsed());
    assert_eq!(q, "ok");
    let t = Instant::now();
    let seq: Option<i64> = c
        .query_row(
            "SELECT seq FROM boots ORDER BY seq DESC LIMIT 1 OFFSET ?1",
            [db.boots as i64 - 1],
            |r| r.get(0),
        )
        .ok();
    p.prune_scan.push(t.elapsed());
    black_box(seq);
    let t = Instant::now();
    let n: i64 = c
        .query_row("SELECT count(*) FROM boots", [], |r| r.get(0))
        .expect("count");
    p.count.push(t.elapsed());
    black_box(n);
    drop(c);

    if cold {
        evict(&db.file());
    }
    let t = Instant::now();
    let mut h = History::open_with(db.dir(), db.boots).expect("opening the history");
    p.open.push(t.elapsed());
    let t = Instant::now();
    let earlier = surface_check::history::earlier_boots(&h, &rec).expect("reading boots");
    p.earlier.push(t.elapsed());
    p.parsed = earlier.len();
    let t = Instant::now();
    black_box(diff::compare(&earlier, &rec, &SURFACE_BOOK_2));
    p.compare.push(t.elapsed());
    let t = Instant::now();
    h.record(&rec).expect("recording");
    p.record.push(t.elapsed());
    db.newest = rec.boot_id;
}

// ---- main -------------------------------------------------------------------------

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    let started = Instant::now();
    let bench = std::env::args().any(|a| a == "--bench");
    let long = if bench {
        env_usize("HISTORY_BENCH_BOOTS").unwrap_or(10_000).max(20)
    } else {
        50
    };
    let short = 10;
    let mid = if bench { 500 } else { 20 };
    let rounds = if bench {
        env_usize("HISTORY_BENCH_ROUNDS").unwrap_or(15).max(1)
    } else {
        2
    };
    let warmup = if bench { 2 } else { 0 };
    let worst_rounds = if bench { (rounds / 2).max(3) } else { 1 };
    let read_rounds = if bench { rounds * 2 } else { 2 };
    let phase_rounds = if bench { 7 } else { 1 };
    let cold_rounds = if bench { 5 } else { 1 };
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let sc = scratch.path();

    // The fixtures: the healthy machine the reports run on, and the one with touch
    // failed for the worst case; the templates come from them and two more.
    let healthy = fixture(None);
    let broken = fixture(Some(Break::IptsNotLoaded));
    let stopped = fixture(Some(Break::IptsdStopped));
    let t = Templates {
        healthy: template(&healthy, 1, sc),
        no_ipts: template(&broken, 2, sc),
        iptsd_stopped: template(&stopped, 3, sc),
        now_us: now_us(),
    };
    drop(stopped);
    assert_eq!(touch(&t.healthy), Status::Ok, "the healthy fixture");
    assert!(touch(&t.no_ipts).is_problem(), "no ipts: touch fails");
    assert!(touch(&t.iptsd_stopped).is_problem(), "iptsd stopped");
    let mixed_failing = (0..long)
        .filter(|&i| touch(&generated(Kind::Mixed, 0, i, long, long, &t)).is_problem())
        .count();

    // The histories. The 500-boot one (the default --keep) goes through
    // History::record; a copy written in bulk checks that the bulk writer stores the
    // same records in a file of the same size. The long ones are written in bulk.
    let mid = mid.min(long);
    let a_mid = Db::record(
        &format!("mixed, {mid} boots"),
        Kind::Mixed,
        mid,
        long,
        11,
        &t,
    );
    let twin = Db::bulk("bulk twin", Kind::Mixed, mid, long, 11, &t);
    let all = |d: &Db| {
        History::open_read_only(d.dir())
            .expect("opening")
            .expect("a history")
            .boots(usize::MAX)
            .expect("reading every boot")
    };
    assert!(
        all(&a_mid) == all(&twin),
        "the bulk writer stores what History::record stores"
    );
    let (mid_size, twin_size) = (db_size(&a_mid), db_size(&twin));
    drop(twin);
    let mut a_mid = (bench && long > mid).then_some(a_mid);
    let mut a_short = Db::record(
        &format!("mixed, {short} boots"),
        Kind::Mixed,
        short,
        long,
        10,
        &t,
    );
    let mut a_long = Db::bulk(
        &format!("mixed, {long} boots"),
        Kind::Mixed,
        long,
        long,
        12,
        &t,
    );
    let mut w_short = Db::record(
        &format!("touch never ok, {short}"),
        Kind::TouchNeverOk,
        short,
        long,
        20,
        &t,
    );
    let mut w_long = Db::bulk(
        &format!("touch never ok, {long}"),
        Kind::TouchNeverOk,
        long,
        long,
        21,
        &t,
    );
    let mut w_mid = (bench && long > mid).then(|| {
        Db::record(
            &format!("touch never ok, {mid}"),
            Kind::TouchNeverOk,
            mid,
            long,
            22,
            &t,
        )
    });
    if std::env::var_os("HISTORY_BENCH_KEEP").is_some() {
        // Left in place for profiling a report on them (`perf`, `strace`).
        println!("fixture (healthy): {}", healthy.path().display());
        println!("fixture (touch failed): {}", broken.path().display());
        for d in [&a_short, &a_long, &w_short, &w_long]
            .into_iter()
            .chain(a_mid.as_ref())
            .chain(w_mid.as_ref())
        {
            println!(
                "state dir ({}, --keep {}): {}",
                d.name,
                d.boots,
                d.dir().display()
            );
        }
        std::mem::forget((
            healthy, broken, a_short, a_long, w_short, w_long, a_mid, w_mid,
        ));
        return;
    }
    let filled: Vec<DbSize> = [&a_short, &a_long, &w_long]
        .iter()
        .map(|d| db_size(d))
        .collect();

    // 1: report in a new boot, and again in the same boot, on each size.
    let mut r_short = || a_short.report_new(&healthy, sc);
    let mut r_long = || a_long.report_new(&healthy, sc);
    let mut r_mid = || match &mut a_mid {
        Some(d) => d.report_new(&healthy, sc),
        None => Duration::ZERO.into(),
    };
    let report_rows = interleaved(warmup, rounds, &mut [&mut r_short, &mut r_long, &mut r_mid]);
    let mut s_again = || a_short.report_again(&healthy, sc);
    let mut l_again = || a_long.report_again(&healthy, sc);
    let again_rows = interleaved(warmup, rounds, &mut [&mut s_again, &mut l_again]);

    // 2: touch failed now and on every boot recorded.
    let mut w_s = || w_short.report_new(&broken, sc);
    let mut w_l = || w_long.report_new(&broken, sc);
    let mut w_m = || match &mut w_mid {
        Some(d) => d.report_new(&broken, sc),
        None => Duration::ZERO.into(),
    };
    let worst_rows = interleaved(
        1.min(warmup),
        worst_rounds,
        &mut [&mut w_s, &mut w_l, &mut w_m],
    );

    // 3: the read-only commands.
    let mut h_s = || a_short.history(sc);
    let mut h_l = || a_long.history(sc);
    let mut d_s = || a_short.diff(sc);
    let mut d_l = || a_long.diff(sc);
    let read_rows = interleaved(
        warmup,
        read_rounds,
        &mut [&mut h_s, &mut h_l, &mut d_s, &mut d_l],
    );

    // 6: the long history evicted from the page cache before each run, against the
    // same run with it cached.
    let long_file = a_long.file();
    let mut cold_cached = (0, 0);
    let cell = std::cell::RefCell::new(&mut a_long);
    let mut c_warm = || cell.borrow_mut().report_new(&healthy, sc);
    let mut c_cold = || {
        evict(&long_file);
        cold_cached = cached_pages(&long_file);
        cell.borrow_mut().report_new(&healthy, sc)
    };
    let cold_rows = interleaved(0, cold_rounds, &mut [&mut c_warm, &mut c_cold]);

    // 5: the phases, in-process.
    let mut ph: Vec<Phases> = vec![Phases::default(); 5];
    let current_ok = t.healthy.clone();
    let current_bad = t.no_ipts.clone();
    for _ in 0..phase_rounds {
        phases(&mut a_short, &current_ok, false, &mut ph[0]);
        phases(&mut a_long, &current_ok, false, &mut ph[1]);
        phases(&mut w_short, &current_bad, false, &mut ph[2]);
        phases(&mut w_long, &current_bad, false, &mut ph[3]);
    }
    for _ in 0..cold_rounds.min(3) {
        phases(&mut a_long, &current_ok, true, &mut ph[4]);
    }
    let after: Vec<DbSize> = [&a_short, &a_long, &w_long]
        .iter()
        .map(|d| db_size(d))
        .collect();
    let mid_after = a_mid.as_ref().map(db_size);

    // ---- the figures ----
    println!();
    if !bench {
        println!(
            "smoke run (no --bench): {long} boots against {short}, {rounds} rounds; not a \
             measurement"
        );
    }
    println!(
        "surface-check history benchmark: `report --local --root FIXTURE` (NixOS Surface Book 2 \
         15\", healthy) on histories of {short}{} and {long} boots; {rounds} rounds after \
         {warmup} warm-up, rows interleaved; medians",
        a_mid.as_ref().map_or(String::new(), |_| format!(", {mid}"))
    );
    println!(
        "generated histories: a new kernel (and NixOS generation) every {BOOTS_PER_KERNEL} \
         boots, a boot every {HOURS_APART} h; {mixed_failing} of the {long} mixed boots have \
         touch failed or degraded (every {BAD_KERNEL_EVERY}rd kernel lacks ipts, about 1 boot \
         in {IPTSD_STOPPED_EVERY} has iptsd stopped)"
    );
    for d in [&a_short, &w_short]
        .into_iter()
        .chain(a_mid.as_ref())
        .chain(w_mid.as_ref())
    {
        println!(
            "  {:<26} History::record x {:>5} in {:>9} ms ({:.3} ms a record, in memory)",
            d.name,
            d.boots,
            ms(d.fill),
            d.fill.as_secs_f64() * 1e3 / d.boots as f64
        );
    }
    for d in [&a_long, &w_long] {
        println!(
            "  {:<26} bulk insert x {:>5} in {:>9} ms",
            d.name,
            d.boots,
            ms(d.fill)
        );
    }
    println!(
        "  the bulk writer's {mid} boots read back equal to History::record's: file {} bytes \
         against {} ({:+.2}%)",
        twin_size.file,
        mid_size.file,
        (twin_size.file as f64 / mid_size.file as f64 - 1.0) * 100.0
    );

    println!("\ndatabase size after the fill (the WAL checkpointed into the file):");
    print_size(&a_short.name, &filled[0]);
    print_size(&format!("mixed, {mid} boots"), &mid_size);
    print_size(&a_long.name, &filled[1]);
    print_size(&w_long.name, &filled[2]);
    println!("after the rounds (each run recorded a boot and pruned the oldest):");
    print_size(&a_short.name, &after[0]);
    if let Some(s) = &mid_after {
        print_size(&format!("mixed, {mid} boots"), s);
    }
    print_size(&a_long.name, &after[1]);
    print_size(&w_long.name, &after[2]);

    let head = |what: &str| {
        println!(
            "\n{:<40} {:>9} {:>9} {:>8} {:>8}  ratio to the short history",
            what, "median ms", "min ms", "cpu ms", "RSS MiB"
        );
    };
    let line = |name: &str, r: &Row, base: Option<&Row>| {
        let vs = base.map_or(String::new(), |b| {
            format!(
                "{:>6.2}x medians ({:.2}x per-round median, {:.2}x minima)",
                ratio(r.median(), b.median()),
                r.paired(b),
                ratio(r.min(), b.min())
            )
        });
        println!(
            "{:<40} {:>9} {:>9} {:>8} {:>8}  {}",
            name,
            ms(r.median()),
            ms(r.min()),
            r.cpu().map_or("-".into(), ms),
            r.rss_mib().map_or("-".into(), |m| format!("{m:.1}")),
            vs
        );
    };
    println!(
        "\nprocess rows: wall time from spawn to wait4 and CPU time (user+system) from \
         wait4, medians; peak RSS of one more run through GNU time"
    );
    head("report, a new boot each run");
    line(&format!("{short} boots"), &report_rows[0], None);
    if a_mid.is_some() {
        line(
            &format!("{mid} boots (the default --keep)"),
            &report_rows[2],
            Some(&report_rows[0]),
        );
    }
    line(
        &format!("{long} boots"),
        &report_rows[1],
        Some(&report_rows[0]),
    );
    head("report again in the same boot (resume)");
    line(&format!("{short} boots"), &again_rows[0], None);
    line(
        &format!("{long} boots"),
        &again_rows[1],
        Some(&again_rows[0]),
    );
    head("report, touch failed now and on every boot");
    line(&format!("{short} boots"), &worst_rows[0], None);
    if w_mid.is_some() {
        line(
            &format!("{mid} boots (the default --keep)"),
            &worst_rows[2],
            Some(&worst_rows[0]),
        );
    }
    line(
        &format!("{long} boots"),
        &worst_rows[1],
        Some(&worst_rows[0]),
    );
    head("read-only commands");
    line(
        &format!("history --limit 20, {short} boots"),
        &read_rows[0],
        None,
    );
    line(
        &format!("history --limit 20, {long} boots"),
        &read_rows[1],
        Some(&read_rows[0]),
    );
    line(&format!("diff, {short} boots"), &read_rows[2], None);
    line(
        &format!("diff, {long} boots"),
        &read_rows[3],
        Some(&read_rows[2]),
    );
    head(&format!("report, {long} boots, page cache"));
    line("database cached", &cold_rows[0], None);
    line(
        "database evicted before the run",
        &cold_rows[1],
        Some(&cold_rows[0]),
    );
    println!(
        "  (after the eviction {} of {} pages of the file were still cached)",
        cold_cached.0, cold_cached.1
    );

    println!(
        "\nphases of a report, in-process, medians of {phase_rounds} rounds (ms): open = \
         History::open_with (header check, quick_check, WAL); earlier = reading the earlier \
         boots as report does (history::earlier_boots), `parsed` the boots it returned; record = History::record (insert, \
         prune, sync, checkpoint); quick_check, prune scan (the prune's subquery) and \
         count(*) on a read-only connection of their own, before the open"
    );
    println!(
        "{:<32} {:>8} {:>11} {:>8} {:>7} {:>8} {:>8} {:>10} {:>7}",
        "history",
        "open",
        "quick_check",
        "earlier",
        "parsed",
        "compare",
        "record",
        "prune scan",
        "count"
    );
    let m = |v: &Vec<Duration>| ms(median(v.clone(), |a, b| (a + b) / 2));
    let cold_name = format!("{}, evicted", a_long.name);
    for (name, p) in [
        &a_short.name,
        &a_long.name,
        &w_short.name,
        &w_long.name,
        &cold_name,
    ]
    .iter()
    .zip(&ph)
    {
        println!(
            "{:<32} {:>8} {:>11} {:>8} {:>7} {:>8} {:>8} {:>10} {:>7}",
            name,
            m(&p.open),
            m(&p.quick_check),
            m(&p.earlier),
            p.parsed,
            m(&p.compare),
            m(&p.record),
            m(&p.prune_scan),
            m(&p.count)
        );
    }
    println!("\nbench took {:.1} s", started.elapsed().as_secs_f64());
}
