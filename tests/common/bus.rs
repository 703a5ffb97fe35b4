//! A private system bus: a real `dbus-daemon` with the system bus's default policy and
//! this project's policy file (dbus/io.github.SurfaceCheck1.conf), listening on a
//! socket in a temporary directory that any uid may reach.
//!
//! The configuration is Debian's /usr/share/dbus-1/system.conf reduced to what a test
//! needs: `<type>system</type>`, EXTERNAL authentication, the same default policy
//! (anyone may connect; nobody may own a name or send a method call unless a policy
//! file allows it; signals and requested replies pass), this project's policy file
//! included as system.d would include it, and logind's own rules (root owns
//! org.freedesktop.login1 and may call it) for a logind stand-in. Limits are
//! dbus-daemon's defaults, as on the real system bus.
//!
//! D-Bus activation ([`PrivateBus::start_with_activation`]): the real system bus
//! starts a service through systemd (`SystemdService=`, with `--systemd-activation`)
//! or through the setuid `dbus-daemon-launch-helper`. Neither serves a private bus:
//! the helper reads the service directories of the installed system.conf, not of
//! this configuration, and started by a private bus it fails ("The permission of
//! the setuid helper is not correct"). Without a `<servicehelper>`, a
//! system-type bus starts the service's `Exec=` itself, as its own user (root here),
//! with its own environment, in which DBUS_SYSTEM_BUS_ADDRESS names this bus.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The project's bus policy, included into the private bus's configuration.
pub const POLICY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/dbus/io.github.SurfaceCheck1.conf"
);

/// The project's D-Bus activation file, which [`PrivateBus::start_with_activation`]
/// serves with another `Exec=`.
pub const ACTIVATION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/dbus/io.github.SurfaceCheck1.service"
);

