//! The history database (src/history/store.rs) on real SQLite files and real
//! processes: a writer killed with SIGKILL at random points, corrupt and truncated
//! files, a newer schema, a full disk (a small tmpfs), retention, records that do
//! not parse, and a reader that must not create anything.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use surface_check::facts::Facts;
use surface_check::history::store::{
    DB_FILE, DEFAULT_KEEP, HistoryError, Recorded, SCHEMA_VERSION,
};
use surface_check::history::{BootRecord, DiffFacts, History};
use surface_check::profiles::SURFACE_BOOK_2;
use surface_check::report::Report;

// ---------------------------------------------------------------------------
// helpers

/// The report and the diff facts the `sb2-15-nixos` facts seed gives.
fn seed() -> &'static (Report, DiffFacts) {
    static SEED: OnceLock<(Report, DiffFacts)> = OnceLock::new();
    SEED.get_or_init(|| {
        let facts = Facts::from_json(include_bytes!("../fuzz/seeds/facts_json/sb2-15-nixos.json"))
            .expect("the facts seed parses");
        (
            surface_check::checks::diagnose(&facts, &SURFACE_BOOK_2, "test"),
            DiffFacts::from_facts(&facts, &SURFACE_BOOK_2),
        )
    })
}

fn report() -> &'static Report {
    &seed().0
}

/// A boot id: a UUID made from `n`.
fn id(n: u64) -> String {
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        n.wrapping_mul(0x9e37_79b9) & 0xffff_ffff,
        n
    )
}

fn rec(boot_id: &str, kernel: &str, generation: Option<u32>, recorded_us: u64) -> BootRecord {
    BootRecord {
        boot_id: boot_id.to_string(),
        recorded_us,
        kernel: kernel.to_string(),
        generation,
        report: report().clone(),
        facts: seed().1.clone(),
    }
}

fn nth(n: u64) -> BootRecord {
    rec(
        &id(n),
        &format!("6.{}.{n}-surface", 18 + n % 2),
        u32::try_from(40 + n).ok(),
        1_700_000_000_000_000 + n,
    )
}

fn ids(boots: &[BootRecord]) -> Vec<String> {
    boots.iter().map(|b| b.boot_id.clone()).collect()
}

/// What `f` logged (tracing, all levels from warn), as text.
fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    (out, text)
}

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// A database in `dir` holding boots `0..n`, closed (checkpointed: one file).
fn real_db(dir: &Path, n: u64) -> Vec<u8> {
    let mut h = History::open(dir).unwrap();
    for i in 0..n {
        h.record(&nth(i)).unwrap();
    }
    drop(h);
    assert!(!dir.join(format!("{DB_FILE}-wal")).exists());
    std::fs::read(dir.join(DB_FILE)).unwrap()
}

