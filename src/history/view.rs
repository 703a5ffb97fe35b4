//! The history as JSON documents, one definition each: `history --json` and the
//! daemon's `GetHistory` ([`boots_json`]), `report --json` ([`outcome_json`]), and a
//! comparison's regressions and recoveries ([`comparison_json`]), which the daemon
//! also serves.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::diff::{BootRef, Comparison};
use super::{BootRecord, History, HistoryError};
use crate::report::Status;

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a time in microseconds since the epoch.
pub fn utc(us: u64) -> String {
    let secs = us / 1_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The status of each subsystem of a boot, by id.
pub fn statuses(b: &BootRecord) -> BTreeMap<&str, Status> {
    b.report
        .subsystems
        .iter()
        .map(|s| (s.id.as_str(), s.status))
        .collect()
}

/// The subsystems whose status changed from `before` to `b`: (id, from, to).
pub fn changes<'a>(
    b: &'a BootRecord,
    before: Option<&BootRecord>,
) -> Vec<(&'a str, Status, Status)> {
    let Some(before) = before else {
        return Vec::new();
    };
    let old = statuses(before);
    b.report
        .subsystems
        .iter()
        .filter_map(|s| {
            let was = *old.get(s.id.as_str())?;
            (was != s.status).then_some((s.id.as_str(), was, s.status))
        })
        .collect()
}

/// `{"database": null, "baseline": null, "count": 0, "boots": []}`: no history yet.
pub fn no_history_json() -> Value {
    json!({"database": Value::Null, "baseline": Value::Null, "count": 0, "boots": []})
}

/// The newest `limit` boots as `history --json` prints them: each with its
/// statuses and the changes since the boot before it; the baseline marked.
pub fn boots_json(h: &History, limit: usize) -> Result<Value, HistoryError> {
    // One more than shown: the changes of the oldest shown need the boot before it.
    let boots = h.boots(limit.saturating_add(1))?;
    let baseline = h.baseline()?;
    let total = h.count()?;
    let shown = &boots[..boots.len().min(limit)];
    let list: Vec<Value> = shown
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let subsystems: serde_json::Map<String, Value> = b
                .report
                .subsystems
                .iter()
                .map(|s| (s.id.clone(), json!(s.status)))
                .collect();
            let ch: Vec<Value> = changes(b, boots.get(i + 1))
                .into_iter()
                .map(|(id, from, to)| json!({"subsystem": id, "from": from, "to": to}))
                .collect();
            json!({
                "boot_id": b.boot_id,
                "recorded_us": b.recorded_us,
                "recorded": format!("{}Z", utc(b.recorded_us).replace(' ', "T")),
                "kernel": b.kernel,
                "generation": b.generation,
                "label": b.label(),
                "overall": b.report.overall,
                "baseline": baseline.as_deref() == Some(b.boot_id.as_str()),
                "subsystems": subsystems,
                "changes": ch,
            })
        })
        .collect();
    Ok(json!({"database": h.path(), "baseline": baseline, "count": total, "boots": list}))
}

/// A boot as the JSON of a regression names it: id, kernel, generation, label.
fn boot_json(b: &BootRef) -> Value {
    json!({"boot_id": b.boot_id, "kernel": b.kernel, "generation": b.generation,
           "label": b.to_string()})
}

/// A regression or recovery as JSON: its fields, its sentence as `message`, both
/// boots with their labels.
fn described(item: &impl Serialize, message: String) -> Value {
    let mut v = serde_json::to_value(item).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        for side in ["previous", "current"] {
            if let Some(b) = m.get(side).cloned()
                && let Ok(b) = serde_json::from_value::<BootRef>(b)
            {
                m.insert(side.into(), boot_json(&b));
            }
        }
        m.insert("message".into(), Value::String(message));
    }
    v
}

/// `{"regressions": [...], "recoveries": [...], "explained": [...]}`.
pub fn comparison_json(cmp: &Comparison) -> Value {
    json!({
        "regressions": cmp.regressions.iter()
            .map(|r| described(r, r.to_string())).collect::<Vec<_>>(),
        "recoveries": cmp.recoveries.iter()
            .map(|r| described(r, r.to_string())).collect::<Vec<_>>(),
        "explained": serde_json::to_value(&cmp.explained).unwrap_or(Value::Null),
    })
}

/// What `report --json` prints: this boot, whether it was recorded (`new`,
/// `updated`, or null when recording failed), and the comparison.
pub fn outcome_json(rec: &BootRecord, recorded: Option<&str>, cmp: &Comparison) -> Value {
    let mut v = comparison_json(cmp);
    if let Value::Object(m) = &mut v {
        m.insert(
            "boot".into(),
            json!({
                "boot_id": rec.boot_id,
                "kernel": rec.kernel,
                "generation": rec.generation,
                "label": rec.label(),
                "overall": rec.report.overall,
                "recorded_us": rec.recorded_us,
            }),
        );
        m.insert("recorded".into(), json!(recorded));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_formats_the_civil_date() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        // 2024-02-29 12:34:56 UTC (a leap day).
        assert_eq!(utc(1_709_210_096_000_000), "2024-02-29 12:34:56");
        assert_eq!(utc(951_782_400_000_000), "2000-02-29 00:00:00");
    }
}
