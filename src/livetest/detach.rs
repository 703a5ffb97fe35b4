//! `detach`: what the DTX event stream says after the detach button is pressed.
//! The matcher is pure; the stream is [`crate::facts::dtx::DtxEvents`].

use crate::facts::dtx::DtxEvent;

use super::expect::{Expectation, Matcher};

/// Events kept, as text, for the report.
pub const MAX_KEPT: usize = 32;

/// The request must come; then the latch, the base connection or a cancellation
/// says what the firmware did with it.
#[derive(Debug, Default)]
pub struct Detach {
    request: u64,
    latch: u64,
    base: u64,
    cancel: u64,
    mode: u64,
    unknown: u64,
    last_latch: Option<String>,
    last_base: Option<String>,
    last_cancel: Option<String>,
    last_mode: Option<String>,
    /// Every event, said (the first [`MAX_KEPT`]).
    pub seen: Vec<String>,
}

impl Matcher<DtxEvent> for Detach {
    fn feed(&mut self, ev: &DtxEvent) {
        if self.seen.len() < MAX_KEPT {
            self.seen.push(ev.to_string());
        }
        let text = Some(ev.to_string());
        match ev {
            DtxEvent::Request => self.request += 1,
            DtxEvent::LatchStatus(_) => {
                self.latch += 1;
                self.last_latch = text;
            }
            DtxEvent::BaseConnection { .. } => {
                self.base += 1;
                self.last_base = text;
            }
            DtxEvent::Cancel { .. } => {
                self.cancel += 1;
                self.last_cancel = text;
            }
            DtxEvent::DeviceMode(_) => {
                self.mode += 1;
                self.last_mode = text;
            }
            DtxEvent::Unknown { .. } => self.unknown += 1,
        }
    }

    fn expectations(&self) -> Vec<Expectation> {
        let e = |id, what: &str, required, count: u64, detail: &Option<String>| Expectation {
            id,
            what: what.to_string(),
            required,
            arrived: count > 0,
            count,
            detail: detail.clone(),
        };
        vec![
            e(
                "request",
                "detach request (REQUEST)",
                true,
                self.request,
                &None,
            ),
            e(
                "latch",
                "latch status (LATCH_STATUS)",
                false,
                self.latch,
                &self.last_latch,
            ),
            e(
                "base_connection",
                "base connection (BASE_CONNECTION)",
                false,
                self.base,
                &self.last_base,
            ),
            e(
                "cancel",
                "detach cancelled (CANCEL)",
                false,
                self.cancel,
                &self.last_cancel,
            ),
            e(
                "device_mode",
                "device mode (DEVICE_MODE)",
                false,
                self.mode,
                &self.last_mode,
            ),
        ]
    }

    /// The request, and then what the firmware did with it.
    fn done(&self) -> bool {
        self.request > 0 && (self.latch > 0 || self.base > 0 || self.cancel > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::livetest::expect::{all_required, run};

    #[test]
    fn request_then_latch_opens() {
        let mut m = Detach::default();
        m.feed(&DtxEvent::Request);
        assert!(!m.done(), "the follow-up is waited for");
        m.feed(&DtxEvent::LatchStatus(1));
        assert!(m.done());
        let exps = m.expectations();
        assert!(all_required(&exps));
        assert_eq!(exps[1].detail.as_deref(), Some("latch opened"));
        assert_eq!(m.seen, ["detach requested", "latch opened"]);
    }

    #[test]
    fn a_cancel_ends_the_wait_and_says_why() {
        let exps = run(
            Detach::default(),
            &[DtxEvent::Request, DtxEvent::Cancel { reason: 0x2002 }],
        );
        let c = exps.iter().find(|e| e.id == "cancel").unwrap();
        assert!(c.arrived);
        assert!(c.detail.as_deref().unwrap().starts_with("detach cancelled"));
    }

    #[test]
    fn no_request_fails_whatever_else_came() {
        let exps = run(
            Detach::default(),
            &[
                DtxEvent::LatchStatus(1),
                DtxEvent::BaseConnection {
                    state: 0,
                    base_id: 0x0207,
                },
            ],
        );
        assert!(!all_required(&exps));
    }

    #[test]
    fn kept_events_are_bounded() {
        let mut m = Detach::default();
        for _ in 0..1000 {
            m.feed(&DtxEvent::DeviceMode(1));
        }
        assert_eq!(m.seen.len(), MAX_KEPT);
        assert_eq!(m.expectations()[4].count, 1000);
    }
}
