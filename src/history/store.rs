//! The history database: one row per boot in `history.sqlite` in the state directory.
//!
//! - SQLite in WAL mode with `synchronous=FULL`: a commit is on disk (the WAL synced)
//!   before [`History::record`] returns, so neither a SIGKILL nor a power cut or a
//!   kernel panic right after the report loses a recorded boot. It costs one sync
//!   per boot recorded. After each record the WAL is checkpointed and truncated, so
//!   the database is one file between writes and a full disk holds no WAL to replay.
//! - Schema migrations from version 0 ([`MIGRATIONS`]), in one transaction, with the
//!   version in `PRAGMA user_version`. A database from a newer surface-check
//!   (`user_version` above [`SCHEMA_VERSION`]) is left byte-for-byte untouched:
//!   [`HistoryError::Newer`].
//! - A corrupt database (not a database, truncated, failing `PRAGMA quick_check`, or
//!   without the history's tables) is moved aside with its `-wal`/`-shm`/`-journal`
//!   files to `history.sqlite.corrupt-<unix seconds>` (SQLite opens the moved copy
//!   with its moved WAL, for salvage), with a warning, and a new history is started.
//!   Until the check has passed the connection does not checkpoint on close, so the
//!   moved files hold exactly the bytes that were found.
//! - A full disk (`SQLITE_FULL`, `ENOSPC`) is [`HistoryError::Full`]; the failed
//!   transaction rolls back and everything committed before stays.
//! - A stored record that does not deserialize (written by something else) is
//!   skipped with a warning by [`History::boots`], and is [`HistoryError::Record`]
//!   where one boot is asked for.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{BootRecord, DiffFacts};
use crate::report::{Report, Status};

/// The schema this build writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = 2;
/// The database's file name in the state directory.
pub const DB_FILE: &str = "history.sqlite";
/// Boots kept by default (the baseline boot is kept beyond them).
pub const DEFAULT_KEEP: usize = 500;
/// The state directory when systemd does not name one.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/surface-check";

/// How long a statement waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The smallest prefix of a boot id [`History::find`] accepts.
const MIN_PREFIX: usize = 4;
/// The `meta` key holding the baseline boot id.
const BASELINE_KEY: &str = "baseline";

/// Schema steps: `MIGRATIONS[i]` takes a database from version `i` to `i + 1`.
/// Never edit a released step; append one.
pub const MIGRATIONS: &[&str] = &[
    // 0 -> 1
    "CREATE TABLE boots (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        boot_id TEXT UNIQUE NOT NULL,
        first_us INTEGER NOT NULL,
        recorded_us INTEGER NOT NULL,
        kernel TEXT NOT NULL,
        generation INTEGER,
        overall TEXT NOT NULL,
        report TEXT NOT NULL,
        facts TEXT NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);",
    // 1 -> 2: each boot's status per subsystem, indexed, so that the newest boot
    // where a subsystem was ok is one lookup instead of a walk through every
    // report; filled from the reports recorded so far.
    "CREATE TABLE statuses (
        seq INTEGER NOT NULL,
        subsystem TEXT NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (subsystem, status, seq)
    ) WITHOUT ROWID;
    CREATE INDEX statuses_by_seq ON statuses (seq);
    -- The prune's `ORDER BY seq DESC ... OFFSET keep` reads this small index, not
    -- the rows (each holds a report): 0.1 ms instead of 16 ms at 10,000 boots.
    CREATE INDEX boots_by_seq ON boots (seq);
    CREATE TRIGGER statuses_of_gone_boots AFTER DELETE ON boots
    BEGIN DELETE FROM statuses WHERE seq = old.seq; END;
    INSERT OR IGNORE INTO statuses (seq, subsystem, status)
        SELECT b.seq, json_extract(s.value, '$.id'), json_extract(s.value, '$.status')
        FROM boots b,
             json_each(CASE WHEN json_valid(b.report)
                             AND json_type(b.report, '$.subsystems') = 'array'
                            THEN b.report ELSE '{}' END,
                       '$.subsystems') s
        WHERE s.type = 'object'
          AND json_type(CASE WHEN s.type = 'object' THEN s.value END, '$.id') = 'text'
          AND json_type(CASE WHEN s.type = 'object' THEN s.value END, '$.status') = 'text';",
];

const _: () = assert!(MIGRATIONS.len() == SCHEMA_VERSION as usize);

/// The columns every query reads, in the order [`parse_row`] expects.
const COLUMNS: &str = "boot_id, recorded_us, kernel, generation, report, facts, seq";
/// Statements that prepare only on the history's schema (checked at open).
const SCHEMA_PROBES: &[&str] = &[
    "SELECT seq, boot_id, first_us, recorded_us, kernel, generation, overall, report, facts \
     FROM boots LIMIT 0",
    "SELECT key, value FROM meta LIMIT 0",
    "SELECT seq, subsystem, status FROM statuses LIMIT 0",
];

/// The newest boot in a range where a subsystem had a status: from the `statuses`
/// table (schema 2), or, in a database of schema 1 opened for reading (only a
/// writer migrates), from the stored reports themselves.
const NEWEST_WITH_STATUS: &str = "SELECT max(seq) FROM statuses
     WHERE subsystem = ?1 AND status = ?2 AND seq < ?3 AND seq >= ?4";
