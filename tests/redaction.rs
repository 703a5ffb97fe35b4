//! Redaction that neither leaks nor lies (issue 6, items 4 and 5), on the real binary:
//! - `capture` then `status --from` gives the verdicts of `status --root` on the same
//!   tree for generated host and user names, dictionary words that occur in driver
//!   and device names first (a machine named `surface`, `ipts`, `pc`, `serial` ...),
//!   with a kernel log (`--dmesg`) that names the host and the user;
//! - a value planted where a host, a user, an address, a serial number or a person's
//!   name stands (each class of issue 6 item 5) appears nowhere in the capture, and
//!   the capture still gives the live verdicts.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::sb2::{Distro, Sb2, Size};
use common::tree::Tree;
use proptest::prelude::*;
use serde_json::Value;
use surface_check::facts::{Facts, redact};

/// Every check's status, each subsystem's, the machine and the overall verdict.
fn statuses(r: &Value) -> Vec<(String, String)> {
    let mut v = vec![
        ("machine".to_string(), r["machine"]["model"].to_string()),
        ("overall".to_string(), r["overall"].to_string()),
        (
            "surface_patches".to_string(),
            r["kernel"]["surface_patches"].to_string(),
        ),
    ];
    for s in r["subsystems"].as_array().expect("subsystems") {
        v.push((s["id"].to_string(), s["status"].to_string()));
        for c in s["checks"].as_array().expect("checks") {
            v.push((c["id"].to_string(), c["status"].to_string()));
        }
    }
    v
}

/// Runs `status --root` and `capture` + `status --from` on `t` (with the kernel log
/// `dmesg`, if any); returns (live report, offline report, capture text).
fn live_and_captured(t: &Tree, dmesg: Option<&Path>) -> (Value, Value, String) {
    let root = t.path().to_str().unwrap();
    let mut extra = Vec::new();
    if let Some(d) = dmesg {
        extra = vec!["--dmesg", d.to_str().unwrap()];
    }
    let mut args = vec!["status", "--local", "--root", root, "--json"];
    args.extend(&extra);
    let (live_code, out, err) = common::run(&args);
    let live: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("status: {e}; stderr: {err}"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capture.json");
    let mut args = vec!["capture", "--root", root, "-o", file.to_str().unwrap()];
    args.extend(&extra);
    let (code, _, err) = common::run(&args);
    assert_eq!(code, 0, "capture failed: {err}");
    let captured = std::fs::read_to_string(&file).unwrap();

    let (code, out, err) = common::run(&["status", "--from", file.to_str().unwrap(), "--json"]);
    let offline: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --from: {e}; {err}"));
    assert_eq!(code, live_code, "exit code of status --from; stderr: {err}");
    (live, offline, captured)
}

/// Whole-word occurrences of `word` in `text` (a word: not next to a letter, digit,
/// `_` or `-`), the redaction markers left out.
fn word_count(text: &str, word: &str) -> usize {
    let mut t = text.to_string();
    for m in [
        "<host>",
        "<user>",
        "<redacted>",
        "<mac>",
        "<uuid>",
        "<name>",
        "<ip>",
    ] {
        t = t.replace(m, " ");
    }
    let w = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut n = 0;
    let mut from = 0;
    while let Some(p) = t[from..].find(word) {
        let pos = from + p;
        let end = pos + word.len();
        if !t[..pos].chars().next_back().is_some_and(w) && !t[end..].chars().next().is_some_and(w) {
            n += 1;
        }
        from = end;
    }
    n
}

// ---- item 4: verdicts for every host name ------------------------------------------

/// Words of driver, device, module and file names on a Surface Book 2.
const DICTIONARY: &[&str] = &[
    "surface",
    "ipts",
    "pc",
    "hid",
    "usb",
    "serial",
    "hub",
    "acpi",
    "mei",
    "input",
    "battery",
    "microsoft",
    "Microsoft",
    "book",
    "dtx",
    "nvidia",
    "i2c",
    "platform",
    "0",
    "00",
    "1",
    "a",
    "sys",
    "dev",
    "devices",
    "pci",
    "driver",
    "linux",
    "nixos",
    "system",
    "store",
    "active",
    "fail",
    "firmware",
    "sb2-owner",
    "home",
    "host",
    "user",
];

fn host_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(DICTIONARY).prop_map(str::to_string),
        2 => "[a-z0-9-]{1,20}",
    ]
}

fn user_name() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => proptest::sample::select(DICTIONARY).prop_map(str::to_string),
        1 => "[a-z][a-z0-9]{1,10}",
    ]
}

