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