const NEWEST_WITH_STATUS_V1: &str = "SELECT max(b.seq) FROM boots b,
         json_each(CASE WHEN json_valid(b.report)
                         AND json_type(b.report, '$.subsystems') = 'array'
                        THEN b.report ELSE '{}' END,
                   '$.subsystems') s
     WHERE b.seq < ?3 AND b.seq >= ?4 AND s.type = 'object'
       AND json_extract(CASE WHEN s.type = 'object' THEN s.value END, '$.id') = ?1
       AND json_extract(CASE WHEN s.type = 'object' THEN s.value END, '$.status') = ?2";

/// The state directory: the first path of `$STATE_DIRECTORY` (systemd's
/// `StateDirectory=` sets it, colon-separated when a unit names several), else
/// `/var/lib/surface-check`.
pub fn state_dir() -> PathBuf {
    state_dir_from(std::env::var_os("STATE_DIRECTORY").as_deref())
}

fn state_dir_from(var: Option<&OsStr>) -> PathBuf {
    var.and_then(|v| v.as_bytes().split(|&b| b == b':').next())
        .map(|p| PathBuf::from(OsStr::from_bytes(p)))
        // systemd always gives an absolute path; a relative one would depend on the
        // working directory.
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "{} was written by a newer surface-check (history schema {found}; this one reads up to \
         {supported}); it is left untouched: use the newer surface-check, or move the file away \
         to start a new history",
        path.display()
    )]
    Newer {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "no space left on the disk holding {}: nothing was written, and the boots recorded \
         before are kept; free some space there ({detail})",
        path.display()
    )]
    Full { path: PathBuf, detail: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Found by a reader, which moves nothing; [`History::open`] moves a corrupt
    /// database aside instead.
    #[error(
        "the history database {} is corrupt ({detail}); `surface-check report` moves it aside \
         and starts a new history",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("history database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record that does not parse.
    #[error("a stored boot record does not parse: {0}")]
    Record(String),
    /// [`History::accept`] of a boot that is not recorded.
    #[error("boot {0} is not in the history")]
    NotRecorded(String),
    /// A [`History::find`] selector that names no boot unambiguously.
    #[error("{0}")]
    Selector(String),
}

/// What [`History::record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The boot was not recorded before.
    New,
    /// The boot's record was replaced (its place in the order kept).
    Updated,
}

/// The history database, open.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    path: PathBuf,
    keep: usize,
    moved_aside: Option<PathBuf>,
    /// The schema of the file: [`SCHEMA_VERSION`], or older when opened for reading.
    version: u32,
}

/// What checking a database at open found.
enum Checked {
    Fine(Connection),
    Corrupt(String),
    Newer(u32),
}

impl History {
    /// Opens (creating it when missing: the directory 0700, the file 0600) the
    /// database in `dir`, keeping [`DEFAULT_KEEP`] boots.
    pub fn open(dir: &Path) -> Result<History, HistoryError> {
        History::open_with(dir, DEFAULT_KEEP)
    }

