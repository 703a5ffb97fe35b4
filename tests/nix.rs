//! The Nix packaging (flake.nix, nix/package.nix, nix/module.nix), checked offline with
//! Debian's nix-bin (`nix-instantiate`, installed by scripts/test.sh): every .nix file
//! parses; the module, evaluated against the stub of nixpkgs' `lib` and option tree in
//! nix/tests/ (no nixpkgs here), sets what each option promises and nothing when
//! disabled; the package's install phase names every file of systemd/ and dbus/ and
//! puts them where scripts/install.sh does; the unit, timer and bus names the module
//! uses are those of systemd/ and dbus/; its drop-ins pass `systemd-analyze verify`
//! on the units as installed; the flake's outputs evaluate with stand-in inputs.
//! What needs nixpkgs itself (building the package, the NixOS VM test) runs with
//! `nix flake check` (docs/nixos.md).

mod common;

use common::unit_entries as entries;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_surface-check");
const DAEMON: &str = env!("CARGO_BIN_EXE_surface-checkd");
/// What the evaluator's stand-in pkgs.callPackage gives for nix/package.nix.
const STUB_PACKAGE: &str = "/nix/store/00000000000000000000000000000000-stub-package.nix";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `program`; a missing program fails with the package that provides it.
fn run(cmd: &mut Command, package: &str) -> Output {
    let name = cmd.get_program().to_string_lossy().into_owned();
    cmd.env("SYSTEMD_COLORS", "0")
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                panic!(
                    "{name} not found: install {package} (apt-get install {package}; scripts/test.sh does)"
                );
            }
            panic!("running {name}: {e}");
        })
}

fn nix_instantiate(args: &[&str]) -> Output {
    // On a fresh machine the first nix-instantiate creates the Nix database
    // (/nix/var/nix/db); several creating it at once fail with "SQLite database
    // ... is busy". One evaluation, alone, creates it before the others run.
    static DATABASE: std::sync::Once = std::sync::Once::new();
    DATABASE.call_once(|| {
        let out = run(
            Command::new("nix-instantiate")
                .args(["--eval", "--expr", "null"])
                .env_remove("NIX_PATH"),
            "nix-bin",
        );
        assert!(
            out.status.success(),
            "nix-instantiate cannot evaluate `null`: {}",
            text(&out.stderr)
        );
    });
    run(
        Command::new("nix-instantiate")
            .args(args)
            .current_dir(repo())
            // Nothing from the caller's environment reaches the evaluation.
            .env_remove("NIX_PATH"),
        "nix-bin",
    )
}

/// `nix-instantiate --eval --strict --json FILE --arg NAME VALUE...`, parsed.
fn eval(file: &str, args: &[(&str, &str)]) -> Value {
    let out = try_eval(file, args);
    match out {
        Ok(v) => v,
        Err(e) => panic!("evaluating {file} {args:?} failed:\n{e}"),
    }
}

fn try_eval(file: &str, args: &[(&str, &str)]) -> Result<Value, String> {
    let mut argv = vec!["--eval", "--strict", "--json", file];
    for (k, v) in args {
        argv.extend(["--arg", k, v]);
    }
    let out = nix_instantiate(&argv);
    if !out.status.success() {
        return Err(text(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout).expect("nix-instantiate --json prints JSON"))
}

/// The module evaluated with these values under services.surface-check (a Nix
/// attribute set), as { config, options }.
fn module(settings: &str) -> Value {
    eval("nix/tests/eval-module.nix", &[("settings", settings)])
}

fn module_config(settings: &str) -> Value {
    module(settings)["config"].clone()
}

/// The error of an evaluation that must fail.
fn module_error(settings: &str) -> String {
    match try_eval("nix/tests/eval-module.nix", &[("settings", settings)]) {
        Ok(v) => panic!("{settings} evaluated, but must not: {v:#}"),
        Err(e) => e,
    }
}

fn package() -> Value {
    eval("nix/tests/eval-package.nix", &[])
}

/// Every file under `dir` (relative to the repository), walked.
fn files_under(dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![repo().join(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(
                    p.strip_prefix(repo())
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_string(),
                );
            }
        }
    }
    files.sort();
    files
}