/// Healthy machines, built once; each case writes its host and user into one.
fn machines() -> &'static [(Sb2, Tree)] {
    static M: OnceLock<Vec<(Sb2, Tree)>> = OnceLock::new();
    M.get_or_init(|| {
        [
            Sb2::new(Size::In13, Distro::NixOs),
            Sb2::new(Size::In15, Distro::DebianSurface),
            Sb2::new(Size::In15, Distro::DebianStock),
        ]
        .into_iter()
        .map(|m| {
            let t = m.build_in_memory();
            (m, t)
        })
        .collect()
    })
}

/// The kernel log of a real Surface Book 2, with lines that name the host and user.
fn dmesg(release: &str, host: &str, user: &str) -> String {
    let mut s = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real/79D657BBD855.dmesg"),
    )
    .unwrap();
    let first = s.find('\n').map_or(0, |i| i + 1);
    s.replace_range(
        ..first,
        &format!("[    0.000000] Linux version {release} ({user}@{host}) (gcc 12.2.0) #1 SMP\n"),
    );
    s.push_str(&format!(
        "[    9.100000] systemd[1]: Hostname set to <{host}>; surface-dtx-daemon starting\n\
         [    9.200000] surface_serial_hub serial0-0: {host} {user} /home/{user}/x\n\
         [    9.300000] mwifiex_pcie 0000:01:00.0: WLAN FW is active on {host}\n\
         [    9.400000] ipts 0000:00:16.4: {user}@{host} (ipts {host})\n"
    ));
    s
}

