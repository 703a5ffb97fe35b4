//! The commands that talk to surface-checkd: the daemon's report for `status`,
//! `watch` and `waybar`. They render what the daemon says; they judge nothing.

use std::io::Write;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use serde_json::json;

use crate::dbus::client::{Bus, Client, ClientError, Event};
use crate::report::Report;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// The daemon's report and version, when the daemon runs on `bus` or D-Bus can start
/// it.
pub fn daemon_report(bus: Bus) -> std::result::Result<(Report, String), ClientError> {
    let rt = runtime().map_err(|e| ClientError::Connect(bus.name(), format!("{e:#}")))?;
    rt.block_on(async {
        let c = Client::connect(bus).await?;
        let report = c.report().await?;
        let version = c.version().await?;
        Ok((report, version))
    })
}

/// Asks surface-checkd for a new probe (after `report` recorded this boot, so that
/// the daemon judges it against the history and announces what regressed).
pub fn daemon_refresh(bus: Bus) -> std::result::Result<(), ClientError> {
    let rt = runtime().map_err(|e| ClientError::Connect(bus.name(), format!("{e:#}")))?;
    rt.block_on(async { Client::connect(bus).await?.refresh().await })
}

/// Asks surface-checkd to make this boot the history's baseline (polkit may ask
/// the person to authenticate).
pub fn daemon_accept(bus: Bus) -> std::result::Result<(), ClientError> {
    let rt = runtime().map_err(|e| ClientError::Connect(bus.name(), format!("{e:#}")))?;
    rt.block_on(async { Client::connect(bus).await?.accept_baseline().await })
}

/// What a follower shows: the overall status and every subsystem.
struct State {
    version: String,
    overall: String,
    subsystems: Vec<(String, String, String)>,
}

async fn state(c: &Client) -> std::result::Result<State, ClientError> {
    Ok(State {
        version: c.version().await?,
        overall: c.overall().await?,
        subsystems: c.subsystems().await?,
    })
}