/// The space-separated words of every `key=` in `section`, in order.
fn words(e: &[(String, String, String)], section: &str, key: &str) -> Vec<String> {
    e.iter()
        .filter(|(s, k, _)| s == section && k == key)
        .flat_map(|(_, _, v)| v.split_whitespace().map(String::from))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every .nix file in the repository, found by walking it (build output and hidden
/// directories aside), parses.
#[test]
fn every_nix_file_parses() {
    let mut found = Vec::new();
    let mut stack = vec![repo().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(p);
                }
            } else if name.ends_with(".nix") {
                found.push(p);
            }
        }
    }
    found.sort();
    for must in [
        "flake.nix",
        "nix/package.nix",
        "nix/module.nix",
        "nix/tests/stub-lib.nix",
        "nix/tests/eval-module.nix",
    ] {
        assert!(
            found.contains(&repo().join(must)),
            "the walk missed {must}: {found:?}"
        );
    }
    for f in &found {
        let out = nix_instantiate(&["--parse", f.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{} does not parse:\n{}",
            f.display(),
            text(&out.stderr)
        );
    }
    // The check itself: a file that does not parse is refused.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.nix");
    std::fs::write(&bad, "{ a = 1; b = ; }\n").unwrap();
    let out = nix_instantiate(&["--parse", bad.to_str().unwrap()]);
    assert!(!out.status.success(), "a broken file parsed");
    assert!(
        text(&out.stderr).contains("syntax error"),
        "{}",
        text(&out.stderr)
    );
}

/// Disabled, the module sets nothing, whatever else is set.
#[test]
fn disabled_the_module_sets_nothing() {
    assert_eq!(module_config("{ }"), json!({}));
    assert_eq!(
        module_config(
            r#"{ enable = false; notifier.enable = true; history.keep = 5; report.delay = "9min";
                 metrics.textfileDirectory = "/var/lib/tf"; }"#
        ),
        json!({})
    );
}

/// Enabled with every default: the package in the system, the bus, systemd and polkit,
/// the daemon and the timer enabled as their [Install] sections say; no drop-in on
/// the report service, no notifier.
#[test]
fn enabled_it_wires_the_package_into_dbus_systemd_and_polkit() {
    let c = module_config("{ enable = true; }");
    assert_eq!(
        c,
        json!({
            "environment": { "systemPackages": [STUB_PACKAGE] },
            "services": { "dbus": { "packages": [STUB_PACKAGE] } },
            "security": { "polkit": { "enable": true } },
            "systemd": {
                "packages": [STUB_PACKAGE],
                "services": {
                    "surface-checkd": {
                        "wantedBy": ["multi-user.target"],
                        "aliases": ["dbus-io.github.SurfaceCheck1.service"]
                    }
                },
                "timers": {
                    "surface-check-report": {
                        "wantedBy": ["timers.target", "suspend.target", "hibernate.target",
                                     "hybrid-sleep.target", "suspend-then-hibernate.target"],
                        "timerConfig": { "OnActiveSec": ["", "2min"] }
                    }
                }
            }
        })
    );
}

/// The wantedBy and aliases the module sets are the [Install] sections of the unit
/// files it links (NixOS does not read them), and the timer's default delay is the
/// unit's own.
#[test]
fn the_module_repeats_each_units_install_section() {
    let c = module_config("{ enable = true; notifier.enable = true; }");
    let sys = repo().join("systemd");
    let daemon = entries(&sys.join("surface-checkd.service"));
    let d = &c["systemd"]["services"]["surface-checkd"];
    assert_eq!(
        strings(&d["wantedBy"]),
        words(&daemon, "Install", "WantedBy")
    );
    assert_eq!(strings(&d["aliases"]), words(&daemon, "Install", "Alias"));

    let timer = entries(&sys.join("surface-check-report.timer"));
    let t = &c["systemd"]["timers"]["surface-check-report"];
    assert_eq!(
        strings(&t["wantedBy"]),
        words(&timer, "Install", "WantedBy")
    );
    assert_eq!(
        strings(&t["timerConfig"]["OnActiveSec"]),
        ["".to_string()]
            .into_iter()
            .chain(words(&timer, "Timer", "OnActiveSec"))
            .collect::<Vec<_>>()
    );
    // The report service has no [Install]: the timer starts it.
    let report = entries(&sys.join("surface-check-report.service"));
    assert!(words(&report, "Install", "WantedBy").is_empty());
    assert!(c["systemd"]["services"]["surface-check-report"].is_null());

    let notify = entries(&sys.join("user/surface-check-notify.service"));
    assert_eq!(
        strings(&c["systemd"]["user"]["services"]["surface-check-notify"]["wantedBy"]),
        words(&notify, "Install", "WantedBy")
    );
}

