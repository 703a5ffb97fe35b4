//! `surface-check notify`: turns surface-checkd's regressions into desktop
//! notifications (org.freedesktop.Notifications on the session bus), with the
//! sentence naming what broke and the fix. Runs as a systemd user unit
//! (systemd/user/surface-check-notify.service).
//!
//! It judges nothing: the regressions are the daemon's (GetHistory's `regressions`,
//! RegressionDetected), which are the history's rules. At start, on each
//! RegressionDetected and when the daemon (re)starts, it reads the daemon's list
//! and notifies each regression once: what was notified is kept in
//! `$XDG_STATE_HOME/surface-check/notified.json`, so that logging in again does not
//! repeat it.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::StreamExt;
use serde::Deserialize;
use zbus::zvariant::Value;

use super::BusArgs;
use super::render::visible;
use crate::dbus::client::{Bus, Client, Event};

/// The notification service's name, object and interface.
pub const NOTIFICATIONS_NAME: &str = "org.freedesktop.Notifications";
pub const NOTIFICATIONS_PATH: &str = "/org/freedesktop/Notifications";
pub const NOTIFICATIONS_INTERFACE: &str = "org.freedesktop.Notifications";

/// The largest record of notified regressions read back; a bigger file is
/// garbage and is started afresh.
const MAX_SEEN_FILE: u64 = 1 << 20;
/// The most regressions remembered as notified.
const MAX_SEEN: usize = 1000;

#[derive(Debug, Clone, Args)]
pub struct NotifyArgs {
    /// Notify the regressions surface-checkd knows now, then exit (default: keep
    /// following its RegressionDetected signals).
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub bus: BusArgs,
}

/// A boot as GetHistory's regressions name it.
#[derive(Debug, Clone, Deserialize)]
struct BootJ {
    boot_id: String,
    label: String,
}

/// A regression as GetHistory lists it.
#[derive(Debug, Clone, Deserialize)]
struct Known {
    subsystem: String,
    message: String,
    #[serde(default)]
    hint: Option<String>,
    previous: BootJ,
    current: BootJ,
}

impl Known {
    fn key(&self) -> String {
        // As the daemon announces: one regression per subsystem and earlier boot,
        // whether it is degraded or failed now.
        format!(
            "{}|{}|{}",
            self.current.boot_id, self.subsystem, self.previous.boot_id
        )
    }
}

/// What was notified already, kept across runs.
struct Seen {
    path: Option<PathBuf>,
    keys: Vec<String>,
}

impl Seen {
    /// `$XDG_STATE_HOME/surface-check/notified.json` (`~/.local/state/...`); kept in
    /// memory only when neither is set.
    fn load() -> Seen {
        let dir = std::env::var_os("XDG_STATE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| PathBuf::from(h).join(".local/state"))
            });
        let path = dir.map(|d| d.join("surface-check").join("notified.json"));
        let keys = path
            .as_ref()
            .and_then(|p| {
                use std::io::Read;
                let f = std::fs::File::open(p).ok()?;
                let mut s = String::new();
                f.take(MAX_SEEN_FILE).read_to_string(&mut s).ok()?;
                match serde_json::from_str::<Vec<String>>(&s) {
                    Ok(k) => Some(k),
                    Err(e) => {
                        tracing::warn!(
                            "{}: not a list of notified regressions ({e}); starting afresh",
                            p.display()
                        );
                        None
                    }
                }
            })
            .unwrap_or_default();
        Seen { path, keys }
    }

    fn contains(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }

    /// Remembers `key` and writes the record (atomically: a temporary file renamed).
    fn add(&mut self, key: String) {
        self.keys.push(key);
        if self.keys.len() > MAX_SEEN {
            let extra = self.keys.len() - MAX_SEEN;
            self.keys.drain(..extra);
        }
        let Some(path) = &self.path else { return };
        let write = || -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(path);
            std::fs::create_dir_all(dir)?;
            // Another instance (a second login) may write at the same time: a
            // temporary file of its own, synced before it replaces the record.
            let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
            {
                use std::io::Write as _;
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(&serde_json::to_vec(&self.keys).unwrap_or_default())?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, path)
        };
        if let Err(e) = write() {
            tracing::warn!(
                "{}: cannot keep the notified regressions: {e}",
                path.display()
            );
        }
    }
}

/// The title and body of a regression's notification.
fn notification(k: &Known) -> (String, String) {
    let title = if k.previous.label == k.current.label {
        format!("{} stopped working", k.subsystem)
    } else {
        format!("{} stopped working on {}", k.subsystem, k.current.label)
    };
    let mut body = k.message.clone();
    if let Some(h) = k.hint.as_deref().filter(|h| !h.is_empty()) {
        body.push_str("\nFix: ");
        body.push_str(h);
    }
    (title, body)
}