/// Deterministic pseudo-random numbers (xorshift64*), seeded per run and printed.
struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("HISTORY_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("random seed {seed} (HISTORY_SEED={seed} repeats this run)");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A checkout's `history.sqlite` as a database opened directly, not through History.
fn raw(dir: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

// ---------------------------------------------------------------------------
// basics

#[test]
fn records_boots_newest_first_and_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut h = History::open(&state).unwrap();
    assert_eq!(h.path(), state.join(DB_FILE));
    assert!(h.moved_aside().is_none());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join(DB_FILE)), 0o600);

    assert_eq!(h.find("latest").unwrap(), None);
    for i in 0..5 {
        assert_eq!(h.record(&nth(i)).unwrap(), Recorded::New);
    }
    // An update keeps the boot's place (first-recorded order) and replaces its record.
    let mut again = nth(1);
    again.recorded_us += 1_000_000;
    again.kernel = "6.19.9-surface".into();
    again.generation = None;
    assert_eq!(h.record(&again).unwrap(), Recorded::Updated);
    assert_eq!(h.count().unwrap(), 5);
    let all = h.boots(usize::MAX).unwrap();
    assert_eq!(ids(&all), [4, 3, 2, 1, 0].map(id));
    assert_eq!(all[3], again);
    assert_eq!(all[0], nth(4));
    assert_eq!(ids(&h.boots(2).unwrap()), [4, 3].map(id));
    assert!(h.boots(0).unwrap().is_empty());

    assert_eq!(h.boot(&id(2)).unwrap(), Some(nth(2)));
    assert_eq!(h.boot(&id(99)).unwrap(), None);
    let found = |s: &str| h.find(s).unwrap().map(|b| b.boot_id);
    assert_eq!(found("latest"), Some(id(4)));
    assert_eq!(found("-0"), Some(id(4)));
    assert_eq!(found("previous"), Some(id(3)));
    assert_eq!(found("-1"), Some(id(3)));
    assert_eq!(found("-4"), Some(id(0)));
    assert_eq!(found("-5"), None);
    assert_eq!(found(&id(2)), Some(id(2)));
    // A unique prefix, in any case.
    let prefix = &id(2)[..6];
    assert_eq!(found(prefix), Some(id(2)));
    assert_eq!(found(&prefix.to_uppercase()), Some(id(2)));
    assert_eq!(found("ffff"), None);
    // Too short, ambiguous, nonsense.
    for bad in ["abc", "-x", ""] {
        assert!(
            matches!(h.find(bad), Err(HistoryError::Selector(_))),
            "{bad:?}"
        );
    }
    h.record(&rec("aaaa1111-0000-4000-8000-000000000001", "k", None, 1))
        .unwrap();
    h.record(&rec("aaaa2222-0000-4000-8000-000000000002", "k", None, 2))
        .unwrap();
    let e = h.find("aaaa").unwrap_err();
    assert!(
        e.to_string().contains("more than one boot"),
        "ambiguous prefix: {e}"
    );
    assert_eq!(
        h.find("aaaa2").unwrap().map(|b| b.boot_id),
        Some("aaaa2222-0000-4000-8000-000000000002".into())
    );

    // Baseline.
    assert_eq!(h.baseline().unwrap(), None);
    assert!(matches!(
        h.accept(&id(99)),
        Err(HistoryError::NotRecorded(ref b)) if *b == id(99)
    ));
    h.accept(&id(3)).unwrap();
    assert_eq!(h.baseline().unwrap(), Some(id(3)));
    drop(h);

    // Everything is there on reopening, read-only too.
    let r = History::open_read_only(&state)
        .unwrap()
        .expect("a database");
    assert_eq!(r.count().unwrap(), 7);
    assert_eq!(r.baseline().unwrap(), Some(id(3)));
    assert_eq!(r.boot(&id(1)).unwrap(), Some(again));
    assert_eq!(DEFAULT_KEEP, 500);
}

#[test]
fn a_read_only_history_refuses_writes_and_leaves_no_files() {
    let dir = tempfile::tempdir().unwrap();
    real_db(dir.path(), 2);
    let before = snapshot(dir.path());
    let mut r = History::open_read_only(dir.path()).unwrap().unwrap();
    assert_eq!(r.count().unwrap(), 2);
    assert!(r.record(&nth(7)).is_err());
    assert!(r.accept(&id(0)).is_err());
    drop(r);
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a reader changed the directory"
    );
}

#[test]
fn open_read_only_on_a_missing_database_returns_none_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-there");
    assert!(History::open_read_only(&missing).unwrap().is_none());
    assert!(!missing.exists(), "the state directory was created");
    assert!(History::open_read_only(dir.path()).unwrap().is_none());
    assert!(
        snapshot(dir.path()).is_empty(),
        "files appeared: {:?}",
        snapshot(dir.path()).keys().collect::<Vec<_>>()
    );
    // A database file created but never migrated holds nothing either.
    std::fs::write(dir.path().join(DB_FILE), b"").unwrap();
    assert!(History::open_read_only(dir.path()).unwrap().is_none());
    assert_eq!(snapshot(dir.path()).len(), 1);
}

// ---------------------------------------------------------------------------
// SIGKILL

/// examples/history-writer.rs, built with this test's profile.
fn writer_bin() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--example",
                "history-writer",
                "--message-format=json",
            ])
            .output()
            .expect("running cargo build --example history-writer");
        assert!(
            out.status.success(),
            "cargo build --example history-writer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                v["reason"] == "compiler-artifact" && v["target"]["name"] == "history-writer"
            })
            .find_map(|v| v["executable"].as_str().map(PathBuf::from))
            .expect("cargo build reported no history-writer executable")
    })
}