    /// [`History::open`] keeping `keep` boots (at least 1) besides the baseline.
    pub fn open_with(dir: &Path, keep: usize) -> Result<History, HistoryError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_error(dir, e))?;
        let path = dir.join(DB_FILE);
        let not_a_database = check_header(&path)?;
        create_file(&path)?;
        let inode = fs::metadata(&path).map_err(|e| io_error(&path, e))?.ino();
        let mut moved_aside = None;
        let checked = match not_a_database {
            Some(detail) => Checked::Corrupt(detail),
            None => check(&path).map_err(|e| map_sqlite(&path, e))?,
        };
        let conn = match checked {
            Checked::Fine(conn) => conn,
            Checked::Newer(found) => return Err(newer(&path, found)),
            Checked::Corrupt(detail) => {
                let moved = move_aside(&path, inode)?;
                tracing::warn!(
                    path = %path.display(),
                    moved_to = %moved.display(),
                    "the history database {} is corrupt ({detail}): moved it aside to {} and \
                     started a new history",
                    path.display(),
                    moved.display()
                );
                moved_aside = Some(moved);
                create_file(&path)?;
                match check(&path).map_err(|e| map_sqlite(&path, e))? {
                    Checked::Fine(conn) => conn,
                    Checked::Newer(found) => return Err(newer(&path, found)),
                    Checked::Corrupt(detail) => {
                        return Err(HistoryError::Corrupt { path, detail });
                    }
                }
            }
        };
        let mut h = History {
            conn,
            path,
            keep: keep.max(1),
            moved_aside,
            version: SCHEMA_VERSION,
        };
        h.prepare_for_writing()?;
        Ok(h)
    }

    /// Opens the database in `dir` for reading: `None` when there is none yet (no
    /// file, or one never migrated). Never creates, migrates or moves anything; a
    /// corrupt database is [`HistoryError::Corrupt`], a newer one
    /// [`HistoryError::Newer`].
    pub fn open_read_only(dir: &Path) -> Result<Option<History>, HistoryError> {
        let path = dir.join(DB_FILE);
        match fs::metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&path, e)),
            Ok(m) if m.len() == 0 => return Ok(None),
            Ok(_) => {}
        }
        if let Some(detail) = check_header(&path)? {
            return Err(HistoryError::Corrupt { path, detail });
        }
        // Read-write without create, made query-only: a connection opened read-only
        // leaves `-wal` and `-shm` files behind, one that may write removes them on
        // close. SQLite opens a file it may not write read-only.
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| map_sqlite(&path, e))?;
        let mut h = History {
            conn,
            path,
            keep: DEFAULT_KEEP,
            moved_aside: None,
            version: 0,
        };
        // Closing must not checkpoint a WAL into a file of another version.
        h.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(|e| h.err(e))?;
        h.conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| h.err(e))?;
        h.conn
            .pragma_update(None, "query_only", true)
            .map_err(|e| h.err(e))?;
        let found = user_version(&h.conn).map_err(|e| h.err(e))?;
        if found > SCHEMA_VERSION {
            return Err(newer(&h.path, found));
        }
        if found == 0 {
            // Created but never migrated, so nothing recorded.
            return Ok(None);
        }
        // An older schema is read as it is (a writer migrates it).
        h.version = found;
        h.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)
            .map_err(|e| h.err(e))?;
        Ok(Some(h))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moved-aside file when open() found a corrupt database (for the caller to say so).
    pub fn moved_aside(&self) -> Option<&Path> {
        self.moved_aside.as_deref()
    }

    /// Records a boot (replacing its record when it is recorded already, keeping its
    /// place in the order), then prunes the oldest boots beyond the number kept,
    /// never the baseline boot: one transaction, on disk when this returns.
    pub fn record(&mut self, rec: &BootRecord) -> Result<Recorded, HistoryError> {
        let report = serde_json::to_string(&rec.report)
            .map_err(|e| HistoryError::Record(format!("boot {}: report: {e}", rec.boot_id)))?;
        let facts = serde_json::to_string(&rec.facts)
            .map_err(|e| HistoryError::Record(format!("boot {}: facts: {e}", rec.boot_id)))?;
        let recorded_us = i64::try_from(rec.recorded_us).unwrap_or(i64::MAX);
        let keep = i64::try_from(self.keep).unwrap_or(i64::MAX);
        let result = (|| -> rusqlite::Result<Recorded> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existed = tx
                .query_row(
                    "SELECT 1 FROM boots WHERE boot_id = ?1",
                    [&rec.boot_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            tx.execute(
                "INSERT INTO boots
                     (boot_id, first_us, recorded_us, kernel, generation, overall, report, facts)
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(boot_id) DO UPDATE SET
                     recorded_us = excluded.recorded_us, kernel = excluded.kernel,
                     generation = excluded.generation, overall = excluded.overall,
                     report = excluded.report, facts = excluded.facts",
                rusqlite::params![
                    rec.boot_id,
                    recorded_us,
                    rec.kernel,
                    rec.generation,
                    rec.report.overall.as_str(),
                    report,
                    facts
                ],
            )?;
            let seq: i64 = tx.query_row(
                "SELECT seq FROM boots WHERE boot_id = ?1",
                [&rec.boot_id],
                |r| r.get(0),
            )?;
            tx.execute("DELETE FROM statuses WHERE seq = ?1", [seq])?;
            let mut add = tx.prepare(
                "INSERT OR IGNORE INTO statuses (seq, subsystem, status) VALUES (?1, ?2, ?3)",
            )?;
            for sub in &rec.report.subsystems {
                add.execute(rusqlite::params![seq, sub.id, sub.status.as_str()])?;
            }
            drop(add);
            // The newest `keep` boots stay, and the baseline boot wherever it is.
            tx.execute(
                "DELETE FROM boots
                 WHERE seq <= (SELECT seq FROM boots ORDER BY seq DESC LIMIT 1 OFFSET ?1)
                   AND boot_id IS NOT (SELECT value FROM meta WHERE key = ?2)",
                rusqlite::params![keep, BASELINE_KEY],
            )?;
            tx.commit()?;
            Ok(if existed {
                Recorded::Updated
            } else {
                Recorded::New
            })
        })();
        let recorded = result.map_err(|e| self.err(e))?;
        self.checkpoint();
        Ok(recorded)
    }

    /// Up to `limit` boots, newest first (in the order they were first recorded).
    /// A stored record that does not parse is skipped with a warning.
    pub fn boots(&self, limit: usize) -> Result<Vec<BootRecord>, HistoryError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM boots ORDER BY seq DESC"))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            match parse_row(row) {
                Ok(rec) => {
                    out.push(rec);
                    if out.len() >= limit {
                        break;
                    }
                }
                Err(why) => tracing::warn!(
                    path = %self.path.display(),
                    "skipping a boot record in {} that does not parse: {why}",
                    self.path.display()
                ),
            }
        }
        Ok(out)
    }

    /// The boot with exactly this id.
    pub fn boot(&self, boot_id: &str) -> Result<Option<BootRecord>, HistoryError> {
        self.one("WHERE boot_id = ?1", rusqlite::params![boot_id])
    }

    /// The boot a selector names: a full boot id, a unique prefix of one (at least 4
    /// characters, any case), `latest`, `previous`, or `-N` (N boots before the
    /// latest; `-0` is the latest). `None` when it names no recorded boot; an
    /// ambiguous or too short prefix is [`HistoryError::Selector`].
    pub fn find(&self, selector: &str) -> Result<Option<BootRecord>, HistoryError> {
        match Selector::parse(selector)? {
            Selector::Back(n) => {
                // Counted over the boots that parse, as `boots()` lists them.
                Ok(self.boots(n.saturating_add(1))?.into_iter().nth(n))
            }
            Selector::Id(id) => {
                if let Some(rec) = self.boot(id)? {
                    return Ok(Some(rec));
                }
                if id.chars().count() < MIN_PREFIX {
                    return Err(HistoryError::Selector(format!(
                        "`{id}` is too short to name a boot: give at least {MIN_PREFIX} \
                         characters of a boot id, `latest`, `previous` or `-N`"
                    )));
                }
                let len = i64::try_from(id.chars().count()).unwrap_or(i64::MAX);
                let mut stmt = self
                    .conn
                    .prepare(
                        "SELECT boot_id FROM boots
                         WHERE lower(substr(boot_id, 1, ?1)) = lower(?2)
                         ORDER BY seq DESC LIMIT 3",
                    )
                    .map_err(|e| self.err(e))?;
                let ids: Vec<String> = stmt
                    .query_map(rusqlite::params![len, id], |r| r.get::<_, String>(0))
                    .and_then(|rows| rows.collect())
                    .map_err(|e| self.err(e))?;
                match ids.as_slice() {
                    [] => Ok(None),
                    [one] => self.boot(one),
                    more => Err(HistoryError::Selector(format!(
                        "`{id}` names more than one boot ({}{}): give more of the boot id",
                        more[..2].join(", "),
                        if more.len() > 2 { ", ..." } else { "" }
                    ))),
                }
            }
        }
    }

    /// The baseline boot's id, when one was accepted and is recorded.
    pub fn baseline(&self) -> Result<Option<String>, HistoryError> {
        self.conn
            .query_row(
                "SELECT m.value FROM meta m JOIN boots b ON b.boot_id = m.value
                 WHERE m.key = ?1",
                [BASELINE_KEY],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Makes a recorded boot the baseline: regressions are looked for only in the
    /// boots after it, and pruning keeps it.
    pub fn accept(&mut self, boot_id: &str) -> Result<(), HistoryError> {
        let result = (|| -> rusqlite::Result<bool> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let known = tx
                .query_row("SELECT 1 FROM boots WHERE boot_id = ?1", [boot_id], |_| {
                    Ok(())
                })
                .optional()?
                .is_some();
            if !known {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [BASELINE_KEY, boot_id],
            )?;
            tx.commit()?;
            Ok(true)
        })();
        if !result.map_err(|e| self.err(e))? {
            return Err(HistoryError::NotRecorded(boot_id.to_string()));
        }
        self.checkpoint();
        Ok(())
    }

    /// Runs `f` in one read transaction: every statement it makes sees the same
    /// state of the database, whatever another process writes meanwhile.
    pub fn snapshot<T>(
        &self,
        f: impl FnOnce(&History) -> Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let out = f(self);
        // Nothing was written: ending it either way is the same.
        drop(tx);
        out
    }

    /// The order number of a recorded boot (boots recorded later have larger ones).
    pub fn seq_of(&self, boot_id: &str) -> Result<Option<i64>, HistoryError> {
        self.conn
            .query_row("SELECT seq FROM boots WHERE boot_id = ?1", [boot_id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The newest boot recorded before `before` (every boot when None) and not
    /// before `from`, whose record parses (one that does not is skipped with a
    /// warning), with its order number.
    pub fn newest_in(
        &self,
        before: Option<i64>,
        from: i64,
    ) -> Result<Option<(i64, BootRecord)>, HistoryError> {
        let mut before = before.unwrap_or(i64::MAX);
        loop {
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM boots WHERE seq < ?1 AND seq >= ?2
                     ORDER BY seq DESC LIMIT 1"
                ))
                .map_err(|e| self.err(e))?;
            let mut rows = stmt.query([before, from]).map_err(|e| self.err(e))?;
            let Some(row) = rows.next().map_err(|e| self.err(e))? else {
                return Ok(None);
            };
            let seq: i64 = row.get(6).map_err(|e| self.err(e))?;
            match parse_row(row) {
                Ok(rec) => return Ok(Some((seq, rec))),
                Err(why) => {
                    tracing::warn!(
                        path = %self.path.display(),
                        "skipping a boot record in {} that does not parse: {why}",
                        self.path.display()
                    );
                    before = seq;
                }
            }
        }
    }

    /// The newest boot recorded before `before` (every boot when None) and not
    /// before `from` on which `subsystem` had `status`, whose record parses: one
    /// indexed lookup per candidate.
    pub fn newest_with_status(
        &self,
        subsystem: &str,
        status: Status,
        before: Option<i64>,
        from: i64,
    ) -> Result<Option<(i64, BootRecord)>, HistoryError> {
        let sql = if self.version >= 2 {
            NEWEST_WITH_STATUS
        } else {
            NEWEST_WITH_STATUS_V1
        };
        let mut before = before.unwrap_or(i64::MAX);
        loop {
            let seq: Option<i64> = self
                .conn
                .prepare_cached(sql)
                .and_then(|mut s| {
                    s.query_row(
                        rusqlite::params![subsystem, status.as_str(), before, from],
                        |r| r.get(0),
                    )
                })
                .map_err(|e| self.err(e))?;
            let Some(seq) = seq else {
                return Ok(None);
            };
            match self.one("WHERE seq = ?1", [seq]) {
                Ok(Some(rec)) => return Ok(Some((seq, rec))),
                Ok(None) => return Ok(None),
                Err(HistoryError::Record(why)) => {
                    tracing::warn!(
                        path = %self.path.display(),
                        "skipping a boot record in {} that does not parse: {why}",
                        self.path.display()
                    );
                    before = seq;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The connection, for tests that garble what is stored.
    #[cfg(test)]
    pub(crate) fn conn_for_tests(&self) -> &Connection {
        &self.conn
    }

    /// How many boots are recorded (including any that do not parse).
    pub fn count(&self) -> Result<usize, HistoryError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM boots", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The one boot `clause` selects; a record that does not parse is an error.
    fn one(
        &self,
        clause: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<BootRecord>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM boots {clause} LIMIT 1"))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query(params).map_err(|e| self.err(e))?;
        match rows.next().map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(row) => parse_row(row).map(Some).map_err(HistoryError::Record),
        }
    }

    /// WAL mode, full syncs, the schema brought to [`SCHEMA_VERSION`].
    fn prepare_for_writing(&mut self) -> Result<(), HistoryError> {
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                "{}: SQLite refused WAL mode (journal mode {mode}); the history still works",
                self.path.display()
            );
        }
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(|e| self.err(e))?;
        let found = user_version(&self.conn).map_err(|e| self.err(e))?;
        if found < SCHEMA_VERSION {
            match migrate(&mut self.conn).map_err(|e| self.err(e))? {
                None => {}
                Some(found) => return Err(newer(&self.path, found)),
            }
        }
        Ok(())
    }

    /// Moves the WAL's content into the database and empties it, so that the
    /// database is one file between writes. A failure (a reader holding the WAL, a
    /// full disk) loses nothing: the commit is in the WAL. It does not wait for
    /// readers: a later record or the last connection's close checkpoints.
    fn checkpoint(&self) {
        let _ = self.conn.busy_timeout(Duration::ZERO);
        let r = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            });
        if let Err(e) = self.conn.busy_timeout(BUSY_TIMEOUT) {
            tracing::debug!("{}: busy timeout: {e}", self.path.display());
        }
        match r {
            Ok(0) => {}
            Ok(_) => tracing::debug!("{}: checkpoint deferred: busy", self.path.display()),
            Err(e) => tracing::debug!("{}: checkpoint failed: {e}", self.path.display()),
        }
    }

    fn err(&self, e: rusqlite::Error) -> HistoryError {
        map_sqlite(&self.path, e)
    }
}