/// The units and the bus name the module names are exactly those of systemd/ and
/// dbus/ (and the package's); a unit renamed in one place fails here.
#[test]
fn unit_and_bus_names_in_the_module_are_those_of_systemd_and_dbus() {
    let c = module_config(
        r#"{ enable = true; notifier.enable = true; history.keep = 3;
             metrics.textfileDirectory = "/var/lib/tf"; }"#,
    );
    let s = &c["systemd"];
    let mut in_module: BTreeSet<String> = BTreeSet::new();
    for n in names(&s["services"]) {
        in_module.insert(format!("systemd/{n}.service"));
    }
    for n in names(&s["timers"]) {
        in_module.insert(format!("systemd/{n}.timer"));
    }
    for n in names(&s["user"]["services"]) {
        in_module.insert(format!("systemd/user/{n}.service"));
    }
    let in_tree: BTreeSet<String> = files_under("systemd").into_iter().collect();
    assert_eq!(in_module, in_tree);

    // The bus name: the activation file's Name=, the policy's, the package's and the
    // module's alias (dbus-NAME.service, the name systemd's bus activation uses).
    let activation = entries(&repo().join("dbus/io.github.SurfaceCheck1.service"));
    let name = words(&activation, "D-BUS Service", "Name");
    assert_eq!(name.len(), 1);
    let name = &name[0];
    assert_eq!(package()["busName"], json!(name));
    assert_eq!(
        strings(&s["services"]["surface-checkd"]["aliases"]),
        [format!("dbus-{name}.service")]
    );
    let policy = std::fs::read_to_string(repo().join("dbus/io.github.SurfaceCheck1.conf")).unwrap();
    assert!(policy.contains(&format!("own=\"{name}\"")), "{policy}");
    // The activation file starts a unit the module enables.
    let unit = words(&activation, "D-BUS Service", "SystemdService");
    assert_eq!(unit, ["surface-checkd.service"]);
    assert!(s["services"]["surface-checkd"].is_object());
}