/// The body as servers that render markup (the specification's `body-markup`)
/// show it literally.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Sends one notification; returns its id.
async fn send(session: &zbus::Connection, title: &str, body: &str) -> Result<u32> {
    let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
    hints.insert("urgency", Value::U8(2));
    hints.insert("category", Value::from("device.error"));
    let actions: Vec<&str> = Vec::new();
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        session.call_method(
            Some(NOTIFICATIONS_NAME),
            NOTIFICATIONS_PATH,
            Some(NOTIFICATIONS_INTERFACE),
            "Notify",
            &(
                "surface-check",
                0u32,
                "dialog-warning",
                title,
                escape(body),
                actions,
                hints,
                -1i32,
            ),
        ),
    )
    .await
    .context("the notification service did not answer within 10 s")?
    .context("sending the notification")?;
    Ok(reply.body().deserialize::<u32>().unwrap_or(0))
}

/// The regressions the daemon knows now.
async fn known(c: &Client) -> Result<Vec<Known>> {
    let json = c.history_json(1).await?;
    let doc: serde_json::Value =
        serde_json::from_str(&json).context("GetHistory's answer is not JSON")?;
    let list = doc
        .get("regressions")
        .cloned()
        .unwrap_or(serde_json::Value::Array(Vec::new()));
    serde_json::from_value(list).context("GetHistory's regressions do not read")
}

/// Notifies every regression the daemon knows that was not notified yet.
async fn notify_known(
    c: &Client,
    session: &zbus::Connection,
    seen: &mut Seen,
    out: &mut impl Write,
) -> Result<usize> {
    send_new(known(c).await?, session, seen, out).await
}

/// Notifies each of `list` not notified yet.
async fn send_new(
    list: Vec<Known>,
    session: &zbus::Connection,
    seen: &mut Seen,
    out: &mut impl Write,
) -> Result<usize> {
    let mut sent = 0;
    for k in list {
        let key = k.key();
        if seen.contains(&key) {
            continue;
        }
        let (title, body) = notification(&k);
        let id = send(session, &title, &body).await?;
        writeln!(out, "notified ({id}): {}", visible(&k.message))?;
        out.flush()?;
        seen.add(key);
        sent += 1;
    }
    Ok(sent)
}

/// One round of following: the daemon's list not readable (it is not running
/// yet) is only logged, its next start brings another round; a notification that
/// cannot be sent (the notification service is not up yet at login) ends the
/// command with an error, and its unit starts it again (`Restart=on-failure`).
async fn follow_step(
    c: &Client,
    session: &zbus::Connection,
    seen: &mut Seen,
    out: &mut impl Write,
) -> Result<()> {
    let list = match known(c).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("reading surface-checkd's regressions: {e:#}");
            return Ok(());
        }
    };
    send_new(list, session, seen, out).await.map(|_| ())
}

/// `surface-check notify`.
pub fn run(a: &NotifyArgs, out: &mut impl Write) -> Result<i32> {
    let bus: Bus = a.bus.bus();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let session = tokio::time::timeout(Duration::from_secs(5), zbus::Connection::session())
            .await
            .context("connecting to the session bus timed out")?
            .context(
                "no session bus (DBUS_SESSION_BUS_ADDRESS): notifications go to a desktop \
                 session; run it there (systemctl --user enable --now surface-check-notify)",
            )?;
        let mut seen = Seen::load();
        if a.once {
            let c = Client::connect(bus).await?;
            notify_known(&c, &session, &mut seen, out).await?;
            return Ok(0);
        }
        let conn = crate::dbus::client::connect(bus).await?;
        let c = Client::on(bus, conn).await?;
        // Subscribed before the list is read: no regression falls between the two.
        let mut events = c.events().await.context("subscribing to the signals")?;
        follow_step(&c, &session, &mut seen, out).await?;
        while let Some(e) = events.next().await {
            match e {
                Event::RegressionDetected { .. } | Event::Daemon { running: true } => {
                    follow_step(&c, &session, &mut seen, out).await?
                }
                _ => {}
            }
        }
        bail!("the {} connection closed", bus.name())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(prev: &str, cur: &str, hint: Option<&str>) -> Known {
        Known {
            subsystem: "touch".into(),
            message: "touch worked on 6.18.8, fails on 6.19.8: module ipts is missing".into(),
            hint: hint.map(String::from),
            previous: BootJ {
                boot_id: "a".into(),
                label: prev.into(),
            },
            current: BootJ {
                boot_id: "b".into(),
                label: cur.into(),
            },
        }
    }

    #[test]
    fn a_notification_names_the_kernel_and_the_fix() {
        let (t, b) = notification(&known("6.18.8", "6.19.8", Some("Load ipts")));
        assert_eq!(t, "touch stopped working on 6.19.8");
        assert!(b.starts_with("touch worked on 6.18.8") && b.ends_with("\nFix: Load ipts"));
        let (t, b) = notification(&known("6.19.8", "6.19.8", None));
        assert_eq!(t, "touch stopped working");
        assert!(!b.contains("Fix:"));
    }
}