/// Opens `path` and checks it without changing a byte: the schema version, `PRAGMA
/// quick_check`, and the history's tables. Errors are those that say nothing
/// about the file (busy, cannot open).
fn check(path: &Path) -> rusqlite::Result<Checked> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Until the file is known good, closing must not checkpoint a WAL into it.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let verdict = (|| -> rusqlite::Result<Option<Checked>> {
        let found = user_version(&conn)?;
        if found > SCHEMA_VERSION {
            return Ok(Some(Checked::Newer(found)));
        }
        let quick: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
        if quick != "ok" {
            return Ok(Some(Checked::Corrupt(format!("quick_check: {quick}"))));
        }
        if found == 0 {
            let tables: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            if tables > 0 {
                return Ok(Some(Checked::Corrupt(
                    "a database without a schema version that is not the history's".into(),
                )));
            }
        } else if found == SCHEMA_VERSION {
            for probe in SCHEMA_PROBES {
                if let Err(e) = conn.prepare(probe) {
                    if is_corrupt(&e) {
                        return Err(e);
                    }
                    return Ok(Some(Checked::Corrupt(format!(
                        "the tables are not the history's: {e}"
                    ))));
                }
            }
        }
        Ok(None)
    })();
    match verdict {
        Ok(Some(other)) => Ok(other),
        Ok(None) => {
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
            conn.pragma_update(None, "cell_size_check", true)?;
            Ok(Checked::Fine(conn))
        }
        Err(e) if is_corrupt(&e) => Ok(Checked::Corrupt(e.to_string())),
        Err(e) => Err(e),
    }
}