fn line(out: &mut impl Write, text: &str) -> Result<()> {
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

/// `HH:MM:SS` of now, UTC.
fn clock() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn visible(s: &str) -> String {
    super::render::visible(s).into_owned()
}

/// The lines that show a daemon's state: one JSON `connected` object, or a header
/// and a line per subsystem.
fn state_lines(st: &State, bus: Bus, as_json: bool) -> Vec<String> {
    if as_json {
        let subs: Vec<_> = st
            .subsystems
            .iter()
            .map(|(id, status, summary)| json!({"id": id, "status": status, "summary": summary}))
            .collect();
        return vec![
            json!({"event": "connected", "version": st.version, "bus": bus.name(),
                    "overall": st.overall, "subsystems": subs})
            .to_string(),
        ];
    }
    let mut v = vec![format!(
        "{} surface-checkd {} on the {}: overall {}",
        clock(),
        visible(&st.version),
        bus.name(),
        visible(&st.overall)
    )];
    for (id, status, summary) in &st.subsystems {
        v.push(format!(
            "  {}: {} — {}",
            visible(id),
            visible(status),
            visible(summary)
        ));
    }
    v
}

/// `surface-check watch`.
pub fn watch(bus: Bus, as_json: bool, out: &mut impl Write) -> Result<i32> {
    let rt = runtime()?;
    rt.block_on(async {
        let c = Client::connect(bus)
            .await
            .context("following surface-checkd")?;
        // Subscribed before the state is read: no change falls between the two.
        let mut events = c.events().await.context("subscribing to the signals")?;
        let st = state(&c).await.context("reading the daemon's state")?;
        for l in state_lines(&st, bus, as_json) {
            line(out, &l)?;
        }
        while let Some(e) = events.next().await {
            let started = e == Event::Daemon { running: true };
            let text = if as_json {
                match e {
                    Event::SubsystemChanged {
                        id,
                        old_status,
                        new_status,
                        summary,
                    } => json!({"event": "SubsystemChanged", "id": id, "old_status": old_status,
                                "new_status": new_status, "summary": summary}),
                    Event::RegressionDetected {
                        id,
                        previous_kernel,
                        current_kernel,
                        summary,
                    } => json!({"event": "RegressionDetected", "id": id,
                                "previous_kernel": previous_kernel,
                                "current_kernel": current_kernel, "summary": summary}),
                    Event::PropertiesChanged(changed) => {
                        json!({"event": "PropertiesChanged", "changed": changed})
                    }
                    Event::Daemon { running } => json!({"event": "daemon", "running": running}),
                }
                .to_string()
            } else {
                match e {
                    Event::SubsystemChanged {
                        id,
                        old_status,
                        new_status,
                        summary,
                    } => format!(
                        "{} {}: {} -> {}: {}",
                        clock(),
                        visible(&id),
                        visible(&old_status),
                        visible(&new_status),
                        visible(&summary)
                    ),
                    Event::RegressionDetected { summary, .. } => {
                        format!("{} regression: {}", clock(), visible(&summary))
                    }
                    Event::PropertiesChanged(changed) => match changed.get("Overall") {
                        Some(v) => format!(
                            "{} overall: {}",
                            clock(),
                            visible(v.as_str().unwrap_or_default())
                        ),
                        None => continue,
                    },
                    Event::Daemon { running: true } => {
                        format!("{} surface-checkd started", clock())
                    }
                    Event::Daemon { running: false } => {
                        format!("{} surface-checkd stopped", clock())
                    }
                }
            };
            line(out, &text)?;
            // A new daemon sends no signal for its first report: its state is read.
            if started {
                match state(&c).await {
                    Ok(st) => {
                        for l in state_lines(&st, bus, as_json) {
                            line(out, &l)?;
                        }
                    }
                    Err(e) => tracing::warn!("reading the new daemon's state: {e}"),
                }
            }
        }
        anyhow::bail!("the {} connection closed", bus.name())
    })
}

/// The waybar line for a state, or for no daemon.
fn waybar_line(st: Option<&State>, why: &str) -> serde_json::Value {
    let Some(st) = st else {
        return json!({"text": "SB2 ?", "alt": "unknown", "class": "unknown",
                      "tooltip": format!("surface-check: {why}")});
    };
    let broken: Vec<&str> = st
        .subsystems
        .iter()
        .filter(|(_, status, _)| status == "failed" || status == "degraded")
        .map(|(id, _, _)| id.as_str())
        .collect();
    let text = match st.overall.as_str() {
        "ok" => "SB2 ✓".to_string(),
        "absent" => "SB2 –".to_string(),
        _ if broken.is_empty() => format!("SB2 {}", st.overall),
        _ => format!("SB2 ✗ {}", broken.join(" ")),
    };
    let mut tooltip = format!("Surface Book 2: {}", st.overall);
    for (id, status, summary) in &st.subsystems {
        tooltip.push_str(&format!("\n{id}: {status} — {summary}"));
    }
    json!({"text": text, "alt": st.overall, "class": st.overall, "tooltip": tooltip})
}

/// `surface-check waybar`. Every way it ends writes the `unknown` line first, so that
/// the bar never keeps showing a state nobody stands behind.
pub fn waybar(bus: Bus, out: &mut impl Write) -> Result<i32> {
    let rt = runtime()?;
    let mut last = String::new();
    let mut show = |st: Option<&State>, why: &str, out: &mut dyn Write| -> Result<()> {
        let l = waybar_line(st, why).to_string();
        // One line per visible change.
        if l != last {
            writeln!(out, "{l}")?;
            out.flush()?;
            last = l;
        }
        Ok(())
    };
    let result: Result<()> = rt.block_on(async {
        let conn = crate::dbus::client::connect(bus).await?;
        let c = Client::on(bus, conn).await?;
        let mut events = c.events().await.context("subscribing to the signals")?;
        let not_running = format!("surface-checkd is not running on the {}", bus.name());
        match Client::connect(bus).await {
            Ok(_) => match state(&c).await {
                Ok(st) => show(Some(&st), "", out)?,
                Err(e) => show(None, &e.to_string(), out)?,
            },
            Err(e) => show(None, &e.to_string(), out)?,
        }
        while let Some(e) = events.next().await {
            match e {
                Event::Daemon { running: false } => show(None, &not_running, out)?,
                Event::PropertiesChanged(ch)
                    if !ch.contains_key("Overall") && !ch.contains_key("Subsystems") => {}
                Event::SubsystemChanged { .. } | Event::RegressionDetected { .. } => {}
                _ => match state(&c).await {
                    Ok(st) => show(Some(&st), "", out)?,
                    Err(e) => show(None, &e.to_string(), out)?,
                },
            }
        }
        anyhow::bail!("the {} connection closed", bus.name())
    });
    match result {
        Ok(()) => Ok(0),
        Err(e) => {
            // A closed standard output (the bar went away) cannot take the line.
            let _ = show(None, &super::logging::message(&e), out);
            Err(e)
        }
    }
}
