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

/// The command as the man pages describe it: built (so subcommands carry their
/// `surface-check-NAME` display names and `surface-check NAME` usage), without the
/// `help` subcommand, which has no page.
fn man_command() -> clap::Command {
    let mut cmd = crate::cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Text for a roff document: backslashes, hyphens and apostrophes escaped, and a
/// line never starting with a control character.
fn roff_text(s: &str) -> String {
    let mut o = String::new();
    for line in s.lines() {
        let esc = line
            .replace('\\', "\\e")
            .replace('-', "\\-")
            .replace('\'', "\\(aq");
        if esc.starts_with('.') {
            o.push_str("\\&");
        }
        o.push_str(&esc);
        o.push('\n');
    }
    o
}

/// The preamble `roff` writes before every rendered piece; kept once per page.
const ROFF_PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// Renders the sections of `man` that clap knows, then `extra` (roff), then the
/// version (the main page's).
fn render_page(man: &clap_mangen::Man, cmd: &clap::Command, extra: &str) -> Vec<u8> {
    type Section = fn(&clap_mangen::Man, &mut dyn std::io::Write) -> std::io::Result<()>;
    let mut sections: Vec<Section> = vec![
        clap_mangen::Man::render_title,
        clap_mangen::Man::render_name_section,
        clap_mangen::Man::render_synopsis_section,
        clap_mangen::Man::render_description_section,
    ];
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        sections.push(clap_mangen::Man::render_options_section);
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        sections.push(clap_mangen::Man::render_subcommands_section);
    }
    let mut out = ROFF_PREAMBLE.as_bytes().to_vec();
    let mut push = |bytes: Vec<u8>| {
        let text = String::from_utf8(bytes).expect("roff renders UTF-8");
        out.extend_from_slice(text.strip_prefix(ROFF_PREAMBLE).unwrap_or(&text).as_bytes());
    };
    for section in sections {
        let mut piece = Vec::new();
        section(man, &mut piece).expect("rendering to a Vec cannot fail");
        push(piece);
    }
    push(extra.as_bytes().to_vec());
    if cmd.get_version().is_some() {
        let mut piece = Vec::new();
        man.render_version_section(&mut piece)
            .expect("rendering to a Vec cannot fail");
        push(piece);
    }
    out
}

/// What the main page says beyond the clap definitions: exit status, environment,
/// output, and the other pages.
fn main_page_extra(cmd: &clap::Command) -> String {
    let mut o = String::new();
    o.push_str(".SH \"EXIT STATUS\"\n");
    for (code, text) in [
        (
            "0",
            "No subsystem is degraded or failed (notes never change it).",
        ),
        ("1", "A subsystem is degraded or failed."),
        ("2", "A usage or runtime error."),
    ] {
        o.push_str(".TP\n");
        o.push_str(&roff_text(code));
        o.push_str(&roff_text(text));
    }
    o.push_str(".SH ENVIRONMENT\n");
    for (var, text) in [
        (
            "SURFACE_CHECK_LOG",
            "Log filter for the messages on standard error, in tracing's EnvFilter syntax \
             (error, warn, info, debug, trace, or per module); the default is warn.",
        ),
        (
            "NO_COLOR",
            "When set and not empty, no colour: neither in the report (with --color auto) nor \
             in the logs. Colour is used only on a terminal.",
        ),
    ] {
        o.push_str(".TP\n");
        o.push_str(&format!("\\fB{}\\fR\n", roff_text(var).trim_end()));
        o.push_str(&roff_text(text));
    }
    o.push_str(".SH OUTPUT\n");
    o.push_str(&roff_text(
        "Every string of the report is data from the machine. In the human form, control \
         characters are written visibly: C0 controls and DEL as \\xNN (ESC as \\x1b), C1 \
         controls, bidirectional controls and line or paragraph separators as \\u{NNNN}. \
         The only escape sequences written are the colour codes, with colour on. \
         --json writes the report as JSON (docs/report-schema.json).",
    ));
    o.push_str(".SH \"SEE ALSO\"\n");
    let pages: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| format!("\\fB{}\\fR(1)", roff_text(&page_name(cmd, s)).trim_end()))
        .collect();
    o.push_str(&pages.join(",\n"));
    o.push('\n');
    o
}

/// `surface-check-NAME`, the page of subcommand `sub`.
fn page_name(cmd: &clap::Command, sub: &clap::Command) -> String {
    format!("{}-{}", cmd.get_name(), sub.get_name())
}

/// The man pages: `surface-check.1` and one `surface-check-NAME.1` per subcommand,
/// as (file name, content).
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let cmd = man_command();
    let mut pages = vec![(
        "surface-check.1".to_string(),
        render_page(
            &clap_mangen::Man::new(cmd.clone()),
            &cmd,
            &main_page_extra(&cmd),
        ),
    )];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = page_name(&cmd, sub);
        let sub = sub.clone().display_name(name.clone());
        let extra = format!(
            ".SH \"SEE ALSO\"\n\\fB{}\\fR(1)\n",
            roff_text(cmd.get_name()).trim_end()
        );
        pages.push((
            format!("{name}.1"),
            render_page(
                &clap_mangen::Man::new(sub.clone()).source(format!(
                    "{} {}",
                    cmd.get_name(),
                    cmd.get_version().unwrap_or_default()
                )),
                &sub,
                &extra,
            ),
        ));
    }
    let mut daemon = crate::daemon::Args::command().disable_help_subcommand(true);
    daemon.build();
    pages.push((
        "surface-checkd.8".to_string(),
        render_page(
            &clap_mangen::Man::new(daemon.clone()).section("8"),
            &daemon,
            &format!(
                ".SH FILES\n.TP\n{}\n.SH \"SEE ALSO\"\n\\fB{}\\fR(1), \\fBbusctl\\fR(1)\n",
                roff_text(
                    "/usr/share/dbus-1/interfaces/io.github.SurfaceCheck1.xml\n\
                     The D-Bus interface (docs/dbus-api.md)."
                )
                .trim_end(),
                roff_text(cmd.get_name()).trim_end()
            ),
        ),
    ));
    pages
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
    let mut files = vec![("docs/checks.md".to_string(), checks_markdown().into_bytes())];
    files.extend(
        man_pages()
            .into_iter()
            .map(|(name, page)| (format!("docs/man/{name}"), page)),
    );
    files.push((
        "dbus/io.github.SurfaceCheck1.xml".to_string(),
        crate::dbus::interface_xml().into_bytes(),
    ));
    files.extend([
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
    ]);
    files
}