/// Runs the migration steps from the database's version to [`SCHEMA_VERSION`] in
/// one transaction. `Some(found)` when another process made it newer meanwhile.
fn migrate(conn: &mut Connection) -> rusqlite::Result<Option<u32>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = user_version(&tx)?;
    if found > SCHEMA_VERSION {
        return Ok(Some(found));
    }
    for step in &MIGRATIONS[found as usize..] {
        tx.execute_batch(step)?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(None)
}

/// `PRAGMA user_version`, a signed 32-bit number in SQLite, read as the header's
/// unsigned bytes (so a negative one, which no surface-check writes, is "newer").
fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(v as i32 as u32)
}

/// The schema version in a database file's header, when the file is a SQLite
/// database: `PRAGMA user_version` is bytes 60..64, big-endian.
fn header_version(header: &[u8]) -> Option<u32> {
    if header.len() < 64 || !header.starts_with(b"SQLite format 3\0") {
        return None;
    }
    Some(u32::from_be_bytes([
        header[60], header[61], header[62], header[63],
    ]))
}

/// Checks a database file's header before SQLite opens it: a newer schema is
/// refused, and a file that is not empty but too short for a header or without
/// SQLite's magic is not a database (SQLite would take a file of a few bytes for
/// an empty database and write over it). `Some(why)` when it is not one.
fn check_header(path: &Path) -> Result<Option<String>, HistoryError> {
    let mut header = Vec::with_capacity(100);
    let len = match fs::File::open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, e)),
        Ok(f) => {
            let len = f.metadata().map_err(|e| io_error(path, e))?.len();
            f.take(100)
                .read_to_end(&mut header)
                .map_err(|e| io_error(path, e))?;
            len
        }
    };
    if header.is_empty() {
        return Ok(None);
    }
    if header.len() < 100 {
        return Ok(Some(format!(
            "{} bytes, too short for a database header",
            header.len()
        )));
    }
    match header_version(&header) {
        None => Ok(Some("not a SQLite database: no SQLite header".into())),
        Some(_) if !plausible_header(&header) => {
            Ok(Some("a SQLite header with impossible values".into()))
        }
        Some(found) if found > SCHEMA_VERSION => Err(newer(path, found)),
        Some(_) => {
            // SQLite writes whole pages; it reads a partial last page as if padded
            // with zeros, which quick_check does not see. A WAL with frames may
            // still hold that page whole (a torn write during a checkpoint): SQLite
            // reads it from there.
            let page = match u16::from_be_bytes([header[16], header[17]]) {
                1 => 65536,
                p => u64::from(p),
            };
            let wal = fs::metadata(with_suffix(path, "-wal")).map_or(0, |m| m.len());
            if len % page != 0 && wal == 0 {
                return Ok(Some(format!(
                    "truncated: {len} bytes is not a whole number of {page}-byte pages"
                )));
            }
            Ok(None)
        }
    }
}

