//! Writes the generated documentation (`docs/checks.md`, man page, completions).
//! `tests/generated_docs.rs` checks the committed copies against the code.

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, content) in surface_check::docs::generated_files() {
        let p = root.join(&path);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&p, content)?;
        println!("wrote {path}");
    }
    Ok(())
}
