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
(\"not checked\") or, when a prerequisite is `absent`, `absent`.\n",
    );
    for sub in REGISTRY {
        let _ = writeln!(o, "\n## {} — {}\n", sub.id, sub.title);
        for c in sub.checks {
            let _ = writeln!(o, "### `{}` — {}\n", c.id, c.title);
            let _ = writeln!(o, "- **Verifies:** {}", c.verifies);
            let _ = writeln!(o, "- **Why:** {}", c.rationale);
            let _ = writeln!(o, "- **Fix:** {}", c.fix);
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