#[test]
fn sigkill_at_random_points_loses_no_committed_boot() {
    const KILLS: usize = 100;
    let bin = writer_bin();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut rng = Rng::new();
    // Boot id -> the latest recorded_us the writer reported committed for it.
    let mut committed: HashMap<String, u64> = HashMap::new();
    let mut runs_with_records = 0;
    let started = Instant::now();
    for run in 0..KILLS {
        let mut child = Command::new(bin)
            .arg(&state)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting history-writer");
        // The writer (a debug build) takes some 30 to 50 ms to its first commit and
        // some 20 ms a record (two syncs): killed during start-up or opening in about
        // a quarter of the runs, among its first few records in the others.
        let delay = match rng.below(4) {
            0 => rng.below(30_000),
            _ => 30_000 + rng.below(90_000),
        };
        std::thread::sleep(Duration::from_micros(delay));
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("run {run}: history-writer ended by itself ({status}): {err}");
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL),
            "run {run}: {status}"
        );
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(err.is_empty(), "run {run}: history-writer said: {err}");
        // Only whole lines: a line is written after its commit, in one write.
        let mut this_run = Vec::new();
        for line in out.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let (boot_id, us) = line.trim_end().split_once(' ').expect("`<id> <us>`");
            let us: u64 = us.parse().unwrap();
            let e = committed.entry(boot_id.to_string()).or_insert(0);
            *e = (*e).max(us);
            this_run.push(boot_id.to_string());
        }
        if !this_run.is_empty() {
            runs_with_records += 1;
        }

        // The database opens as it is (never moved aside), and every boot committed
        // in this run is there in full, as recorded or later.
        let h = History::open(&state)
            .unwrap_or_else(|e| panic!("run {run} (killed after {delay} us): open: {e}"));
        assert!(
            h.moved_aside().is_none(),
            "run {run}: a killed writer's database was moved aside"
        );
        for boot_id in &this_run {
            let b = h
                .boot(boot_id)
                .unwrap_or_else(|e| panic!("run {run}: boot {boot_id}: {e}"))
                .unwrap_or_else(|| panic!("run {run}: committed boot {boot_id} is gone"));
            assert!(
                b.recorded_us >= committed[boot_id],
                "run {run}: {boot_id} went back"
            );
            assert!(
                b.report.subsystems == report().subsystems
                    && b.report.source == "history-writer"
                    && b.facts == seed().1,
                "run {run}: {boot_id}: another report"
            );
        }
        // And every boot committed in any earlier run.
        let stored: std::collections::HashSet<String> = raw(&state)
            .prepare("SELECT boot_id FROM boots")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let lost: Vec<&String> = committed.keys().filter(|k| !stored.contains(*k)).collect();
        assert!(lost.is_empty(), "run {run}: committed boots lost: {lost:?}");
    }
    // At the end every record parses.
    let h = History::open(&state).unwrap();
    let all = h.boots(usize::MAX).unwrap();
    assert_eq!(all.len(), h.count().unwrap(), "a record does not parse");
    for b in &all {
        if let Some(us) = committed.get(&b.boot_id) {
            assert!(b.recorded_us >= *us);
        }
    }
    eprintln!(
        "{KILLS} kills in {:.1} s; {} boots committed, in {runs_with_records} runs; {} stored",
        started.elapsed().as_secs_f64(),
        committed.len(),
        all.len()
    );
    // Kills landed both before the first commit and among commits.
    assert!(runs_with_records >= KILLS / 4, "too few runs got to record");
    assert!(
        runs_with_records < KILLS,
        "no kill landed before a first record"
    );
}

// ---------------------------------------------------------------------------
// corrupt, truncated, newer