/// Whether a header that starts with SQLite's magic holds the values every SQLite
/// writes (a newer schema is believed only from such a header): a page size that
/// is a power of two from 512 to 65536 (1 meaning 65536), file format versions 1
/// (rollback journal) or 2 (WAL), and the payload fractions 64, 32 and 32.
fn plausible_header(h: &[u8]) -> bool {
    let page = u16::from_be_bytes([h[16], h[17]]);
    (page == 1 || (page >= 512 && page.is_power_of_two()))
        && matches!(h[18], 1 | 2)
        && matches!(h[19], 1 | 2)
        && h[21..24] == [64, 32, 32]
}

/// Creates the database file, mode 0600, when missing (SQLite gives its `-wal` and
/// `-shm` files the same mode).
fn create_file(path: &Path) -> Result<(), HistoryError> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error(path, e)),
    }
}

/// The files that belong to a database besides itself.
const COMPANIONS: &[&str] = &["-wal", "-shm", "-journal"];

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Moves the database (which must still be the file checked, `inode`) and its
/// companions to `history.sqlite.corrupt-<unix seconds>[.N]`.
fn move_aside(path: &Path, inode: u64) -> Result<PathBuf, HistoryError> {
    let now = fs::metadata(path).map_err(|e| io_error(path, e))?;
    if now.ino() != inode {
        // Another process moved it aside and started a new one meanwhile.
        return Err(HistoryError::Io {
            path: path.to_path_buf(),
            source: io::Error::other("replaced while being checked; try again"),
        });
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = with_suffix(path, &format!(".corrupt-{secs}"));
    let taken = |p: &Path| {
        std::iter::once("")
            .chain(COMPANIONS.iter().copied())
            .any(|s| with_suffix(p, s).symlink_metadata().is_ok())
    };
    let mut target = base.clone();
    let mut n = 1;
    while taken(&target) {
        target = with_suffix(&base, &format!(".{n}"));
        n += 1;
    }
    fs::rename(path, &target).map_err(|e| io_error(path, e))?;
    for suffix in COMPANIONS {
        let from = with_suffix(path, suffix);
        if from.symlink_metadata().is_ok() {
            fs::rename(&from, with_suffix(&target, suffix)).map_err(|e| io_error(&from, e))?;
        }
    }
    Ok(target)
}

/// A selector of [`History::find`].
#[derive(Debug, PartialEq, Eq)]
enum Selector<'a> {
    /// N boots before the latest.
    Back(usize),
    /// A boot id or a prefix of one.
    Id(&'a str),
}

impl<'a> Selector<'a> {
    fn parse(s: &'a str) -> Result<Selector<'a>, HistoryError> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("latest") {
            return Ok(Selector::Back(0));
        }
        if s.eq_ignore_ascii_case("previous") {
            return Ok(Selector::Back(1));
        }
        if let Some(digits) = s.strip_prefix('-') {
            let n = Some(digits)
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse::<usize>().ok());
            return n.map(Selector::Back).ok_or_else(|| {
                HistoryError::Selector(format!(
                    "`{s}` names no boot: `-N` takes a number of boots before the latest (`-1`)"
                ))
            });
        }
        if s.is_empty() {
            return Err(HistoryError::Selector(
                "an empty selector names no boot: give a boot id, `latest`, `previous` or `-N`"
                    .into(),
            ));
        }
        Ok(Selector::Id(s))
    }
}