/// How long `dbus-daemon` may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PrivateBus {
    /// `unix:path=DIR/bus`: without the server's guid, so that it stays valid across
    /// [`PrivateBus::restart`].
    pub address: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl PrivateBus {
    /// Starts a private system bus with this project's policy.
    pub fn start() -> PrivateBus {
        Self::launch(None)
    }

    /// As [`PrivateBus::start`], and io.github.SurfaceCheck1 is activatable: a call to
    /// it while it has no owner runs `exec` with `args`, as root (the project's
    /// activation file, dbus/io.github.SurfaceCheck1.service, with that `Exec=`, in a
    /// service directory of this bus).
    pub fn start_with_activation(exec: &Path, args: &[&str]) -> PrivateBus {
        let mut line = quote(&exec.to_string_lossy());
        for a in args {
            line.push(' ');
            line.push_str(&quote(a));
        }
        Self::launch(Some(line))
    }

    /// Starts a private session bus (a desktop's: everything allowed). Its address
    /// goes in DBUS_SESSION_BUS_ADDRESS.
    pub fn start_session() -> PrivateBus {
        let dir = tempfile::Builder::new()
            .prefix("surface-check-session.")
            .tempdir()
            .expect("a temporary directory for the bus");
        std::fs::write(dir.path().join("bus.conf"), session_config(dir.path())).unwrap();
        let child = spawn(dir.path());
        PrivateBus {
            address: address(dir.path()),
            dir,
            child,
        }
    }

    /// The environment a client of this bus needs.
    pub fn env(&self) -> [(&'static str, String); 1] {
        [("DBUS_SYSTEM_BUS_ADDRESS", self.address.clone())]
    }

    /// The directory of the socket and the configuration.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What `dbus-daemon` wrote to standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dbus-daemon.log")).unwrap_or_default()
    }

    /// Stops the bus (every connection drops) and starts it again on the same
    /// address, with the same configuration.
    pub fn restart(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(self.dir.path().join("bus"));
        self.child = spawn(self.dir.path());
    }

    fn launch(exec: Option<String>) -> PrivateBus {
        let dir = tempfile::Builder::new()
            .prefix("surface-check-bus.")
            .tempdir()
            .expect("a temporary directory for the bus");
        // uid 65534 reaches the socket (dbus-daemon makes the socket itself 0777).
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let services = dir.path().join("services");
        std::fs::create_dir(&services).unwrap();
        if let Some(exec) = exec {
            // The project's activation file, with its Exec= line replaced.
            let file = std::fs::read_to_string(ACTIVATION).expect(ACTIVATION);
            let mut replaced = 0;
            let body: String = file
                .lines()
                .map(|l| {
                    if l.starts_with("Exec=") {
                        replaced += 1;
                        format!("Exec={exec}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            assert_eq!(replaced, 1, "{ACTIVATION} has one Exec= line");
            std::fs::write(services.join("io.github.SurfaceCheck1.service"), body).unwrap();
        }
        std::fs::write(dir.path().join("bus.conf"), config(dir.path(), &services)).unwrap();
        let child = spawn(dir.path());
        PrivateBus {
            address: address(dir.path()),
            dir,
            child,
        }
    }

    /// Kills the bus and every service it started (its process group), and reaps it.
    fn stop(&mut self) {
        // SAFETY: a signal to the process group of our own child, which is not reaped
        // yet, so its id is not reused.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        self.stop();
    }
}

fn address(dir: &Path) -> String {
    format!("unix:path={}", dir.join("bus").display())
}

/// A word of an `Exec=` line: quoted when it holds anything but plain characters.
fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+@".contains(&b))
    {
        word.to_string()
    } else {
        format!(
            "\"{}\"",
            word.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('$', "\\$")
        )
    }
}

fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The default policy of a system bus, as Debian's `/usr/share/dbus-1/system.conf`
/// has it: nothing may own a name or call a method unless a policy file allows it;
/// signals and replies pass. The private bus here and the QEMU guest's bus use it.
pub const SYSTEM_BUS_DEFAULT_POLICY: &str = r#"  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.DBus.Debug.Stats"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.systemd1.Activator"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
"#;

fn config(dir: &Path, services: &Path) -> String {
    let socket = xml_text(&dir.join("bus").display().to_string());
    let services = xml_text(&services.display().to_string());
    let policy = xml_text(POLICY);
    let default = SYSTEM_BUS_DEFAULT_POLICY;
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path={socket}</listen>
  <servicedir>{services}</servicedir>

{default}
  <!-- logind's own policy (systemd's org.freedesktop.login1.conf, root's part), for
       a stand-in logind. -->
  <policy user="root">
    <allow own="org.freedesktop.login1"/>
    <allow send_destination="org.freedesktop.login1"/>
    <allow receive_sender="org.freedesktop.login1"/>
  </policy>

  <!-- polkit's own policy (polkit's org.freedesktop.PolicyKit1.conf), for a
       stand-in polkitd: root owns the name, anyone may ask it. -->
  <policy user="root">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy context="default">
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>

  <include>{policy}</include>
</busconfig>
"#
    )
}

/// A session bus's configuration: anyone may own any name and call anything, as
/// on a desktop session bus.
fn session_config(dir: &Path) -> String {
    let socket = xml_text(&dir.join("bus").display().to_string());
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path={socket}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#
    )
}

/// Starts `dbus-daemon` with DIR/bus.conf, its standard error in DIR/dbus-daemon.log,
/// in a process group of its own (which the services it starts share), and waits
/// until it prints its address.
fn spawn(dir: &Path) -> Child {
    let log_path: PathBuf = dir.join("dbus-daemon.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", dir.join("bus.conf").display()))
        .args(["--nofork", "--print-address"])
        // What an activated service finds its bus by.
        .env("DBUS_SYSTEM_BUS_ADDRESS", address(dir))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                panic!("no dbus-daemon: install dbus (apt-get install dbus)");
            }
            panic!("starting dbus-daemon: {e}");
        });
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let printed = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
    let want = address(dir);
    if !printed.trim().starts_with(&want) {
        let _ = child.kill();
        let status = child.wait();
        panic!(
            "dbus-daemon did not print its address {want} within {START_TIMEOUT:?} \
             (printed {printed:?}, {status:?}); its standard error:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }
    child
}
