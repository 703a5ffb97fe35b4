//! Power supplies (`sys/class/power_supply`) and the platform profile.

use super::{Fact, PlatformProfile, PowerSupply, list_sorted, parse, parsed, text};
use crate::root::Root;

pub fn collect(root: &Root) -> Fact<Vec<PowerSupply>> {
    let base = "sys/class/power_supply";
    list_sorted(root, base).map(|names| {
        names
            .into_iter()
            .map(|n| {
                let dir = format!("{base}/{n}");
                let p = format!("{dir}/uevent");
                // One read gives every attribute; on a Surface it is also the read that
                // reaches the EC and can hang, which the watchdog cuts off.
                let props = parsed(root, &p, |t| {
                    parse::key_values(t).map(|kv| {
                        kv.into_iter()
                            .filter_map(|(k, v)| {
                                k.strip_prefix("POWER_SUPPLY_")
                                    .map(|k| (k.to_ascii_lowercase(), v))
                            })
                            .collect()
                    })
                });
                PowerSupply {
                    parent: root.canonical(&format!("{dir}/device")).ok(),
                    props,
                    name: n,
                }
            })
            .collect()
    })
}

pub fn platform_profile(root: &Root) -> PlatformProfile {
    PlatformProfile {
        current: text(root, "sys/firmware/acpi/platform_profile"),
        choices: text(root, "sys/firmware/acpi/platform_profile_choices"),
    }
}