/// One row of [`COLUMNS`] as a record, or why it is not one.
fn parse_row(row: &rusqlite::Row<'_>) -> Result<BootRecord, String> {
    let seq: i64 = row.get(6).unwrap_or(-1);
    let at = |what: &str, e: &dyn std::fmt::Display| format!("seq {seq}: {what}: {e}");
    let boot_id: String = row.get(0).map_err(|e| at("boot_id", &e))?;
    let at =
        |what: &str, e: &dyn std::fmt::Display| format!("boot {boot_id} (seq {seq}): {what}: {e}");
    let recorded_us: i64 = row.get(1).map_err(|e| at("recorded_us", &e))?;
    let recorded_us = u64::try_from(recorded_us).map_err(|e| at("recorded_us", &e))?;
    let kernel: String = row.get(2).map_err(|e| at("kernel", &e))?;
    let generation: Option<i64> = row.get(3).map_err(|e| at("generation", &e))?;
    let generation = generation
        .map(u32::try_from)
        .transpose()
        .map_err(|e| at("generation", &e))?;
    let report: String = row.get(4).map_err(|e| at("report", &e))?;
    let report: Report = serde_json::from_str(&report).map_err(|e| at("report", &e))?;
    let facts: String = row.get(5).map_err(|e| at("facts", &e))?;
    let facts: DiffFacts = serde_json::from_str(&facts).map_err(|e| at("facts", &e))?;
    Ok(BootRecord {
        boot_id,
        recorded_us,
        kernel,
        generation,
        report,
        facts,
    })
}

fn newer(path: &Path, found: u32) -> HistoryError {
    HistoryError::Newer {
        path: path.to_path_buf(),
        found,
        supported: SCHEMA_VERSION,
    }
}

fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// Whether the filesystem holding `path` has no block left for an unprivileged
/// writer (SQLite reports some failed writes as I/O errors rather than `FULL`).
fn no_space_at(path: &Path) -> bool {
    let dir = path.parent().unwrap_or(path);
    nix::sys::statvfs::statvfs(dir).is_ok_and(|s| s.blocks_available() == 0)
}

fn map_sqlite(path: &Path, e: rusqlite::Error) -> HistoryError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => HistoryError::Full {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) if no_space_at(path) => {
            HistoryError::Full {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }
        }
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => HistoryError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        _ => HistoryError::Sqlite(e),
    }
}