#[test]
fn report_enable_false_leaves_the_timer_alone() {
    let c = module_config("{ enable = true; report.enable = false; }");
    assert!(c["systemd"]["timers"].is_null(), "{c:#}");
    // The daemon stays.
    assert!(c["systemd"]["services"]["surface-checkd"].is_object());
    let c = module_config(r#"{ enable = true; report.delay = "5min"; }"#);
    assert_eq!(
        c["systemd"]["timers"]["surface-check-report"]["timerConfig"]["OnActiveSec"],
        json!(["", "5min"])
    );
}

#[test]
fn history_keep_is_the_reports_keep() {
    let c = module_config("{ enable = true; history.keep = 30; }");
    assert_eq!(
        c["systemd"]["services"]["surface-check-report"],
        json!({ "serviceConfig": { "ExecStart": ["", format!("{STUB_PACKAGE}/bin/surface-check report --keep 30")] } })
    );
    // The binary takes that command line.
    let out = Command::new(BIN)
        .args(["report", "--help"])
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("--keep <N>"),
        "{}",
        text(&out.stdout)
    );
    // Out of range is refused by the option's type, as by the command.
    let e = module_error("{ enable = true; history.keep = 0; }");
    assert!(e.contains("services.surface-check.history.keep"), "{e}");
    let e = module_error(r#"{ enable = true; history.keep = "30"; }"#);
    assert!(e.contains("is not of type"), "{e}");
}

#[test]
fn metrics_run_after_each_report_in_a_writable_directory() {
    let c = module_config(
        r#"{ enable = true; metrics.textfileDirectory = "/var/lib/node-textfiles"; }"#,
    );
    assert_eq!(
        c["systemd"]["services"]["surface-check-report"],
        json!({ "serviceConfig": {
            "ExecStopPost": [format!("-{STUB_PACKAGE}/bin/surface-check metrics --textfile /var/lib/node-textfiles")],
            "ReadWritePaths": ["-/var/lib/node-textfiles"]
        } })
    );
    assert_eq!(
        c["systemd"]["tmpfiles"]["rules"],
        json!(["d /var/lib/node-textfiles - - - -"])
    );
    assert_eq!(
        c["assertions"],
        json!([
            { "assertion": true, "message": c["assertions"][0]["message"] },
            { "assertion": true, "message": c["assertions"][1]["message"] }
        ])
    );
    // With --keep as well, both drop-in settings are there.
    let c = module_config(
        r#"{ enable = true; history.keep = 7; metrics.textfileDirectory = "/var/lib/node-textfiles"; }"#,
    );
    let sc = &c["systemd"]["services"]["surface-check-report"]["serviceConfig"];
    assert_eq!(
        names(sc),
        BTreeSet::from([
            "ExecStart".into(),
            "ExecStopPost".into(),
            "ReadWritePaths".into()
        ])
    );

    // A path systemd would split or read specially fails the NixOS assertion.
    let c =
        module_config(r#"{ enable = true; metrics.textfileDirectory = "/var/lib/two words"; }"#);
    assert_eq!(c["assertions"][0]["assertion"], json!(false));
    // "/" (or "//") as ReadWritePaths= would open the whole file system to the
    // sandboxed unit; "." and ".." segments name another directory than they spell.
    for dir in [
        "/",
        "//",
        "/var/..",
        "/var/lib/../../etc",
        "/var/./lib",
        "/.",
    ] {
        let c = module_config(&format!(
            r#"{{ enable = true; metrics.textfileDirectory = "{dir}"; }}"#
        ));
        let failed: Vec<&str> = c["assertions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["assertion"] == json!(false))
            .map(|a| a["message"].as_str().unwrap())
            .collect();
        assert_eq!(failed.len(), 1, "{dir}: {c:#}");
        assert!(
            failed[0].contains("must not be / nor have a . or .. segment")
                && failed[0].contains(&format!("got '{dir}'")),
            "{dir}: {}",
            failed[0]
        );
    }
    // A dot inside a name is no such segment.
    for dir in ["/var/lib/..tf", "/var/lib/tf.d/", "/srv/.metrics"] {
        let c = module_config(&format!(
            r#"{{ enable = true; metrics.textfileDirectory = "{dir}"; }}"#
        ));
        assert!(
            c["assertions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["assertion"] == json!(true)),
            "{dir}: {c:#}"
        );
    }
    // A relative path is no path.
    let e = module_error(r#"{ enable = true; metrics.textfileDirectory = "var/lib/tf"; }"#);
    assert!(
        e.contains("metrics.textfileDirectory") && e.contains("is not of type"),
        "{e}"
    );
}

#[test]
fn the_notifier_is_enabled_for_every_users_graphical_session() {
    let c = module_config("{ enable = true; }");
    assert!(c["systemd"]["user"].is_null());
    let c = module_config("{ enable = true; notifier.enable = true; }");
    assert_eq!(
        c["systemd"]["user"],
        json!({ "services": { "surface-check-notify": { "wantedBy": ["graphical-session.target"] } } })
    );
}

#[test]
fn an_option_that_does_not_exist_is_an_error() {
    let e = module_error("{ enable = true; timer.enable = false; }");
    assert!(
        e.contains("The option `services.surface-check.timer' does not exist"),
        "{e}"
    );
}

/// The NixOS options the module sets are checked by name and type against
/// nix/tests/nixos-options.nix (nixpkgs' declarations): a copy of the module with a
/// typo in an option name, or a value of the wrong type, fails to evaluate, and the
/// error names the option.
#[test]
fn a_nixos_option_misspelt_or_mistyped_fails_naming_it() {
    let original = std::fs::read_to_string(repo().join("nix/module.nix")).unwrap();
    let settings = r#"{ enable = true; notifier.enable = true; history.keep = 3;
                       metrics.textfileDirectory = "/var/lib/tf"; }"#;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("module.nix");
    let eval_copy = |text: &str| {
        std::fs::write(&copy, text).unwrap();
        let module = format!("\"{}\"", copy.display());
        try_eval(
            "nix/tests/eval-module.nix",
            &[("module", module.as_str()), ("settings", settings)],
        )
    };
    // The copy as it is evaluates to what the module itself gives.
    assert_eq!(
        eval_copy(&original).expect("the unchanged copy evaluates")["config"],
        module_config(settings)
    );
    for (from, to, error) in [
        (
            "systemd.services.surface-checkd = {",
            "systemd.service.surface-checkd = {",
            "The option `systemd.service' does not exist",
        ),
        (
            "aliases = [ \"dbus-",
            "alias = [ \"dbus-",
            "The option `systemd.services.surface-checkd.alias' does not exist",
        ),
        (
            "services.dbus.packages = ",
            "services.dbus.package = ",
            "The option `services.dbus.package' does not exist",
        ),
        (
            "systemd.user.services.surface-check-notify.wantedBy",
            "systemd.user.service.surface-check-notify.wantedBy",
            "The option `systemd.user.service' does not exist",
        ),
        (
            "timerConfig.OnActiveSec",
            "timerconfig.OnActiveSec",
            "The option `systemd.timers.surface-check-report.timerconfig' does not exist",
        ),
        (
            "systemd.tmpfiles.rules",
            "systemd.tmpfile.rules",
            "The option `systemd.tmpfile' does not exist",
        ),
        (
            "wantedBy = [ \"multi-user.target\" ];",
            "wantedBy = \"multi-user.target\";",
            "A definition for option `systemd.services.surface-checkd.wantedBy' is not of type `list of string matching the pattern",
        ),
        // A unit name without its suffix is no unit name (nixpkgs' unitNameType).
        (
            "\"dbus-io.github.SurfaceCheck1.service\"",
            "\"dbus-io.github.SurfaceCheck1\"",
            "A definition for option `systemd.services.surface-checkd.aliases' is not of type",
        ),
        (
            "security.polkit.enable = mkDefault true;",
            "security.polkit.enable = mkDefault \"yes\";",
            "A definition for option `security.polkit.enable' is not of type `boolean'",
        ),
        (
            "systemd.tmpfiles.rules = [ \"d ${textfileDirectory} - - - -\" ];",
            "systemd.tmpfiles.rules = \"d ${textfileDirectory} - - - -\";",
            "A definition for option `systemd.tmpfiles.rules' is not of type `list of string'",
        ),
    ] {
        assert_eq!(
            original.matches(from).count(),
            1,
            "nix/module.nix should contain {from:?} once"
        );
        match eval_copy(&original.replacen(from, to, 1)) {
            Ok(v) => panic!("{to:?} evaluated, but must not: {v:#}"),
            Err(e) => assert!(e.contains(error), "{to:?}: expected {error:?} in:\n{e}"),
        }
    }
}

/// The package option's default, and the one the caller gives.
#[test]
fn the_package_is_the_callers_or_nix_package_nix() {
    let c = module_config(
        r#"{ enable = true; package = { type = "derivation"; outPath = "/nix/store/11111111111111111111111111111111-surface-check-9"; }; }"#,
    );
    assert_eq!(
        c["systemd"]["packages"],
        json!(["/nix/store/11111111111111111111111111111111-surface-check-9"])
    );
}

/// docs/nixos.md's table has every option, with its default.
#[test]
fn docs_list_every_option_with_its_default() {
    let options = module("{ }")["options"].clone();
    let doc = std::fs::read_to_string(repo().join("docs/nixos.md")).unwrap();
    let mut rows = std::collections::BTreeMap::new();
    for line in doc.lines() {
        let Some(rest) = line.strip_prefix("| `services.surface-check.") else {
            continue;
        };
        let cells: Vec<&str> = line.split(" | ").collect();
        assert!(
            cells.len() >= 4,
            "a table row needs name | type | default | what: {line}"
        );
        let name = format!("services.surface-check.{}", rest.split('`').next().unwrap());
        let default = cells[2].trim().trim_matches('`').to_string();
        rows.insert(name, default);
    }
    let mut want = std::collections::BTreeMap::new();
    for o in options.as_array().unwrap() {
        let d = &o["default"];
        let default = match d {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::String(s) => format!("\"{s}\""),
            Value::Object(m) => m["literalExpression"].as_str().unwrap().to_string(),
            other => other.to_string(),
        };
        assert!(
            !o["description"].as_str().unwrap().is_empty(),
            "{} has no description",
            o["name"]
        );
        want.insert(o["name"].as_str().unwrap().to_string(), default);
    }
    assert_eq!(
        rows, want,
        "docs/nixos.md's option table against the module"
    );
}

/// The install phase names every file of systemd/ and dbus/ (walked) and no file that
/// does not exist; each goes where scripts/install.sh puts it; the files naming
/// /usr/bin/surface-check are the ones rewritten.
#[test]
fn the_package_installs_every_unit_and_bus_file_where_install_sh_does() {
    let p = package();
    let install = p["postInstall"].as_str().unwrap();
    let tree: Vec<String> = files_under("systemd")
        .into_iter()
        .chain(files_under("dbus"))
        .collect();
    assert!(tree.len() >= 8, "{tree:?}");
    let named: BTreeSet<String> = install
        .split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .filter(|w| w.starts_with("systemd/") || w.starts_with("dbus/"))
        .map(String::from)
        .collect();
    assert_eq!(named, tree.iter().cloned().collect::<BTreeSet<_>>());

    // Where: as scripts/install.sh --prefix /usr lays them out.
    let dest = tempfile::tempdir().unwrap();
    let out = run(
        Command::new(repo().join("scripts/install.sh"))
            .args(["--prefix", "/usr", "--destdir"])
            .arg(dest.path())
            .args(["--binary", BIN, "--daemon", DAEMON]),
        "bash",
    );
    assert!(out.status.success(), "install.sh: {}", text(&out.stderr));
    for f in p["serviceFiles"].as_array().unwrap() {
        let file = f["file"].as_str().unwrap();
        let base = Path::new(file).file_name().unwrap().to_str().unwrap();
        let to = format!("{}/{base}", f["dir"].as_str().unwrap());
        assert!(
            dest.path().join("usr").join(&to).is_file(),
            "install.sh puts {file} elsewhere than {to}"
        );
        let body = std::fs::read_to_string(repo().join(file)).unwrap();
        let rewritten = install.contains(&format!(
            "substitute {file} \"$out/{to}\" --replace-fail /usr/bin/surface-check \"$out/bin/surface-check\""
        ));
        assert_eq!(
            rewritten,
            body.contains("/usr/bin/surface-check"),
            "{file}: rewritten {rewritten}"
        );
        if !rewritten {
            assert!(
                install.contains(&format!("install -D -m 0644 {file} \"$out/{to}\"")),
                "{file}"
            );
        }
    }
    assert!(install.contains("installManPage docs/man/*.1 docs/man/*.8"));
    for c in ["surface-check.bash", "_surface-check", "surface-check.fish"] {
        assert!(repo().join("docs/completions").join(c).is_file(), "{c}");
        assert!(install.contains(&format!("docs/completions/{c}")), "{c}");
    }
}

/// The source the package builds from holds what the build and `cargo test --lib`
/// read: every entry exists, and every file src/ includes with include_str! or
/// include_bytes! is inside it.
#[test]
fn the_package_source_holds_what_the_build_reads() {
    let p = package();
    assert_eq!(p["src"]["root"], json!(repo().to_str().unwrap()));
    let entries: Vec<PathBuf> = strings(&p["src"]["files"])
        .iter()
        .map(PathBuf::from)
        .collect();
    for e in &entries {
        assert!(
            e.exists(),
            "{} is in the package's source but does not exist",
            e.display()
        );
    }
    assert_eq!(
        p["lockFile"],
        json!(repo().join("Cargo.lock").to_str().unwrap())
    );
    let covered = |f: &Path| entries.iter().any(|e| f.starts_with(e));
    let mut included = 0;
    for file in files_under("src") {
        let body = std::fs::read_to_string(repo().join(&file)).unwrap();
        for (i, _) in body.match_indices("include_") {
            let rest = &body[i..];
            if !(rest.starts_with("include_str!") || rest.starts_with("include_bytes!")) {
                continue;
            }
            let Some(q) = rest.find('"') else { continue };
            let arg = &rest[q + 1..];
            let arg = &arg[..arg.find('"').unwrap()];
            let target = repo().join(&file).parent().unwrap().join(arg);
            let target = target
                .canonicalize()
                .unwrap_or_else(|e| panic!("{file}: {arg}: {e}"));
            assert!(
                covered(&target),
                "{file} includes {arg}, which the package's source lacks"
            );
            included += 1;
        }
    }
    assert!(
        included > 0,
        "no include_str!/include_bytes! found: the scan is broken"
    );
    // Cargo.toml's [[bench]] targets are in the source: the manifest loads.
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    if cargo.contains("[[bench]]") {
        assert!(covered(&repo().join("benches")));
    }
}

#[test]
fn the_package_runs_the_library_tests_and_carries_cargo_toml_metadata() {
    let p = package();
    assert_eq!(p["doCheck"], json!(true));
    assert_eq!(p["cargoTestFlags"], json!(["--lib"]));
    // Each test the sandbox cannot run is skipped by its full name, and that name is
    // still a test: src/<module path>.rs (or mod.rs) has `mod tests` with that fn.
    for flag in strings(&p["checkFlags"]) {
        let name = flag
            .strip_prefix("--skip=")
            .unwrap_or_else(|| panic!("{flag}"));
        let parts: Vec<&str> = name.split("::").collect();
        assert!(
            parts.len() >= 3 && parts[parts.len() - 2] == "tests",
            "{name} is no unit test's full name"
        );
        let module = parts[..parts.len() - 2].join("/");
        let file = [format!("src/{module}.rs"), format!("src/{module}/mod.rs")]
            .into_iter()
            .find(|f| repo().join(f).is_file())
            .unwrap_or_else(|| panic!("{name}: no src/{module}.rs"));
        let body = std::fs::read_to_string(repo().join(&file)).unwrap();
        assert!(
            body.contains(&format!("fn {}()", parts[parts.len() - 1])),
            "{file} has no test {name} any more: update checkFlags in nix/package.nix"
        );
    }
    let version = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(
        text(&version.stdout).trim(),
        format!("surface-check {}", p["version"].as_str().unwrap())
    );
    assert_eq!(p["pname"], json!("surface-check"));
    assert_eq!(p["meta"]["mainProgram"], json!("surface-check"));
    assert!(strings(&p["meta"]["platforms"]).contains(&"x86_64-linux".to_string()));
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let description = p["meta"]["description"].as_str().unwrap();
    assert!(cargo.contains(&format!("description = \"{description}\"")));
    // A license is declared exactly when Cargo.toml has one.
    let package_section = cargo.split("\n[").next().unwrap();
    assert_eq!(
        p["meta"].get("license").is_some(),
        package_section.lines().any(|l| l.starts_with("license ")),
        "{:#}",
        p["meta"]
    );
    for input in [
        "rustPlatform.bindgenHook",
        "pkg-config",
        "installShellFiles",
    ] {
        assert!(
            strings(&p["nativeBuildInputs"]).contains(&input.to_string()),
            "{input}"
        );
    }
    assert_eq!(p["buildInputs"], json!(["udev"]));
}

/// The module's drop-ins, written as NixOS writes them (one KEY=VALUE line per list
/// element, nixos/lib/systemd-lib.nix attrsToSection) beside the units as installed,
/// pass `systemd-analyze verify`: the resets ("ExecStart=", "OnActiveSec="), the "-"
/// prefixes and the time span are settings systemd takes.
#[test]
fn the_modules_drop_ins_verify_with_the_units() {
    let prefix = tempfile::tempdir().unwrap();
    let p = prefix.path();
    let out = run(
        Command::new(repo().join("scripts/install.sh"))
            .arg("--prefix")
            .arg(p)
            .args(["--binary", BIN, "--daemon", DAEMON]),
        "bash",
    );
    assert!(out.status.success(), "install.sh: {}", text(&out.stderr));
    let textfiles = p.join("textfiles");
    let settings = format!(
        r#"{{ enable = true; notifier.enable = true; history.keep = 12; report.delay = "90s";
              metrics.textfileDirectory = "{}";
              package = {{ type = "derivation"; outPath = "{}"; }}; }}"#,
        textfiles.display(),
        p.display()
    );
    let c = module_config(&settings);
    let system = p.join("lib/systemd/system");
    let mut written = 0;
    for (kind, suffix, key, section) in [
        ("services", "service", "serviceConfig", "Service"),
        ("timers", "timer", "timerConfig", "Timer"),
    ] {
        for (name, unit) in c["systemd"][kind].as_object().unwrap() {
            let Some(cfg) = unit.get(key) else { continue };
            let mut body = format!("[{section}]\n");
            for (k, v) in cfg.as_object().unwrap() {
                let vs = match v {
                    Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
                    other => vec![other.as_str().unwrap().to_string()],
                };
                for v in vs {
                    body.push_str(&format!("{k}={v}\n"));
                }
            }
            let unit_file = system.join(format!("{name}.{suffix}"));
            assert!(
                unit_file.is_file(),
                "{} is not installed",
                unit_file.display()
            );
            let d = system.join(format!("{name}.{suffix}.d"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("overrides.conf"), &body).unwrap();
            written += 1;

            let runtime = tempfile::tempdir().unwrap();
            let out = run(
                Command::new("systemd-analyze")
                    .arg("verify")
                    .arg(&unit_file)
                    .env("XDG_RUNTIME_DIR", runtime.path())
                    .env("SYSTEMD_PAGER", "cat")
                    .env("MANPATH", p.join("share/man")),
                "systemd",
            );
            let said = text(&out.stdout) + &text(&out.stderr);
            assert!(
                out.status.success() && said.trim().is_empty(),
                "systemd-analyze verify {} with\n{body}\n{said}",
                unit_file.display()
            );
        }
    }
    assert_eq!(
        written, 2,
        "a drop-in for the report service and one for the timer"
    );

    // The command lines the drop-ins run are the binary's: it accepts them.
    let exec = |k: &str| -> Vec<String> {
        strings(&c["systemd"]["services"]["surface-check-report"]["serviceConfig"][k])
    };
    let start = exec("ExecStart");
    let argv: Vec<&str> = start[1].split_whitespace().collect();
    assert_eq!(argv[0], format!("{}/bin/surface-check", p.display()));
    let help = Command::new(argv[0])
        .args([argv[1], "--help"])
        .output()
        .unwrap();
    assert!(help.status.success(), "{}", text(&help.stderr));
    let stop = exec("ExecStopPost");
    let argv: Vec<&str> = stop[0].trim_start_matches('-').split_whitespace().collect();
    assert_eq!(argv[1..3], ["metrics", "--textfile"]);
    let help = Command::new(argv[0])
        .args([argv[1], "--help"])
        .output()
        .unwrap();
    assert!(
        help.status.success() && text(&help.stdout).contains("--textfile"),
        "surface-check metrics --help: {}{}",
        text(&help.stdout),
        text(&help.stderr)
    );
}

/// flake.nix's outputs, with stand-in inputs: the attribute names, the module (which
/// imports nix/module.nix and defaults its package to the overlay's), the dev shell,
/// and the VM test, whose script is Python the test driver can read.
#[test]
fn the_flake_evaluates_to_its_outputs() {
    let f = eval("nix/tests/eval-flake.nix", &[]);
    assert_eq!(f["inputs"], json!(["nixpkgs"]));
    assert!(
        f["nixpkgsUrl"]
            .as_str()
            .unwrap()
            .starts_with("github:NixOS/nixpkgs/"),
        "{}",
        f["nixpkgsUrl"]
    );
    assert_eq!(
        f["outputs"],
        json!([
            "checks",
            "devShells",
            "nixosModules",
            "overlays",
            "packages"
        ])
    );
    assert_eq!(
        f["perSystem"],
        json!({
            "packages": { "x86_64-linux": ["default", "surface-check"] },
            "devShells": { "x86_64-linux": ["default"] },
            "checks": { "x86_64-linux": ["nixos", "package"] }
        })
    );
    assert_eq!(f["overlayPackage"], json!("called-package.nix"));
    assert_eq!(f["defaultPackage"], json!("called-package.nix"));
    assert_eq!(
        f["module"]["imports"],
        json!([repo().join("nix/module.nix").to_str().unwrap()])
    );
    assert_eq!(
        f["module"]["packageDefault"],
        json!({ "_type": "override", "priority": 1000,
                "content": "/nix/store/00000000000000000000000000000000-called-package.nix" })
    );
    let shell: BTreeSet<String> = strings(&f["devShell"]["packages"]).into_iter().collect();
    for tool in ["rustc", "cargo", "clippy", "rustfmt", "pkg-config", "udev"] {
        assert!(
            shell.contains(tool),
            "the dev shell lacks {tool}: {shell:?}"
        );
    }
    assert!(
        f["devShell"]["LIBCLANG_PATH"]
            .as_str()
            .unwrap()
            .ends_with("libclang-lib/lib")
    );

    let vm = &f["vmTest"];
    assert_eq!(vm["nixosTest"], json!(true));
    assert_eq!(
        vm["machine"]["services"]["surface-check"]["enable"],
        json!(true)
    );
    let script = vm["testScript"].as_str().unwrap();
    for step in [
        "surface-checkd.service",
        "GetNameOwner s io.github.SurfaceCheck1",
        "surface-check status",
    ] {
        assert!(script.contains(step), "the VM test does not check {step}");
    }
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import ast, sys; ast.parse(sys.stdin.read(), 'testScript')",
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (apt-get install python3)");
    use std::io::Write;
    py.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the VM test script is not Python: {}",
        text(&out.stderr)
    );
}
