//! `dtx::parse_events` on arbitrary bytes (what `read()` on /dev/surface/dtx returns
//! after EVENTS_ENABLE).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use surface_check::facts::dtx::{self, BaseState, BaseType, DtxEvent, MAX_EVENT_PAYLOAD};

fuzz_target!(|data: &[u8]| {
    let (events, used) = dtx::parse_events(data);
    assert!(
        used <= data.len(),
        "consumed {used} of {} bytes",
        data.len()
    );
    // Only a truncated event is left: less than a header and the largest payload.
    assert!(
        data.len() - used < 4 + MAX_EVENT_PAYLOAD,
        "left {} bytes",
        data.len() - used
    );
    // Each event takes at least its 4-byte header.
    assert!(events.len() * 4 <= used);
    // Read in two pieces, keeping what was left as the reader does, the same events
    // come out: a split between reads changes nothing.
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let (mut split, first) = dtx::parse_events(&data[..cut]);
    let mut rest = data[first..cut].to_vec();
    rest.extend_from_slice(&data[cut..]);
    let (more, second) = dtx::parse_events(&rest);
    split.extend(more);
    assert_eq!(split, events, "split at {cut}");
    assert_eq!(first + second, used);
    for e in &events {
        let text = e.to_string();
        assert!(!text.is_empty() && common::one_line(&text), "{text:?}");
        // A base connection is always one the driver could have sent: never a
        // misread latch word (the resync quirk) taken for a bogus base state.
        if let DtxEvent::BaseConnection { state, base_id } = e {
            let info = dtx::BaseInfo::from_raw(*state, *base_id);
            assert!(!matches!(info.state, BaseState::Other(_)), "{e:?}");
            assert!(!matches!(info.kind, BaseType::Other(_)), "{e:?}");
        }
        if let DtxEvent::Unknown { data, .. } = e {
            assert!(data.len() <= MAX_EVENT_PAYLOAD);
        }
        let json = serde_json::to_string(e).unwrap();
        let back: DtxEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, e);
    }
});