/// Opens `dir`, whose database is corrupt: it is moved aside with a warning naming
/// both files, holding exactly `old` (and the WAL `old_wal`, when given), and a
/// fresh database works.
fn assert_moved_aside(dir: &Path, old: &[u8], old_wal: Option<&[u8]>, what: &str) {
    let (h, log) = logged(|| History::open(dir));
    let mut h = h.unwrap_or_else(|e| panic!("{what}: open: {e}"));
    let moved = h
        .moved_aside()
        .unwrap_or_else(|| panic!("{what}: not moved aside"))
        .to_path_buf();
    let name = moved.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("{DB_FILE}.corrupt-")),
        "{what}: moved to {name}"
    );
    assert_eq!(moved.parent(), Some(dir));
    assert_eq!(
        std::fs::read(&moved).unwrap(),
        old,
        "{what}: the moved file does not hold the old bytes"
    );
    let moved_wal = PathBuf::from(format!("{}-wal", moved.display()));
    match old_wal {
        Some(w) => assert_eq!(std::fs::read(&moved_wal).unwrap(), w, "{what}: WAL"),
        // Or the empty one SQLite made when it opened the file.
        None => assert!(
            std::fs::metadata(&moved_wal).map_or(true, |m| m.len() == 0),
            "{what}: a WAL was moved too: {:?}",
            snapshot(dir).keys().collect::<Vec<_>>()
        ),
    }
    assert!(
        log.contains("WARN")
            && log.contains("corrupt")
            && log.contains(&moved.display().to_string())
            && log.contains(&h.path().display().to_string()),
        "{what}: the warning: {log}"
    );
    assert_eq!(h.count().unwrap(), 0, "{what}");
    h.record(&nth(1000)).unwrap();
    drop(h);
    let h = History::open(dir).unwrap();
    assert!(
        h.moved_aside().is_none(),
        "{what}: the fresh one was moved too"
    );
    assert_eq!(h.boots(10).unwrap(), vec![nth(1000)], "{what}");
}

#[test]
fn a_garbage_database_is_moved_aside_and_a_fresh_one_works() {
    let mut rng = Rng::new();
    for (what, bytes) in [
        ("random bytes", rng.bytes(10_000)),
        ("one byte", vec![0x42]),
        ("text", b"this is not a database\n".repeat(300)),
        ("a header and garbage", {
            let mut b = b"SQLite format 3\0".to_vec();
            b.extend(rng.bytes(8192));
            b
        }),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DB_FILE), &bytes).unwrap();
        assert_moved_aside(dir.path(), &bytes, None, what);
    }
}

#[test]
fn a_real_database_truncated_at_several_lengths_is_moved_aside() {
    let template = tempfile::tempdir().unwrap();
    let full = real_db(template.path(), 30);
    let len = full.len();
    assert!(len > 16 * 4096, "the database is {len} bytes");
    let mut lengths = vec![
        1,
        16,
        50,
        99,
        100,
        101,
        512,
        4095,
        4096,
        4097,
        3 * 4096,
        len / 2,
        len / 2 + 123,
        len - 4096,
        len - 100,
        len - 1,
    ];
    let mut rng = Rng::new();
    lengths.extend((0..8).map(|_| 1 + rng.below(len as u64 - 1) as usize));
    for cut in lengths {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DB_FILE), &full[..cut]).unwrap();
        assert_moved_aside(
            dir.path(),
            &full[..cut],
            None,
            &format!("cut at {cut} of {len}"),
        );
    }
}

#[test]
fn a_garbage_wal_over_an_intact_database_keeps_the_history() {
    // SQLite ignores a WAL whose header or frames fail their checksums: the
    // database's committed boots are all there, nothing is moved aside.
    let mut rng = Rng::new();
    let dir = tempfile::tempdir().unwrap();
    real_db(dir.path(), 5);
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    let shm = dir.path().join(format!("{DB_FILE}-shm"));
    for (what, wal_bytes, shm_bytes) in [
        ("random WAL", rng.bytes(50_000), None),
        (
            "random WAL and shm",
            rng.bytes(4096),
            Some(rng.bytes(32_768)),
        ),
        (
            "a WAL header and garbage",
            {
                let mut b = vec![0x37, 0x7f, 0x06, 0x82, 0, 0x2d, 0xe2, 0x18, 0, 0, 0x10, 0];
                b.extend(rng.bytes(20_000));
                b
            },
            None,
        ),
    ] {
        std::fs::write(&wal, &wal_bytes).unwrap();
        if let Some(s) = &shm_bytes {
            std::fs::write(&shm, s).unwrap();
        }
        let mut h = History::open(dir.path()).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(h.moved_aside().is_none(), "{what}");
        assert_eq!(
            ids(&h.boots(usize::MAX).unwrap()),
            [4, 3, 2, 1, 0].map(id),
            "{what}"
        );
        h.record(&nth(5)).unwrap();
        drop(h);
        let h = History::open(dir.path()).unwrap();
        assert_eq!(h.count().unwrap(), 6, "{what}");
        drop(h);
        raw(dir.path())
            .execute("DELETE FROM boots WHERE boot_id = ?1", [id(5)])
            .unwrap();
    }
}

