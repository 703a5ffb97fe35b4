//! The rule that a fix fits the kernel it is given for, checked on any report and
//! the facts it was made from: a hint never asks to enable a config option this
//! kernel sets, never asks to load a module that is built in or loaded, and never
//! names a device for `drivers_probe` that the facts do not list.

#![allow(dead_code)]

use serde_json::Value;

fn ok(v: &Value) -> Option<&Value> {
    v.get("ok")
}

/// Every way a hint of `report` does not fit the kernel of `facts`; empty when all fit.
pub fn misfits(facts: &Value, report: &Value) -> Vec<String> {
    let options = ok(&facts["config"]).and_then(|c| c["options"].as_object());
    let loaded = ok(&facts["modules"]["loaded"]).and_then(Value::as_object);
    let builtin: Vec<&str> = ok(&facts["module_tree"])
        .and_then(|t| ok(&t["builtin"]))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut bad = Vec::new();
    for sub in report["subsystems"].as_array().into_iter().flatten() {
        for c in sub["checks"].as_array().into_iter().flatten() {
            let id = c["id"].as_str().unwrap_or("?");
            // The hint, and the notices (an outcome turned into a notice keeps its hint
            // in it).
            let texts: Vec<&str> = c["hint"]
                .as_str()
                .into_iter()
                .chain(
                    c["notices"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str),
                )
                .collect();
            for hint in texts {
                bad.extend(misfits_of(id, hint, options, loaded, &builtin, facts));
            }
        }
    }
    bad
}

fn misfits_of(
    id: &str,
    hint: &str,
    options: Option<&serde_json::Map<String, Value>>,
    loaded: Option<&serde_json::Map<String, Value>>,
    builtin: &[&str],
    facts: &Value,
) -> Vec<String> {
    let mut bad = Vec::new();
    // CONFIG_X: a set option may be named only with its value (`CONFIG_X=m`).
    for (pos, _) in hint.match_indices("CONFIG_") {
        let rest = &hint[pos + 7..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = &rest[name.len()..];
        // "If the kernel lacks CONFIG_X" is a condition, not an instruction.
        let conditional = hint[..pos].trim_end().ends_with("lacks");
        if let Some(v) = options.and_then(|o| o.get(&name)).and_then(Value::as_str)
            && !after.starts_with(&format!("={v}"))
            && !conditional
        {
            bad.push(format!(
                "{id}: hint names CONFIG_{name}, which this kernel sets ({v}): {hint}"
            ));
        }
    }
    // `modprobe M` (not `modprobe -r M`): M must be neither built in nor
    // loaded, unless the hint first removes it (a reload).
    let words: Vec<&str> = hint
        .split(|c: char| c.is_whitespace() || c == '`' || c == ';' || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        // `modprobe M`, or "load `M`" / "Load M".
        let loads = *w == "modprobe" || w.eq_ignore_ascii_case("load");
        if !loads || words.get(i + 1) == Some(&"-r") {
            continue;
        }
        let Some(m) = words.get(i + 1) else { continue };
        if *w != "modprobe" && matches!(*m, "it" | "the" | "them" | "a" | "its") {
            continue;
        }
        let m = m.trim_end_matches(['.', ')']).replace('-', "_");
        let reload =
            hint.contains(&format!("modprobe -r {m}")) || hint.contains(&format!("rmmod {m}"));
        if builtin.contains(&m.as_str()) {
            bad.push(format!("{id}: hint loads {m}, which is built in: {hint}"));
        } else if loaded.is_some_and(|l| l.contains_key(&m)) && !reload {
            bad.push(format!("{id}: hint loads {m}, which is loaded: {hint}"));
        }
    }
    // `echo DEV > /sys/bus/BUS/drivers_probe`: DEV must exist on BUS.
    for (i, w) in words.iter().enumerate() {
        if *w != "echo" {
            continue;
        }
        let (Some(dev), Some(gt), Some(path)) =
            (words.get(i + 1), words.get(i + 2), words.get(i + 3))
        else {
            continue;
        };
        let Some(bus) = path
            .strip_prefix("/sys/bus/")
            .and_then(|p| p.strip_suffix("/drivers_probe"))
        else {
            continue;
        };
        if *gt != ">" {
            continue;
        }
        let listed = ok(&facts["buses"][bus])
            .and_then(Value::as_array)
            .is_some_and(|devs| devs.iter().any(|d| d["name"] == **dev));
        if !listed {
            bad.push(format!(
                "{id}: hint probes {dev} on {bus}, which the facts do not list: {hint}"
            ));
        }
    }
    bad
}

/// Every failed or degraded check rests on evidence.
pub fn unfounded(report: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    for sub in report["subsystems"].as_array().into_iter().flatten() {
        for c in sub["checks"].as_array().into_iter().flatten() {
            let problem = matches!(c["status"].as_str(), Some("failed" | "degraded"));
            let empty = c["evidence"].as_array().is_none_or(|e| e.is_empty());
            if problem && empty {
                bad.push(format!("{}: {} without evidence", c["id"], c["status"]));
            }
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(hint: &str) -> Value {
        json!({"subsystems": [{"checks": [
            {"id": "x.y", "status": "failed", "hint": hint, "evidence": ["e"]}
        ]}]})
    }

    fn facts() -> Value {
        json!({
            "config": {"ok": {"source": "/boot/config", "options": {"ACPI_BUTTON": "m", "SERIAL_DEV_BUS": "y"}}},
            "modules": {"loaded": {"ok": {"button": {}}}},
            "module_tree": {"ok": {"builtin": {"ok": ["8250_dw"]}}},
            "buses": {"serial": {"ok": [{"name": "serial0-0"}]}}
        })
    }

    #[test]
    fn misfitting_hints_are_caught_and_fitting_ones_pass() {
        let f = facts();
        for bad in [
            "Enable CONFIG_ACPI_BUTTON.",
            "Enable CONFIG_SERIAL_DEV_BUS and CONFIG_X.",
            "Load it: `modprobe 8250-dw`.",
            "modprobe button",
            "echo serial1-0 > /sys/bus/serial/drivers_probe",
            "Then load `button`.",
        ] {
            assert_eq!(misfits(&f, &report(bad)).len(), 1, "{bad}");
        }
        for good in [
            "Enable CONFIG_SURFACE_DTX.",
            "CONFIG_ACPI_BUTTON=m is set but the module is missing",
            "`modprobe -r button && modprobe button`",
            "modprobe surface_dtx",
            "echo serial0-0 > /sys/bus/serial/drivers_probe",
            "If the kernel lacks CONFIG_ACPI_BUTTON, use one that has it.",
            "Load it: see the log.",
        ] {
            assert!(misfits(&f, &report(good)).is_empty(), "{good}");
        }
        // A hint kept inside a notice is held to the same rule.
        let r = json!({"subsystems": [{"checks": [
            {"id": "x.y", "status": "ok", "hint": null, "evidence": [],
             "notices": ["it is missing (Enable CONFIG_SERIAL_DEV_BUS.)"]}
        ]}]});
        assert_eq!(misfits(&f, &r).len(), 1);
    }
}
