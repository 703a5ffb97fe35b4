//! Writes the `facts_json` fuzz seeds (`fuzz/seeds/facts_json/*.json`): captures, as
//! `surface-check capture` writes them, of Surface Book 2 fixture trees and of an
//! empty tree. Run it again whenever the facts format changes (`scripts/fuzz.sh`
//! refuses seeds that `status --from` no longer reads):
//!
//! ```text
//! cargo run --example fuzz-seeds
//! ```
//!
//! Needs root: the fixture trees have device nodes.

use std::path::Path;

use clap::Parser;
use surface_check::cli::{self, Cli};

// The fixture generator of the integration tests (`sb2` refers to `super::tree`).
#[path = "../tests/common/sb2.rs"]
mod sb2;
#[path = "../tests/common/tree.rs"]
mod tree;

use sb2::{Distro, Sb2, Size};

fn main() -> anyhow::Result<()> {
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/facts_json");
    std::fs::create_dir_all(&out_dir)?;

    let detached = Sb2 {
        base_attached: false,
        ..Sb2::new(Size::In15, Distro::DebianSurface)
    };
    // (seed name, machine, the root the capture claims to come from)
    let machines = [
        (
            "sb2-15-nixos",
            Some(Sb2::new(Size::In15, Distro::NixOs)),
            "/",
        ),
        (
            "sb2-13-stock",
            Some(Sb2::new(Size::In13, Distro::DebianStock)),
            "/srv/captures/sb2-13",
        ),
        ("sb2-15-detached", Some(detached), "/"),
        ("empty", None, "/mnt/not-a-surface"),
    ];
    for (name, machine, claimed_root) in machines {
        let tree = match &machine {
            Some(m) => m.build(),
            None => tree::Tree::new(),
        };
        let tmp = out_dir.join(format!("{name}.capture"));
        let root = tree.path().to_str().expect("a UTF-8 temporary path");
        let args = ["surface-check", "capture", "--root", root, "-o"];
        let cli = Cli::try_parse_from(args.iter().copied().chain([tmp.to_str().unwrap()]))?;
        let code = cli::run(cli)?;
        anyhow::ensure!(code == 0, "capture of {name} exited {code}");

        // Seeds must not depend on where the fixture was built.
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&tmp)?)?;
        std::fs::remove_file(&tmp)?;
        v["source"]["root"] = claimed_root.into();
        let text = serde_json::to_string(&v)?.replace(root, "");
        surface_check::facts::Facts::from_json(text.as_bytes())?;
        let path = out_dir.join(format!("{name}.json"));
        std::fs::write(&path, text + "\n")?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