fn io_error(path: &Path, e: io::Error) -> HistoryError {
    if e.raw_os_error() == Some(libc::ENOSPC) {
        HistoryError::Full {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }
    } else {
        HistoryError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_is_the_first_absolute_path_of_state_directory() {
        let d = |v: Option<&str>| state_dir_from(v.map(OsStr::new));
        assert_eq!(d(None), PathBuf::from(DEFAULT_STATE_DIR));
        assert_eq!(d(Some("")), PathBuf::from(DEFAULT_STATE_DIR));
        assert_eq!(d(Some("relative/dir")), PathBuf::from(DEFAULT_STATE_DIR));
        assert_eq!(d(Some("/var/lib/x")), PathBuf::from("/var/lib/x"));
        assert_eq!(
            d(Some("/var/lib/x:/var/lib/y")),
            PathBuf::from("/var/lib/x")
        );
        assert_eq!(d(Some(":/var/lib/y")), PathBuf::from(DEFAULT_STATE_DIR));
    }

    #[test]
    fn selectors() {
        let p = |s| Selector::parse(s).map_err(|e| e.to_string());
        assert_eq!(p("latest"), Ok(Selector::Back(0)));
        assert_eq!(p(" Latest "), Ok(Selector::Back(0)));
        assert_eq!(p("previous"), Ok(Selector::Back(1)));
        assert_eq!(p("-0"), Ok(Selector::Back(0)));
        assert_eq!(p("-1"), Ok(Selector::Back(1)));
        assert_eq!(p("-42"), Ok(Selector::Back(42)));
        assert_eq!(p("3f2a"), Ok(Selector::Id("3f2a")));
        assert_eq!(
            p("3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"),
            Ok(Selector::Id("3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"))
        );
        for bad in [
            "-",
            "-x",
            "--1",
            "-+1",
            "-1x",
            "",
            "  ",
            "-99999999999999999999999",
        ] {
            let e = p(bad).expect_err(bad);
            assert!(e.contains("no boot"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn header_version_reads_user_version() {
        let mut h = b"SQLite format 3\0".to_vec();
        h.resize(100, 0);
        assert_eq!(header_version(&h), Some(0));
        h[60..64].copy_from_slice(&7u32.to_be_bytes());
        assert_eq!(header_version(&h), Some(7));
        assert_eq!(header_version(&h[..63]), None);
        h[0] = b's';
        assert_eq!(header_version(&h), None);
        assert_eq!(header_version(b""), None);
    }

    #[test]
    fn migrations_on_an_empty_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(user_version(&conn).unwrap(), 0);
        assert_eq!(migrate(&mut conn).unwrap(), None);
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        for probe in SCHEMA_PROBES {
            conn.prepare(probe).unwrap();
        }
        // Idempotent: a migrated database is left as it is.
        assert_eq!(migrate(&mut conn).unwrap(), None);
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        // A newer one is refused, and its version kept.
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), Some(SCHEMA_VERSION + 1));
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION + 1);
    }

    #[test]
    fn open_migrates_a_new_file_and_checks_a_foreign_one() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::open(dir.path()).unwrap();
        assert_eq!(user_version(&h.conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(h.count().unwrap(), 0);
        assert!(h.moved_aside().is_none());
        let mode: String = h
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = h
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        drop(h);

        // A SQLite database without a version and with someone else's tables.
        let other = tempfile::tempdir().unwrap();
        let c = Connection::open(other.path().join(DB_FILE)).unwrap();
        c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        drop(c);
        let h = History::open(other.path()).unwrap();
        assert!(h.moved_aside().is_some());
        assert_eq!(h.count().unwrap(), 0);
    }

    /// A database of schema 1 (before the statuses table) is read as it is, and
    /// the first writer migrates it, filling the table from the stored reports.
    #[test]
    fn a_schema_1_history_is_read_and_then_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let facts = {
            let root = crate::root::Root::open(dir.path()).unwrap();
            crate::facts::collect_unwatched(&root, &crate::profiles::SURFACE_BOOK_2)
        };
        let report = crate::checks::diagnose(&facts, &crate::profiles::SURFACE_BOOK_2, "t");
        let state = dir.path().join("state");
        let mut h = History::open(&state).unwrap();
        for (n, touch) in [(1, Status::Ok), (2, Status::Failed), (3, Status::Failed)] {
            let mut r = report.clone();
            for s in &mut r.subsystems {
                s.status = if s.id == "touch" { touch } else { Status::Ok };
            }
            h.record(&BootRecord {
                boot_id: format!("{n:08}-0000-4000-8000-000000000000"),
                recorded_us: n,
                kernel: "6.19.8".into(),
                generation: None,
                report: r,
                facts: DiffFacts::default(),
            })
            .unwrap();
        }
        // Records another program garbled, with valid JSON of another shape: the
        // migration skips them (they stay, unparsed, as before).
        h.conn
            .execute_batch(
                r#"INSERT INTO boots (boot_id, first_us, recorded_us, kernel, overall, report, facts)
                   VALUES ('odd-1', 9, 9, 'x', 'ok', '{"subsystems":["x", 1, null, {"id":1}]}', '{}'),
                          ('odd-2', 9, 9, 'x', 'ok', '{"subsystems":"abc"}', '{}'),
                          ('odd-3', 9, 9, 'x', 'ok', 'not json', '{}');"#,
            )
            .unwrap();
        // As the previous release left it.
        h.conn
            .execute_batch(
                "DROP TRIGGER statuses_of_gone_boots; DROP TABLE statuses;
                 DROP INDEX boots_by_seq; PRAGMA user_version = 1;",
            )
            .unwrap();
        drop(h);
        let subsystems = report.subsystems.len() as i64;

        let r = History::open_read_only(&state).unwrap().expect("a history");
        assert_eq!(r.version, 1);
        let (seq, b) = r
            .newest_with_status("touch", Status::Ok, None, 0)
            .unwrap()
            .expect("boot 1 had touch ok");
        assert_eq!((seq, b.recorded_us), (1, 1));
        assert_eq!(
            r.newest_with_status("touch", Status::Failed, Some(3), 0)
                .unwrap()
                .map(|(s, _)| s),
            Some(2)
        );
        drop(r);

        let h = History::open(&state).unwrap();
        assert_eq!(user_version(&h.conn).unwrap(), SCHEMA_VERSION);
        let rows: i64 = h
            .conn
            .query_row("SELECT count(*) FROM statuses", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3 * subsystems);
        assert_eq!(
            h.newest_with_status("touch", Status::Ok, None, 0)
                .unwrap()
                .map(|(s, _)| s),
            Some(1)
        );
        assert_eq!(h.count().unwrap(), 6, "the odd records stay");
        h.conn
            .execute("DELETE FROM boots WHERE boot_id LIKE 'odd-%'", [])
            .unwrap();
        drop(h);
        // Pruning takes a boot's statuses with it.
        let mut h = History::open_with(&state, 1).unwrap();
        let mut last = h
            .boot("00000003-0000-4000-8000-000000000000")
            .unwrap()
            .unwrap();
        last.recorded_us = 4;
        h.record(&last).unwrap();
        let rows: i64 = h
            .conn
            .query_row("SELECT count(*) FROM statuses", [], |r| r.get(0))
            .unwrap();
        assert_eq!((h.count().unwrap() as i64, rows), (1, subsystems));
    }
}