#[test]
fn a_garbage_wal_with_a_corrupt_database_is_moved_aside_with_it() {
    let mut rng = Rng::new();
    let template = tempfile::tempdir().unwrap();
    let full = real_db(template.path(), 10);
    for (what, db) in [
        ("garbage", rng.bytes(9000)),
        ("truncated", full[..full.len() / 2].to_vec()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let wal_bytes = rng.bytes(12_345);
        std::fs::write(dir.path().join(DB_FILE), &db).unwrap();
        std::fs::write(dir.path().join(format!("{DB_FILE}-wal")), &wal_bytes).unwrap();
        assert_moved_aside(dir.path(), &db, Some(&wal_bytes), what);
    }
}

type Open = fn(&Path) -> Result<(), HistoryError>;

#[test]
fn a_newer_database_is_an_error_and_left_untouched() {
    // Checkpointed: the version is in the file's header.
    let dir = tempfile::tempdir().unwrap();
    let c = raw(dir.path());
    c.execute_batch(
        "PRAGMA journal_mode = WAL; CREATE TABLE boots2 (x); INSERT INTO boots2 VALUES (1);
         PRAGMA user_version = 7;",
    )
    .unwrap();
    drop(c);
    let before = snapshot(dir.path());
    assert_eq!(before.len(), 1);
    let opens: [Open; 3] = [
        |d: &Path| History::open(d).map(|_| ()),
        |d: &Path| History::open_with(d, 3).map(|_| ()),
        |d: &Path| History::open_read_only(d).map(|_| ()),
    ];
    for open in opens {
        match open(dir.path()) {
            Err(HistoryError::Newer {
                path,
                found: 7,
                supported: SCHEMA_VERSION,
            }) => assert_eq!(path, dir.path().join(DB_FILE)),
            other => panic!("{other:?}"),
        }
        assert_eq!(snapshot(dir.path()), before, "the directory changed");
    }
    let e = History::open(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("newer surface-check") && e.contains("untouched") && e.contains(DB_FILE),
        "{e}"
    );

    // The newer version only in the WAL (a newer surface-check killed before its
    // checkpoint): the header says 1, SQLite says 7.
    let dir = tempfile::tempdir().unwrap();
    real_db(dir.path(), 3);
    let c = raw(dir.path());
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .unwrap();
    c.execute_batch("PRAGMA user_version = 9; INSERT INTO meta VALUES ('x', 'y');")
        .unwrap();
    drop(c);
    let db = std::fs::read(dir.path().join(DB_FILE)).unwrap();
    let wal = std::fs::read(dir.path().join(format!("{DB_FILE}-wal"))).unwrap();
    assert!(!wal.is_empty());
    let opens: [Open; 2] = [
        |d: &Path| History::open(d).map(|_| ()),
        |d: &Path| History::open_read_only(d).map(|_| ()),
    ];
    for open in opens {
        assert!(
            matches!(open(dir.path()), Err(HistoryError::Newer { found: 9, .. })),
            "a WAL-only newer version"
        );
        assert_eq!(std::fs::read(dir.path().join(DB_FILE)).unwrap(), db);
        assert_eq!(
            std::fs::read(dir.path().join(format!("{DB_FILE}-wal"))).unwrap(),
            wal
        );
    }
}

// ---------------------------------------------------------------------------
// full disk

/// A tmpfs mounted on a temporary directory, unmounted when dropped (also when the
/// test fails).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("running mount(8) for the full-disk test: {e}"));
        assert!(
            out.status.success(),
            "the full-disk test mounts a {size} tmpfs and needs root (CAP_SYS_ADMIN): \
             mount -t tmpfs failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_loses_nothing() {
    let fs = Tmpfs::mount("256k");
    let state = fs.path().join("state");
    // Room to free later.
    let filler = fs.path().join("filler");
    std::fs::write(&filler, vec![0u8; 48 * 1024]).unwrap();

    let mut h = History::open(&state).unwrap();
    let mut recorded = Vec::new();
    let err = loop {
        let n = recorded.len() as u64;
        assert!(n < 10_000, "a 256k tmpfs never filled");
        match h.record(&nth(n)) {
            Ok(Recorded::New) => recorded.push(nth(n)),
            Ok(Recorded::Updated) => panic!("boot {n} was there already"),
            Err(e) => break e,
        }
    };
    let text = err.to_string();
    assert!(
        matches!(err, HistoryError::Full { ref path, .. } if path == &state.join(DB_FILE)),
        "{err:?}"
    );
    assert!(
        text.contains("no space left") && text.contains(&state.display().to_string()),
        "{text}"
    );
    assert!(recorded.len() >= 2, "only {} boots fitted", recorded.len());
    eprintln!("{} boots fitted before: {text}", recorded.len());
    // Again: still Full, nothing half-written.
    assert!(matches!(
        h.record(&nth(recorded.len() as u64)),
        Err(HistoryError::Full { .. })
    ));
    let newest_first: Vec<BootRecord> = recorded.iter().rev().cloned().collect();
    assert_eq!(h.boots(usize::MAX).unwrap(), newest_first);
    drop(h);

    // Reopened on the full disk, for writing and for reading: all there.
    let h = History::open(&state).unwrap_or_else(|e| panic!("reopen on a full disk: {e}"));
    assert!(h.moved_aside().is_none());
    assert_eq!(h.boots(usize::MAX).unwrap(), newest_first);
    drop(h);
    let r = History::open_read_only(&state).unwrap().unwrap();
    assert_eq!(r.boots(usize::MAX).unwrap(), newest_first);
    drop(r);

    // A new database on the full disk: Full too, not a panic or a corrupt file.
    let other = fs.path().join("other");
    let mut fill = std::fs::OpenOptions::new()
        .append(true)
        .open(&filler)
        .unwrap();
    while fill.write_all(&[0u8; 4096]).is_ok() {}
    drop(fill);
    match History::open(&other).and_then(|mut h| h.record(&nth(0))) {
        Err(HistoryError::Full { .. }) => {}
        other => panic!("a new database on a full disk: {other:?}"),
    }

    // Space freed: recording works again, and nothing was lost.
    std::fs::remove_file(&filler).unwrap();
    let mut h = History::open(&state).unwrap();
    let n = recorded.len() as u64;
    assert_eq!(h.record(&nth(n)).unwrap(), Recorded::New);
    recorded.push(nth(n));
    assert_eq!(
        h.boots(usize::MAX).unwrap(),
        recorded.iter().rev().cloned().collect::<Vec<_>>()
    );
    drop(h);
    drop(fs);
}

// ---------------------------------------------------------------------------
// retention, records that do not parse

#[test]
fn retention_prunes_the_oldest_never_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open_with(dir.path(), 3).unwrap();
    h.record(&nth(0)).unwrap();
    h.record(&nth(1)).unwrap();
    h.accept(&id(1)).unwrap();
    for i in 2..8 {
        h.record(&nth(i)).unwrap();
    }
    // The newest three, and the baseline.
    assert_eq!(ids(&h.boots(usize::MAX).unwrap()), [7, 6, 5, 1].map(id));
    assert_eq!(h.count().unwrap(), 4);
    assert_eq!(h.baseline().unwrap(), Some(id(1)));
    // An update adds nothing and prunes nothing more.
    h.record(&nth(6)).unwrap();
    assert_eq!(ids(&h.boots(usize::MAX).unwrap()), [7, 6, 5, 1].map(id));

    // A new baseline among the newest: the old one goes with the next record.
    h.accept(&id(6)).unwrap();
    h.record(&nth(8)).unwrap();
    assert_eq!(ids(&h.boots(usize::MAX).unwrap()), [8, 7, 6].map(id));
    // Then the baseline stays while newer boots push past it.
    for i in 9..12 {
        h.record(&nth(i)).unwrap();
    }
    assert_eq!(ids(&h.boots(usize::MAX).unwrap()), [11, 10, 9, 6].map(id));
    drop(h);

    // Another keep on reopening; 0 keeps the boot just recorded.
    let mut h = History::open_with(dir.path(), 0).unwrap();
    h.record(&nth(12)).unwrap();
    assert_eq!(ids(&h.boots(usize::MAX).unwrap()), [12, 6].map(id));
}

