//! `surface-check kernel`: judge a kernel before booting it.
//!
//! Without options, the running kernel in depth: its identity, the linux-surface
//! patch evidence, and every driver the profile needs, present, missing or built
//! in. `--inspect TARGET` judges a NixOS generation, a kernel store path or tree, or
//! a package file: per subsystem whether it will work, and whether it will boot
//! this system. `--compare TARGET` sets the running kernel against TARGET. The
//! verdicts are computed in [`crate::preflight::predict`] and
//! [`crate::preflight::boot`]; this file reads the targets and prints.
//!
//! Exit status: 0 when every subsystem will work and it will boot, 1 when one will
//! not (or only in part) or it will not boot this system, 2 on an error (a target
//! that cannot be read: missing, corrupt, not a kernel, an archive bomb, an unsafe
//! entry).

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::cli::render::{mark, visible};
use crate::preflight::boot::{self, BootVerdict};
use crate::preflight::predict::{self, Comparison, KernelReport, Mode, Prediction};
use crate::preflight::source::{self, Caps};
use crate::profiles::SURFACE_BOOK_2;
use crate::report::Status;
use crate::root::Root;

#[derive(Debug, Clone, Args)]
pub struct KernelArgs {
    /// Judge TARGET instead of the running kernel: a NixOS generation or profile
    /// (/nix/var/nix/profiles/system, system-42-link, /run/current-system), a kernel
    /// store path or unpacked tree (boot/config-*, lib/modules/<release>), or a
    /// package file (.deb, .pkg.tar.zst, .rpm), read as a stream without unpacking.
    #[arg(long, value_name = "TARGET", conflicts_with = "compare")]
    pub inspect: Option<String>,
    /// Compare the running kernel with TARGET: options gained and lost, subsystem by
    /// subsystem, and whether TARGET boots this system. On NixOS, after
    /// `nixos-rebuild boot`: `--compare /nix/var/nix/profiles/system`.
    #[arg(long, value_name = "TARGET")]
    pub compare: Option<String>,
    /// Print the result as JSON (see docs/preflight.md for the shape).
    #[arg(long)]
    pub json: bool,
    /// Read the system (and TARGET) inside DIR, as under chroot: a NixOS system's
    /// absolute store links resolve inside it.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

/// Runs `surface-check kernel`; the exit code is the report's (0 or 1). A target
/// that cannot be read is an error (exit 2 in the binary).
pub fn run(a: &KernelArgs, out: &mut impl Write) -> Result<i32> {
    let report = report(a)?;
    if a.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        out.write_all(human(&report).as_bytes())?;
    }
    Ok(report.exit_code())
}

/// The report `run` prints, computed from the root and the target.
pub fn report(a: &KernelArgs) -> Result<KernelReport> {
    let root =
        Root::open(&a.root).with_context(|| format!("opening the root {}", a.root.display()))?;
    let profile = &SURFACE_BOOK_2;
    let caps = Caps::default();
    let target = match (&a.inspect, &a.compare) {
        // The error names TARGET and what is wrong with it.
        (Some(t), _) | (None, Some(t)) => Some(source::inspect(&root, t, profile, &caps)?),
        (None, None) => None,
    };
    // After TARGET: a target that cannot be read fails before the running kernel's
    // initrd is decompressed.
    let running = source::running(&root, profile, &caps);
    // Which machine this is, as `status` tells it: predictions are for the profile's
    // model, and on another machine the running kernel loses nothing here.
    let facts = crate::facts::collect(&root, profile).context("identifying this machine")?;
    let report = match target {
        None => predict::running_report(&running, profile),
        Some(t) => {
            let host = boot::host(&root, running.initrd_modules.clone());
            if a.compare.is_some() {
                predict::compare_report(&running, &t, &host, profile)
            } else {
                predict::inspect_report(&t, &host, profile)
            }
        }
    };
    Ok(report.on_machine(&facts, profile))
}

/// The human form of a report: it prints the verdicts, it computes none.
pub fn human(r: &KernelReport) -> String {
    let mut o = String::new();
    match (&r.mode, &r.compare) {
        (Mode::Compare, Some(c)) => {
            kernel_head(&mut o, "Running", &c.running);
            o.push('\n');
            kernel_head(&mut o, "Target", &r.kernel);
            o.push('\n');
            comparison(&mut o, c);
        }
        _ => {
            kernel_head(&mut o, "Kernel", &r.kernel);
            o.push('\n');
            subsystems(&mut o, &r.kernel, r.mode == Mode::Running);
        }
    }
    if let Some(b) = &r.boot {
        o.push('\n');
        boot_part(&mut o, b);
    }
    if !r.kernel.notes.is_empty() {
        o.push_str("\nNotes:\n");
        for n in &r.kernel.notes {
            let _ = writeln!(o, "  - {}", visible(n));
        }
    }
    if let Some(m) = &r.machine
        && m.identity != "profile"
    {
        let _ = writeln!(
            o,
            "\nThis machine: {} ({}): the predictions are for a Surface Book 2.",
            if m.identity == "other" {
                "not a Surface Book 2"
            } else {
                "not identified"
            },
            visible(&m.evidence)
        );
    }
    let _ = writeln!(
        o,
        "\n{} {}",
        mark(r.overall),
        match r.overall {
            Status::Absent => "not a Surface Book 2: nothing on this machine is lost",
            Status::Ok => "everything the profile needs will work",
            Status::Failed | Status::Degraded => "something will not work: see above",
            _ => "some of it cannot be told: see above",
        }
    );
    o
}

