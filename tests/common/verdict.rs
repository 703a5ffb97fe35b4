//! A `status --json` report with its exit code, how to get one for a tree, and the
//! assertions the verdict tests make on it. Every failed assertion prints the whole
//! verdict (`dump`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::hints;
use super::tree::Tree;

/// The subsystems of every report, in report order.
pub const SUBSYSTEMS: &[&str] = &[
    "kernel", "touch", "camera", "battery", "detach", "input", "dgpu", "wireless", "platform",
];

/// The report of `status --json` on a tree, with its exit code and stderr.
pub struct Verdict {
    pub code: i32,
    pub report: Value,
    pub stderr: String,
}

/// Runs `bin status --local --root ROOT EXTRA… --json` (EXTRA such as
/// `--dmesg FILE`); it must print a JSON report.
pub fn run(bin: &Path, root: &Path, extra: &[&str]) -> Verdict {
    let root = root.to_str().unwrap();
    let mut args = vec!["status", "--local", "--root", root];
    args.extend_from_slice(extra);
    args.push("--json");
    let (code, out, stderr) = super::run_with(bin, &args);
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| {
        panic!(
            "status on {root} printed no JSON ({e}), exit {code}; stderr: {stderr}\nstdout: {out}"
        )
    });
    Verdict {
        code,
        report,
        stderr,
    }
}

/// The verdict of the built binary on `t` with `extra` arguments; the report must
/// match the published schema.
pub fn verdict(t: &Tree, extra: &[&str]) -> Verdict {
    let v = run(Path::new(super::BIN), t.path(), extra);
    super::assert_schema(&v.report);
    v
}

/// Writes `t`'s `dmesg.txt`: a boot of kernel `version` (the rest of its
/// `Linux version` line) logging `lines`; returns its path, for `--dmesg`.
pub fn dmesg(t: &Tree, version: &str, lines: &[&str]) -> PathBuf {
    let mut text = format!("[    0.000000] Linux version {version}\n");
    for (i, l) in lines.iter().enumerate() {
        text.push_str(&format!("[    3.{:06}] {l}\n", 100 + i));
    }
    let f = t.path().join("dmesg.txt");
    std::fs::write(&f, text).unwrap();
    f
}

/// [`verdict`] with a `--dmesg` file of kernel `version` logging `lines`.
pub fn verdict_log(t: &Tree, version: &str, lines: &[&str]) -> Verdict {
    let f = dmesg(t, version, lines);
    verdict(t, &["--dmesg", f.to_str().unwrap()])
}