#[test]
fn a_record_that_does_not_parse_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path()).unwrap();
    h.record(&nth(0)).unwrap();
    h.record(&nth(1)).unwrap();
    let report_json = serde_json::to_string(report()).unwrap();
    let c = raw(dir.path());
    let insert = |boot_id: &str,
                  us: rusqlite::types::Value,
                  kernel: rusqlite::types::Value,
                  generation: rusqlite::types::Value,
                  report: &str,
                  facts: &str| {
        c.execute(
            "INSERT INTO boots (boot_id, first_us, recorded_us, kernel, generation, overall,
                                report, facts)
             VALUES (?1, 0, ?2, ?3, ?4, 'ok', ?5, ?6)",
            rusqlite::params![boot_id, us, kernel, generation, report, facts],
        )
        .unwrap();
    };
    use rusqlite::types::Value as V;
    let k = || V::Text("6.1".into());
    insert("bad-report", V::Integer(1), k(), V::Null, "{not json", "{}");
    insert(
        "bad-report-shape",
        V::Integer(1),
        k(),
        V::Null,
        r#"{"overall":"ok"}"#,
        "{}",
    );
    insert(
        "bad-facts",
        V::Integer(1),
        k(),
        V::Null,
        &report_json,
        "[1, 2",
    );
    insert(
        "deep-json",
        V::Integer(1),
        k(),
        V::Null,
        &"[".repeat(100_000),
        "{}",
    );
    insert(
        "negative-time",
        V::Integer(-5),
        k(),
        V::Null,
        &report_json,
        "{}",
    );
    insert(
        "huge-generation",
        V::Integer(1),
        k(),
        V::Integer(1 << 40),
        &report_json,
        "{}",
    );
    insert(
        "blob-kernel",
        V::Integer(1),
        V::Blob(vec![0xff, 0]),
        V::Null,
        &report_json,
        "{}",
    );
    insert(
        "text-time",
        V::Text("yesterday".into()),
        k(),
        V::Null,
        &report_json,
        "{}",
    );
    drop(c);
    h.record(&nth(2)).unwrap();

    let (boots, log) = logged(|| h.boots(usize::MAX));
    assert_eq!(ids(&boots.unwrap()), [2, 1, 0].map(id));
    for bad in [
        "bad-report",
        "bad-report-shape",
        "bad-facts",
        "deep-json",
        "negative-time",
        "huge-generation",
        "blob-kernel",
        "text-time",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains("WARN") && l.contains("does not parse") && l.contains(bad)),
            "no warning for {bad}: {log}"
        );
        assert!(
            matches!(h.boot(bad), Err(HistoryError::Record(ref m)) if m.contains(bad)),
            "{bad}"
        );
    }
    // A limit counts the records that parse; `-N` counts as boots() lists.
    assert_eq!(ids(&logged(|| h.boots(2)).0.unwrap()), [2, 1].map(id));
    assert_eq!(h.count().unwrap(), 11);
    assert_eq!(
        logged(|| h.find("previous")).0.unwrap().unwrap().boot_id,
        id(1)
    );
    assert_eq!(logged(|| h.find("-2")).0.unwrap().unwrap().boot_id, id(0));
    assert_eq!(h.find("-3").unwrap_or(None), None);
    // And the database is not "corrupt" for it.
    drop(h);
    let (h, _) = logged(|| History::open(dir.path()));
    assert!(h.unwrap().moved_aside().is_none());
}

#[test]
fn two_writers_and_a_reader_share_the_database() {
    let dir = tempfile::tempdir().unwrap();
    History::open(dir.path()).unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (dir, done) = (dir.path().to_path_buf(), done.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let r = History::open_read_only(&dir).unwrap().unwrap();
                let boots = r.boots(5).unwrap();
                assert!(boots.len() <= 5);
                reads += 1;
            }
            reads
        })
    };
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut h = History::open(&dir).unwrap();
                for i in 0..15 {
                    assert_eq!(h.record(&nth(w * 100 + i)).unwrap(), Recorded::New);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    let h = History::open(dir.path()).unwrap();
    assert_eq!(h.count().unwrap(), 30);
    assert_eq!(h.boots(usize::MAX).unwrap().len(), 30);
}