/// Writes the host and user names where a machine keeps them.
fn name_machine(m: &Sb2, t: &Tree, host: &str, user: &str) {
    t.attr("proc/sys/kernel/hostname", host);
    t.attr("etc/hostname", host);
    let home = t.path().join("home");
    let _ = std::fs::remove_dir_all(&home);
    t.mkdir(&format!("home/{user}"));
    t.attr(
        "proc/version",
        &format!(
            "Linux version {} ({user}@{host}) (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC",
            m.release()
        ),
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 80,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn capture_gives_the_live_verdicts_for_every_host_name(
        host in host_name(),
        user in user_name(),
        which in 0usize..3,
    ) {
        let (m, t) = &machines()[which];
        name_machine(m, t, &host, &user);
        let log = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(log.path(), dmesg(m.release(), &host, &user)).unwrap();

        let (live, offline, captured) = live_and_captured(t, Some(log.path()));
        prop_assert_eq!(statuses(&offline), statuses(&live), "host {:?}, user {:?}", host, user);

        // Nor does it leak: the host and user appear no more often than a neutral name
        // in the same places would leave (`surface` is a driver name too).
        let facts = Facts::from_json(captured.as_bytes()).unwrap();
        let cases = [
            (&host, "qzqzhost", user.as_str()),
            (&user, host.as_str(), "qzqzuser"),
        ];
        for (name, neutral_host, neutral_user) in cases {
            // One name inside the other (`ab` and `ab-c`) stays with the other.
            let nested = host.contains(user.as_str()) || user.contains(host.as_str());
            if name.len() < 3 || nested || redact::log_keeps(&facts, name) {
                continue;
            }
            name_machine(m, t, neutral_host, neutral_user);
            std::fs::write(log.path(), dmesg(m.release(), neutral_host, neutral_user)).unwrap();
            let (_, _, neutral) = live_and_captured(t, Some(log.path()));
            prop_assert!(
                word_count(&captured, name) <= word_count(&neutral, name),
                "{:?} leaks: {} times in the capture, {} with a neutral name",
                name, word_count(&captured, name), word_count(&neutral, name)
            );
        }
    }
}

// ---- item 5: planted values --------------------------------------------------------

/// A healthy 15" on a linux-surface kernel, `plant`ed, captured: asserts the capture
/// gives the live verdicts and contains none of `secrets`; returns the capture.
fn capture_without(plant: impl FnOnce(&Sb2, &Tree), secrets: &[&str]) -> String {
    let m = Sb2::new(Size::In15, Distro::DebianSurface);
    let t = m.build_in_memory();
    plant(&m, &t);
    let (live, offline, captured) = live_and_captured(&t, None);
    assert_eq!(statuses(&offline), statuses(&live));
    for s in secrets {
        assert!(
            !captured.contains(s),
            "the capture leaks {s:?}:\n{}",
            captured
                .lines()
                .filter(|l| l.contains(s))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    captured
}

#[test]
fn proc_version_user_and_build_host() {
    let c = capture_without(
        |m, t| {
            t.attr(
                "proc/version",
                &format!(
                    "Linux version {} (alice@buildhost) (gcc 12.2.0) #1 SMP",
                    m.release()
                ),
            )
        },
        &["alice", "buildhost"],
    );
    assert!(c.contains("(<user>@<host>)"));
}

const CMDLINE: &str = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-surface \
    root=/dev/disk/by-id/nvme-Samsung_SSD_970_S4EVNF0M123456-part2 \
    resume=PARTUUID=9f3a1c2e-77aa-4b1e-9d2c-5e6f7a8b9c0d \
    rd.luks.uuid=luks-0b5e1c1e-1234-4abc-9def-0123456789ab cryptdevice=UUID=DEADBEEF-1234:cryptroot \
    ip=192.168.1.20::192.168.1.1:255.255.255.0:alicebox:wlp1s0:off ip6=[2001:db8::20] \
    nfsroot=10.0.0.5:/srv/alice wifi.ssid=AliceHome iwd.psk=hunter2 systemd.hostname=alicebox \
    mem_sleep_default=deep intel_iommu=on modprobe.blacklist=surface_gpe i915.enable_psr=0 \
    initcall_blacklist=foo_init quiet";

const CMDLINE_SECRETS: &[&str] = &[
    "S4EVNF0M123456",
    "Samsung_SSD",
    "9f3a1c2e-77aa",
    "0b5e1c1e",
    "DEADBEEF-1234",
    "192.168.1.20",
    "192.168.1.1",
    "10.0.0.5",
    "2001:db8::20",
    "alicebox",
    "AliceHome",
    "hunter2",
    "/srv/alice",
];

#[test]
fn command_line_keeps_only_what_a_diagnosis_needs() {
    let c = capture_without(|_, t| t.attr("proc/cmdline", CMDLINE), CMDLINE_SECRETS);
    for kept in [
        "mem_sleep_default=deep",
        "intel_iommu=on",
        "modprobe.blacklist=surface_gpe",
        "i915.enable_psr=0",
        "initcall_blacklist=foo_init",
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-surface",
        "quiet",
        "wifi.ssid=<redacted>",
    ] {
        assert!(c.contains(kept), "the capture lost {kept}");
    }
}

#[test]
fn command_line_in_the_kernel_log() {
    let log = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        log.path(),
        format!(
            "[    0.000000] Linux version 6.1.0 (alice@buildhost) (gcc 12)\n\
             [    0.000000] Command line: {CMDLINE}\n\
             [    0.000000] Kernel command line: {CMDLINE}\n"
        ),
    )
    .unwrap();
    let m = Sb2::new(Size::In15, Distro::DebianSurface);
    let t = m.build_in_memory();
    let (live, offline, captured) = live_and_captured(&t, Some(log.path()));
    assert_eq!(statuses(&offline), statuses(&live));
    assert!(
        captured.contains("Kernel command line: BOOT_IMAGE")
            && captured.contains("mem_sleep_default=deep"),
        "the log line was not kept: {captured}"
    );
    for s in CMDLINE_SECRETS.iter().chain(&["alice", "buildhost"]) {
        assert!(!captured.contains(s), "the capture leaks {s:?}");
    }
}

#[test]
fn kernel_config_command_line_host_name_and_home_paths() {
    let c = capture_without(
        |m, t| {
            let mut opts = m.config_options();
            let cmdline = format!("\"{CMDLINE}\"");
            opts.push(("CMDLINE", &cmdline));
            opts.push(("DEFAULT_HOSTNAME", "\"alicebox\""));
            opts.push(("SYSTEM_TRUSTED_KEYS", "\"/home/alice/certs/signing.pem\""));
            opts.push(("MODULE_SIG_KEY", "\"/Users/alice/keys/x.pem\""));
            t.gz("proc/config.gz", &Tree::config_text(&opts));
        },
        &[CMDLINE_SECRETS, &["alice"]].concat(),
    );
    assert!(
        c.contains("mem_sleep_default=deep"),
        "CONFIG_CMDLINE lost what a diagnosis needs"
    );
}

#[test]
fn interface_names_that_embed_a_mac() {
    let c = capture_without(
        |_, t| {
            t.mkdir("sys/class/net/enx001122334455");
            t.mkdir("sys/class/net/wlxa0b1c2d3e4f5");
        },
        &["001122334455", "a0b1c2d3e4f5"],
    );
    assert!(c.contains("enx<mac>") && c.contains("wlx<mac>"));
    assert!(
        c.contains("wlp1s0"),
        "an interface without a MAC keeps its name"
    );
}

/// A Bluetooth keyboard of Alice Smith's, as BlueZ and udev show it: the name she
/// gave it, the adapter's MAC as `phys`, the device's as `uniq`, and udev's
/// properties carrying either (with and without separators, after a colon).
fn bluetooth_keyboard(t: &Tree) {
    let parent = "sys/devices/virtual/misc/uhid/0005:004C:0267.00AA";
    t.mkdir(parent);
    t.input(
        90,
        parent,
        "Alice Smith's Magic Keyboard",
        (5, 0x4c, 0x267, 0x1),
        &[("ev", "120013")],
        Some(90),
        &[
            ("NAME", "\"Alice Smith's Magic Keyboard\""),
            ("LIBINPUT_DEVICE_GROUP", "5/4c/267:a0:b1:c2:d3:e4:f6"),
            ("ID_PATH_TAG", "bluetooth-a0_b1_c2_d3_e4_f6"),
            ("ID_PATH", "platform-bt-a0b1c2d3e4f6"),
            ("ID_BDADDR", "a0b1c2d3e4f6"),
            ("ID_NET_NAME_MAC", "enx001122334455"),
            ("HCI_INFO", "addr:00:11:22:33:44:55"),
            ("ID_SERIAL", "Alice_Smith_s_Magic_Keyboard_SN12345678"),
        ],
    );
    let input = format!("{parent}/input/input90");
    t.attr(&format!("{input}/phys"), "a0:b1:c2:d3:e4:f6");
    t.attr(&format!("{input}/uniq"), "f6:e5:d4:c3:b2:a1");
}

#[test]
fn macs_in_udev_properties_and_input_attributes() {
    let c = capture_without(
        |_, t| bluetooth_keyboard(t),
        &[
            "a0:b1:c2:d3:e4:f6",
            "a0_b1_c2_d3_e4_f6",
            "a0b1c2d3e4f6",
            "001122334455",
            "00:11:22:33:44:55",
            "f6:e5:d4:c3:b2:a1",
            "SN12345678",
        ],
    );
    assert!(c.contains("\"LIBINPUT_DEVICE_GROUP\": \"<redacted>\""));
    assert!(c.contains("\"ID_PATH_TAG\": \"<redacted>\""));
}

#[test]
fn people_s_names_in_device_and_battery_models() {
    let c = capture_without(
        |_, t| {
            bluetooth_keyboard(t);
            t.power_supply(
                "hid-a0:b1:c2:d3:e4:f7-battery",
                "sys/devices/virtual/misc/uhid/0005:004C:0269.00AB",
                &[
                    ("type", "Battery"),
                    ("scope", "Device"),
                    ("capacity", "50"),
                    ("model_name", "Alice’s Mouse"),
                    ("serial_number", "C02XK1ABCDE"),
                ],
            );
        },
        &["Alice", "Smith", "a0:b1:c2:d3:e4:f7", "C02XK1ABCDE"],
    );
    assert!(c.contains("<name>'s Magic Keyboard") && c.contains("<name>’s Mouse"));
}

#[test]
fn serial_numbers() {
    capture_without(
        |_, t| {
            t.attr(
                "sys/bus/usb/devices/usb1/serial",
                "0000:00:14.0-SERIAL-9876543210",
            )
        },
        // The fixture's own battery serial, and a USB device's.
        &["0123456789", "9876543210"],
    );
}

/// The checks' log needles `redact` protects are every literal a check searches the
/// kernel log for: a new one missing there could let a mask change a verdict.
#[test]
fn every_log_needle_of_the_checks_is_protected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/checks");
    let mut missing = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for call in ["log_lines(", "log_shows("] {
            for (p, _) in text.match_indices(call) {
                let rest = &text[p + call.len()..];
                let Some(args) = rest.trim_start().strip_prefix("&[") else {
                    continue;
                };
                // Up to the `]` that closes the array, not one inside a string.
                let mut in_str = false;
                let end = args
                    .char_indices()
                    .find(|&(_, c)| {
                        if c == '"' {
                            in_str = !in_str;
                        }
                        c == ']' && !in_str
                    })
                    .map_or(args.len(), |(i, _)| i);
                let args = &args[..end];
                for (i, part) in args.split('"').enumerate() {
                    if i % 2 == 1 && !redact::LOG_CHECK_NEEDLES.contains(&part) {
                        missing.push(part.to_string());
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "add to redact::LOG_CHECK_NEEDLES: {missing:?}"
    );
}
