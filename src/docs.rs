//! Documentation generated from the code: the check list (`docs/checks.md`,
//! `surface-check checks`, `explain`), the man page and the shell completions.
//! `tests/generated_docs.rs` fails when the committed files drift from these.

use std::fmt::Write;

use clap::CommandFactory;

use crate::checks::{REGISTRY, all_checks, find};

/// `surface-check explain ID`.
pub fn explain(id: &str) -> Option<String> {
    let (sub, c) = find(id)?;
    let mut o = String::new();
    let _ = writeln!(o, "{} — {}\n", c.id, c.title);
    let _ = writeln!(o, "Subsystem: {} ({})", sub.id, sub.title);
    let _ = writeln!(o, "\nVerifies:\n  {}", c.verifies);
    let _ = writeln!(o, "\nWhy it matters:\n  {}", c.rationale);
    let _ = writeln!(o, "\nFix:\n  {}", c.fix);
    if !c.requires.is_empty() {
        let _ = writeln!(
            o,
            "\nChecked only when these pass: {}",
            c.requires.join(", ")
        );
    }
    let _ = writeln!(
        o,
        "\nRests on (hardware reference, [V] verified, [I] inferred, [U] unverified):"
    );
    for b in c.basis {
        let _ = writeln!(o, "  [{}] {} ({})", b.tag.as_str(), b.fact, b.source);
    }
    let _ = writeln!(
        o,
        "  {}",
        if c.may_fail() {
            "Every fact is verified: this check can fail."
        } else {
            "A fact is not verified: an unmet expectation is a notice, never failed or degraded."
        }
    );
    let _ = writeln!(o, "\nProven by later links:\n  {}", c.proven_by);
    let _ = writeln!(o, "\nIn a captured tree:\n  {}", c.captured);
    Some(o)
}

/// `surface-check checks`.
pub fn checks_list() -> String {
    let w = all_checks().map(|(_, c)| c.id.len()).max().unwrap_or(0);
    let mut o = String::new();
    for (_, c) in all_checks() {
        let _ = writeln!(o, "{:w$}  {}", c.id, c.title);
    }
    o
}

/// `surface-check checks --json`.
pub fn checks_json() -> serde_json::Value {
    serde_json::Value::Array(
        all_checks()
            .map(|(s, c)| {
                serde_json::json!({
                    "id": c.id,
                    "subsystem": s.id,
                    "title": c.title,
                    "verifies": c.verifies,
                    "rationale": c.rationale,
                    "fix": c.fix,
                    "requires": c.requires,
                    "basis": c.basis.iter().map(|b| serde_json::json!({
                        "fact": b.fact,
                        "tag": b.tag.as_str(),
                        "source": b.source,
                    })).collect::<Vec<_>>(),
                    "may_fail": c.may_fail(),
                    "proven_by": c.proven_by,
                    "captured": c.captured,
                })
            })
            .collect(),
    )
}

/// `docs/checks.md`.
pub fn checks_markdown() -> String {
    let mut o = String::from(
        "# Checks\n\n<!-- Generated from src/checks by `cargo run --example gen-docs`; tests/generated_docs.rs fails when it drifts. -->\n\n\
Each subsystem is a chain: its status is the worst status of its checks, and its summary names the first check \
with that status (the first broken link). A check whose prerequisites did not pass is reported `unknown` \
(\"not checked\") or, when a prerequisite is `absent`, `absent`.\n\n\
**Rests on** lists the facts of the hardware reference (docs/hardware.md) a check's `failed` or `degraded` \
verdict rests on, with their state: [V] verified, [I] inferred, [U] unverified. Only a check whose facts are all \
verified can fail; for the others an unmet expectation is a notice on an `ok`. **Proven by** names the later \
links whose success proves the check's link worked (a missing upstream fact is then a notice). **Captured tree** \
says what a copied or captured root (not the live `/`) can show: there device nodes are never judged.\n",
    );
    for sub in REGISTRY {
        let _ = writeln!(o, "\n## {} — {}\n", sub.id, sub.title);
        for c in sub.checks {
            let _ = writeln!(o, "### `{}` — {}\n", c.id, c.title);
            let _ = writeln!(o, "- **Verifies:** {}", c.verifies);
            let _ = writeln!(o, "- **Why:** {}", c.rationale);
            let _ = writeln!(o, "- **Fix:** {}", c.fix);
            let _ = writeln!(
                o,
                "- **Rests on:** {}{}",
                c.basis
                    .iter()
                    .map(|b| format!("[{}] {} ({})", b.tag.as_str(), b.fact, b.source))
                    .collect::<Vec<_>>()
                    .join("; "),
                if c.may_fail() {
                    " — all verified: can fail"
                } else {
                    " — not all verified: an unmet expectation is a notice, never failed"
                }
            );
            let _ = writeln!(o, "- **Proven by:** {}", c.proven_by);
            let _ = writeln!(o, "- **Captured tree:** {}", c.captured);
            if !c.requires.is_empty() {
                let _ = writeln!(
                    o,
                    "- **Requires:** {}",
                    c.requires
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let _ = writeln!(o);
        }
    }
    o
}

/// The man page `surface-check.1`.
pub fn man_page() -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(crate::cli::Cli::command())
        .render(&mut out)
        .expect("rendering to a Vec cannot fail");
    out
}

/// Shell completions for `shell` (`bash`, `zsh`, `fish`).
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(
        shell,
        &mut crate::cli::Cli::command(),
        "surface-check",
        &mut out,
    );
    out
}

/// Every generated file: (path relative to the repository, content).
pub fn generated_files() -> Vec<(String, Vec<u8>)> {
    use clap_complete::Shell;
    vec![
        ("docs/checks.md".into(), checks_markdown().into_bytes()),
        ("docs/man/surface-check.1".into(), man_page()),
        (
            "docs/completions/surface-check.bash".into(),
            completions(Shell::Bash),
        ),
        (
            "docs/completions/_surface-check".into(),
            completions(Shell::Zsh),
        ),
        (
            "docs/completions/surface-check.fish".into(),
            completions(Shell::Fish),
        ),
    ]
}