/// The captured facts of a tree (`capture --root`), for the hint rule.
pub fn facts(t: &Tree) -> Value {
    let (code, out, err) = super::run(&["capture", "--root", t.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Fails unless `text` contains every word (case-insensitive), or none of them when
/// `want` is false.
fn expect_words(text: &str, words: &[&str], want: bool, what: impl Fn(&str) -> String) {
    for w in words {
        assert!(text.contains(&w.to_lowercase()) == want, "{}", what(w));
    }
}

impl Verdict {
    /// Every subsystem and check, for failure messages.
    pub fn dump(&self) -> String {
        let mut out = super::overview(&self.report);
        for sub in self.report["subsystems"].as_array().unwrap() {
            for c in sub["checks"].as_array().unwrap() {
                out.push_str(&format!(
                    "\n  {} {}: {} [hint: {}] [notices: {}] [evidence: {}]",
                    s(&c["id"]),
                    s(&c["status"]),
                    s(&c["summary"]),
                    s(&c["hint"]),
                    c["notices"],
                    c["evidence"]
                ));
            }
        }
        out
    }

    pub fn subsystem(&self, id: &str) -> &Value {
        super::subsystem(&self.report, id)
    }

    pub fn check(&self, id: &str) -> &Value {
        super::check(&self.report, id)
    }

    pub fn machine(&self, key: &str) -> &Value {
        &self.report["machine"][key]
    }

    pub fn kernel(&self, key: &str) -> &Value {
        &self.report["kernel"][key]
    }

    /// Summary, hint, evidence and notices of check `id`, lower-cased.
    pub fn text(&self, id: &str) -> String {
        let c = self.check(id);
        format!(
            "{} {} {} {}",
            s(&c["summary"]),
            s(&c["hint"]),
            c["evidence"],
            c["notices"]
        )
        .to_lowercase()
    }

    pub fn exit(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\n{}", self.dump());
        self
    }

    /// The report lists exactly [`SUBSYSTEMS`], in order.
    pub fn lists_every_subsystem(&self) -> &Self {
        let ids: Vec<&str> = self.report["subsystems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| s(&x["id"]))
            .collect();
        assert_eq!(ids, SUBSYSTEMS, "the report's subsystems");
        self
    }

    /// Subsystem `id` has `status`.
    pub fn sub(&self, id: &str, status: &str) -> &Self {
        assert_eq!(
            s(&self.subsystem(id)["status"]),
            status,
            "{id}\n{}",
            self.dump()
        );
        self
    }

    /// Subsystem `id` has `status`, decided by check `by`, and its summary or hint
    /// names every keyword (case-insensitive).
    pub fn sub_is(&self, id: &str, status: &str, by: Option<&str>, keywords: &[&str]) -> &Self {
        let sub = self.subsystem(id);
        assert_eq!(s(&sub["status"]), status, "{id} status\n{}", self.dump());
        assert_eq!(
            sub["decided_by"].as_str(),
            by,
            "{id} decided_by\n{}",
            self.dump()
        );
        let text = format!("{} {}", s(&sub["summary"]), s(&sub["hint"])).to_lowercase();
        expect_words(&text, keywords, true, |k| {
            format!(
                "{id}: summary/hint does not name {k:?}: {text}\n{}",
                self.dump()
            )
        });
        self
    }

    /// Every subsystem not in `affected` is ok.
    pub fn rest_ok(&self, affected: &[&str]) -> &Self {
        for id in SUBSYSTEMS.iter().filter(|id| !affected.contains(id)) {
            assert_eq!(
                s(&self.subsystem(id)["status"]),
                "ok",
                "{id} should stay ok\n{}",
                self.dump()
            );
        }
        self
    }

    /// Check `id` has `status`.
    pub fn is(&self, id: &str, status: &str) -> &Self {
        assert_eq!(
            s(&self.check(id)["status"]),
            status,
            "{id}\n{}",
            self.dump()
        );
        self
    }

    /// Check `id` has `status` and its summary, hint or evidence names every keyword.
    pub fn check_is(&self, id: &str, status: &str, keywords: &[&str]) -> &Self {
        let c = self.check(id);
        assert_eq!(s(&c["status"]), status, "{id} status\n{}", self.dump());
        let text =
            format!("{} {} {}", s(&c["summary"]), s(&c["hint"]), c["evidence"]).to_lowercase();
        expect_words(&text, keywords, true, |k| {
            format!("{id}: does not name {k:?}: {text}\n{}", self.dump())
        });
        self
    }

    /// The 13" i5 has no dGPU: dgpu is absent, not failed.
    pub fn no_dgpu(&self) -> &Self {
        self.sub_is("dgpu", "absent", Some("dgpu.present"), &["13"])
            .check_is("dgpu.hotplug", "absent", &["MSHW0153"])
    }

    /// Check `id` names every word somewhere in its [`text`](Self::text).
    pub fn names(&self, id: &str, words: &[&str]) -> &Self {
        expect_words(&self.text(id), words, true, |w| {
            format!("{id} does not name {w:?}\n{}", self.dump())
        });
        self
    }

    /// Check `id` names none of the words anywhere in its [`text`](Self::text).
    pub fn never(&self, id: &str, words: &[&str]) -> &Self {
        expect_words(&self.text(id), words, false, |w| {
            format!("{id} names {w:?}\n{}", self.dump())
        });
        self
    }

    /// Check `id` tells none of the words in its summary, hint or notices (its
    /// evidence may quote them).
    pub fn never_tells(&self, id: &str, words: &[&str]) -> &Self {
        let c = self.check(id);
        let t = format!("{} {} {}", s(&c["summary"]), s(&c["hint"]), c["notices"]).to_lowercase();
        expect_words(&t, words, false, |w| {
            format!("{id} names {w:?}\n{}", self.dump())
        });
        self
    }

    /// The hint of check `id` names none of the words.
    pub fn hint_never(&self, id: &str, words: &[&str]) -> &Self {
        let h = s(&self.check(id)["hint"]).to_lowercase();
        expect_words(&h, words, false, |w| {
            format!("{id} hint names {w:?}\n{}", self.dump())
        });
        self
    }

    /// The notices of check `id` name every keyword.
    pub fn notice_names(&self, id: &str, keywords: &[&str]) -> &Self {
        let text = self.check(id)["notices"].to_string().to_lowercase();
        expect_words(&text, keywords, true, |k| {
            format!("{id}: no notice names {k:?}: {text}\n{}", self.dump())
        });
        self
    }

    /// A failed or degraded check names, in its summary, a cause that its evidence
    /// shows.
    pub fn cause(&self, id: &str, cause: &str) -> &Self {
        let c = self.check(id);
        let st = s(&c["status"]);
        assert!(
            st == "failed" || st == "degraded",
            "{id} is {st}\n{}",
            self.dump()
        );
        let (sum, ev) = (
            s(&c["summary"]).to_lowercase(),
            c["evidence"].to_string().to_lowercase(),
        );
        let k = cause.to_lowercase();
        assert!(
            sum.contains(&k) && ev.contains(&k),
            "{id}: cause {cause:?} not in both summary and evidence\n{}",
            self.dump()
        );
        self
    }

    /// Every failed or degraded check rests on evidence.
    pub fn founded(&self) -> &Self {
        let bad = hints::unfounded(&self.report);
        assert!(bad.is_empty(), "{bad:?}\n{}", self.dump());
        self
    }

    /// Every hint fits the kernel of `t`'s captured facts.
    pub fn hints_fit(&self, t: &Tree) -> &Self {
        let bad = hints::misfits(&facts(t), &self.report);
        assert!(
            bad.is_empty(),
            "hints that do not fit: {bad:?}\n{}",
            self.dump()
        );
        self
    }
}