fn kernel_head(o: &mut String, what: &str, p: &Prediction) {
    let _ = writeln!(o, "{what}: {} ({})", visible(&p.target), kind(p));
    let rel = |r: &Option<String>| {
        r.as_deref()
            .map(visible)
            .unwrap_or("unknown".into())
            .into_owned()
    };
    let _ = writeln!(
        o,
        "  boots as:   {} (image: {}, module directory: {})",
        rel(&p.boots_as),
        rel(&p.image_release),
        rel(&p.release)
    );
    if let Some(g) = p.generation {
        let _ = writeln!(o, "  generation: {g}");
    }
    let _ = writeln!(
        o,
        "  config:     {}{}",
        visible(&p.config),
        p.config_options
            .map(|n| format!(" ({n} options)"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        o,
        "  modules:    {}{}",
        visible(&p.module_tree),
        p.modules
            .map(|n| format!(" ({n} modules)"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        o,
        "  linux-surface patches: {}",
        match p.surface_patches {
            Some(true) => "yes",
            Some(false) => "no",
            None => "cannot tell",
        }
    );
    for e in p.patch_evidence.iter().take(4) {
        let _ = writeln!(o, "    {}", visible(e));
    }
}

fn kind(p: &Prediction) -> &'static str {
    use crate::preflight::TargetKind::*;
    match p.kind {
        Running => "running kernel",
        NixGeneration => "NixOS generation",
        Tree => "kernel tree",
        Deb => "Debian package",
        ArchPackage => "Arch package",
        Rpm => "RPM package",
    }
}

fn subsystems(o: &mut String, p: &Prediction, every_driver: bool) {
    o.push_str("Subsystems:\n");
    for s in &p.subsystems {
        let _ = writeln!(o, "  {} {}", mark(s.status), visible(&s.summary));
        if let Some(f) = &s.fix {
            let _ = writeln!(o, "      fix: {}", visible(f));
        }
        for n in &s.notices {
            let _ = writeln!(o, "      note: {}", visible(n));
        }
        if every_driver {
            for d in &s.drivers {
                let _ = writeln!(
                    o,
                    "      {:<8} {} ({}): {}",
                    match d.presence {
                        predict::Presence::Builtin => "built in",
                        predict::Presence::Module => "module",
                        predict::Presence::Missing => "missing",
                        predict::Presence::Unknown => "unknown",
                    },
                    d.module,
                    d.role,
                    visible(&d.evidence)
                );
            }
        }
    }
}

fn comparison(o: &mut String, c: &Comparison) {
    o.push_str("Subsystems (running -> target):\n");
    for s in &c.subsystems {
        let _ = writeln!(
            o,
            "  {} {:<9} {} -> {}{}",
            mark(s.after),
            s.id,
            s.before,
            s.after,
            match s.change {
                "unchanged" => String::new(),
                ch => format!("  ({ch}: {})", visible(&s.after_summary)),
            }
        );
    }
    match c.options_changed {
        Some(n) => {
            let _ = writeln!(
                o,
                "\nOptions: {n} changed in all; {} of those that matter:",
                c.options.len()
            );
            for x in &c.options {
                let v = |v: &Option<String>| {
                    v.as_deref()
                        .map(visible)
                        .unwrap_or("not set".into())
                        .into_owned()
                };
                let _ = writeln!(
                    o,
                    "  {:<6} CONFIG_{} {} -> {} ({})",
                    x.change,
                    x.option,
                    v(&x.before),
                    v(&x.after),
                    x.matters_for.join(", ")
                );
            }
        }
        None => o.push_str("\nOptions: not compared\n"),
    }
    for n in &c.notices {
        let _ = writeln!(o, "  note: {}", visible(n));
    }
}

fn boot_part(o: &mut String, b: &BootVerdict) {
    let _ = writeln!(o, "Boot: {} {}", mark(b.status), visible(&b.summary));
    for x in b.options.iter().filter(|x| x.status != Status::Ok) {
        let _ = writeln!(
            o,
            "  {} CONFIG_{} = {} (needs {}, for {}){}",
            mark(x.status),
            x.option,
            x.value
                .as_deref()
                .map(|v| if v.is_empty() { "not set" } else { v })
                .unwrap_or("unknown"),
            match x.need {
                boot::Need::Set => "y or m",
                boot::Need::Builtin => "y",
            },
            x.required_by
                .iter()
                .map(|w| w.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            x.consequence
                .as_deref()
                .map(|c| format!(": {}", visible(c)))
                .unwrap_or_default()
        );
    }
    for m in b.modules.iter().chain(std::iter::once(&b.release)) {
        let _ = writeln!(
            o,
            "  {} {}: {}{}",
            mark(m.status),
            m.module,
            visible(&m.evidence),
            m.consequence
                .as_deref()
                .map(|c| format!(" ({})", visible(c)))
                .unwrap_or_default()
        );
    }
    for n in &b.notices {
        let _ = writeln!(o, "  note: {}", visible(n));
    }
}
