//! Generated documentation (checks, man page, completions) must match the code.
//! Regenerate with `cargo run --example gen-docs`.

#[test]
fn committed_generated_files_match_the_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut drift = Vec::new();
    for (path, want) in surface_check::docs::generated_files() {
        match std::fs::read(root.join(&path)) {
            Ok(have) if have == want => {}
            Ok(_) => drift.push(format!("{path} differs from the code")),
            Err(e) => drift.push(format!("{path}: {e}")),
        }
    }
    assert!(
        drift.is_empty(),
        "{}\nrun `cargo run --example gen-docs`",
        drift.join("\n")
    );
}

#[test]
fn checks_md_documents_every_check() {
    let md = surface_check::docs::checks_markdown();
    for (_, c) in surface_check::checks::all_checks() {
        assert!(md.contains(&format!("### `{}`", c.id)), "{} missing", c.id);
        assert!(md.contains(c.fix));
    }
}

/// Roff without font changes and with plain hyphens.
fn plain(roff: &str) -> String {
    roff.replace("\\fB", "")
        .replace("\\fR", "")
        .replace("\\fI", "")
        .replace("\\-", "-")
}

/// Every page a man page points to (`surface-check-status(1)`) is generated, every
/// command has its page, and each command's page documents its options.
#[test]
fn man_pages_cover_every_command_and_point_only_to_pages_that_exist() {
    use clap::CommandFactory;
    let files = surface_check::docs::generated_files();
    let pages: std::collections::BTreeMap<String, String> = files
        .iter()
        .filter_map(|(path, content)| {
            let name = path.strip_prefix("docs/man/")?.strip_suffix(".1")?;
            Some((
                name.to_string(),
                String::from_utf8(content.clone()).unwrap(),
            ))
        })
        .collect();
    let cli = surface_check::cli::Cli::command();
    let main = pages.get("surface-check").expect("surface-check.1");
    for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("surface-check-{}", sub.get_name());
        let page = pages
            .get(&name)
            .unwrap_or_else(|| panic!("no man page {name}.1"));
        assert!(plain(main).contains(&format!("{name}(1)")), "{name}");
        for arg in sub.get_arguments() {
            if let Some(long) = arg.get_long() {
                assert!(
                    page.contains(&format!("\\-\\-{}", long.replace('-', "\\-"))),
                    "{name}.1 does not document --{long}"
                );
            }
        }
        assert!(
            plain(page).contains("SEE ALSO\"\nsurface-check(1)"),
            "{name}.1 has no SEE ALSO"
        );
    }
    // Every `NAME(1)` reference names a page that is generated.
    for (name, page) in &pages {
        let page = plain(page);
        for (i, _) in page.match_indices("(1)") {
            let before = &page[..i];
            let start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(0, |j| j + 1);
            let referenced = &before[start..];
            assert!(
                pages.contains_key(referenced),
                "{name}.1 points to {referenced}(1), which is not generated"
            );
        }
    }
    for text in ["SURFACE_CHECK_LOG", "NO_COLOR", "EXIT STATUS"] {
        assert!(
            main.contains(text),
            "surface-check.1 does not document {text}"
        );
    }
}

/// Every command has at least one example in docs/: a line in a code block that runs
/// it, `surface-check <command> ...` (after an optional `$ `).
#[test]
fn every_command_has_an_example_in_the_docs() {
    use clap::CommandFactory;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("docs/ entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            texts.push(std::fs::read_to_string(&path).expect("a doc"));
        }
    }
    // The lines inside fenced code blocks.
    let mut code = Vec::new();
    for text in &texts {
        let mut inside = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                inside = !inside;
            } else if inside {
                code.push(line.trim_start().trim_start_matches("$ ").trim_start());
            }
        }
    }
    let cli = surface_check::cli::Cli::command();
    let mut missing = Vec::new();
    for sub in cli.get_subcommands() {
        let name = sub.get_name();
        let runs = |l: &&str| {
            l.strip_prefix("surface-check ")
                .or_else(|| l.strip_prefix("sudo surface-check "))
                .and_then(|rest| rest.split_whitespace().next())
                == Some(name)
        };
        if !code.iter().any(runs) {
            missing.push(name.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "no example in docs/*.md runs: {}",
        missing.join(", ")
    );
}
