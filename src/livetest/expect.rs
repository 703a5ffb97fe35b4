//! What each test waits for, as pure functions of the decoded events: a matcher is
//! fed events one by one and says which expectations arrived. No I/O here.

use serde::Serialize;

use super::events::*;

/// Slots of a multi-touch device followed one by one; later slots still count.
const MAX_SLOTS: usize = 16;
/// Distinct key names kept for the report.
const MAX_KEY_NAMES: usize = 8;

/// One thing a test asks for, and whether it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expectation {
    /// Stable identifier: `touch_down_up`, `movement`, `key_press` ...
    pub id: &'static str,
    /// What it is, for a person: `movement (ABS_MT_POSITION_X/Y)`.
    pub what: String,
    /// Whether the test passes only when it arrives; the others are reported only.
    pub required: bool,
    pub arrived: bool,
    /// How many events counted towards it.
    pub count: u64,
    /// What arrived, when there is more to say (`KEY_A, KEY_SPACE`, `max 2048`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Expectation {
    fn new(id: &'static str, what: &str, required: bool, arrived: bool, count: u64) -> Self {
        Expectation {
            id,
            what: what.to_string(),
            required,
            arrived,
            count,
            detail: None,
        }
    }

    fn detail(mut self, d: Option<String>) -> Self {
        self.detail = d;
        self
    }
}

/// Whether every required expectation arrived.
pub fn all_required(exps: &[Expectation]) -> bool {
    exps.iter().all(|e| !e.required || e.arrived)
}

/// Follows one test's events.
pub trait Matcher<E> {
    fn feed(&mut self, ev: &E);
    fn expectations(&self) -> Vec<Expectation>;
    /// Whether listening may stop: what the test waits for has arrived.
    fn done(&self) -> bool {
        all_required(&self.expectations())
    }
}

/// Runs a matcher over a whole sequence (tests and replays).
pub fn run<E, M: Matcher<E>>(mut m: M, events: &[E]) -> Vec<Expectation> {
    for e in events {
        m.feed(e);
    }
    m.expectations()
}

/// `touch`: a finger goes down, drags, and lifts; a second finger is reported.
#[derive(Debug, Default)]
pub struct Touch {
    btn_down: u64,
    btn_up: u64,
    id_down: u64,
    id_up: u64,
    slot: i32,
    active: [bool; MAX_SLOTS],
    last: [[Option<i32>; 2]; MAX_SLOTS],
    last_st: [Option<i32>; 2],
    positions: u64,
    moved: bool,
    second: bool,
}

impl Touch {
    fn slot_index(&self) -> Option<usize> {
        usize::try_from(self.slot).ok().filter(|s| *s < MAX_SLOTS)
    }
}

impl Matcher<Ev> for Touch {
    fn feed(&mut self, ev: &Ev) {
        match (ev.kind, ev.code) {
            (EV_KEY, BTN_TOUCH) if ev.value == 1 => self.btn_down += 1,
            (EV_KEY, BTN_TOUCH) if ev.value == 0 && self.btn_down > self.btn_up => self.btn_up += 1,
            (EV_KEY, BTN_TOOL_DOUBLETAP) if ev.value == 1 => self.second = true,
            (EV_ABS, ABS_MT_SLOT) => self.slot = ev.value,
            (EV_ABS, ABS_MT_TRACKING_ID) => {
                let s = self.slot_index();
                if ev.value >= 0 {
                    self.id_down += 1;
                    if let Some(s) = s {
                        self.active[s] = true;
                        self.last[s] = [None, None];
                    }
                    if self.active.iter().filter(|a| **a).count() > 1 {
                        self.second = true;
                    }
                } else if let Some(s) = s
                    && self.active[s]
                {
                    self.active[s] = false;
                    self.id_up += 1;
                } else if s.is_none() {
                    self.id_up += 1;
                }
            }
            (EV_ABS, c @ (ABS_MT_POSITION_X | ABS_MT_POSITION_Y)) => {
                self.positions += 1;
                if let Some(s) = self.slot_index() {
                    let axis = usize::from(c == ABS_MT_POSITION_Y);
                    if self.last[s][axis].is_some_and(|v| v != ev.value) {
                        self.moved = true;
                    }
                    self.last[s][axis] = Some(ev.value);
                }
            }
            // Single-touch emulation: a drag shows there too.
            (EV_ABS, c @ (ABS_X | ABS_Y)) => {
                let axis = usize::from(c == ABS_Y);
                if self.last_st[axis].is_some_and(|v| v != ev.value) {
                    self.moved = true;
                }
                self.last_st[axis] = Some(ev.value);
            }
            _ => {}
        }
    }

    fn expectations(&self) -> Vec<Expectation> {
        let down_up =
            (self.btn_down > 0 && self.btn_up > 0) || (self.id_down > 0 && self.id_up > 0);
        vec![
            Expectation::new(
                "touch_down_up",
                "touch down/up (BTN_TOUCH, ABS_MT_TRACKING_ID)",
                true,
                down_up,
                self.btn_down.max(self.id_down),
            ),
            Expectation::new(
                "movement",
                "movement (ABS_MT_POSITION_X/Y)",
                true,
                self.moved,
                self.positions,
            ),
            Expectation::new(
                "second_finger",
                "second finger (ABS_MT_SLOT 1)",
                false,
                self.second,
                u64::from(self.second),
            ),
        ]
    }
}

/// `pen`: the pen comes in range, touches with pressure, draws, and leaves (its
/// leaving is waited for: the person was asked to lift it away).
#[derive(Debug, Default)]
pub struct Pen {
    /// The device reports `ABS_PRESSURE`: pressure is then asked for.
    pub has_pressure: bool,
    in_range: u64,
    left: u64,
    tip: u64,
    pressure_events: u64,
    max_pressure: i32,
    positions: u64,
    last: [Option<i32>; 2],
    moved: bool,
    eraser: u64,
    side: u64,
}

impl Pen {
    pub fn new(has_pressure: bool) -> Pen {
        Pen {
            has_pressure,
            ..Pen::default()
        }
    }
}

impl Matcher<Ev> for Pen {
    fn feed(&mut self, ev: &Ev) {
        match (ev.kind, ev.code, ev.value) {
            (EV_KEY, BTN_TOOL_PEN, 1) => self.in_range += 1,
            (EV_KEY, BTN_TOOL_PEN, 0) if self.in_range > self.left => self.left += 1,
            (EV_KEY, BTN_TOUCH, 1) => self.tip += 1,
            (EV_KEY, BTN_TOOL_RUBBER, 1) => self.eraser += 1,
            (EV_KEY, BTN_STYLUS | BTN_STYLUS2, 1) => self.side += 1,
            (EV_ABS, ABS_PRESSURE, v) => {
                self.pressure_events += 1;
                self.max_pressure = self.max_pressure.max(v);
            }
            (EV_ABS, c @ (ABS_X | ABS_Y), v) => {
                self.positions += 1;
                let axis = usize::from(c == ABS_Y);
                if self.last[axis].is_some_and(|old| old != v) {
                    self.moved = true;
                }
                self.last[axis] = Some(v);
            }
            _ => {}
        }
    }

    fn expectations(&self) -> Vec<Expectation> {
        vec![
            Expectation::new(
                "in_range",
                "pen in range (BTN_TOOL_PEN)",
                true,
                self.in_range > 0,
                self.in_range,
            ),
            Expectation::new(
                "tip",
                "pen tip touches (BTN_TOUCH)",
                true,
                self.tip > 0,
                self.tip,
            ),
            Expectation::new(
                "pressure",
                "pressure (ABS_PRESSURE)",
                self.has_pressure,
                self.max_pressure > 0,
                self.pressure_events,
            )
            .detail((self.pressure_events > 0).then(|| format!("max {}", self.max_pressure))),
            Expectation::new(
                "movement",
                "movement (ABS_X/Y)",
                true,
                self.moved,
                self.positions,
            ),
            Expectation::new(
                "out_of_range",
                "pen leaves (BTN_TOOL_PEN 0)",
                true,
                self.left > 0,
                self.left,
            ),
            Expectation::new(
                "eraser",
                "eraser end (BTN_TOOL_RUBBER)",
                false,
                self.eraser > 0,
                self.eraser,
            ),
            Expectation::new(
                "side_button",
                "side button (BTN_STYLUS)",
                false,
                self.side > 0,
                self.side,
            ),
        ]
    }
}

/// Distinct key names, in the order they came, at most [`MAX_KEY_NAMES`].
#[derive(Debug, Default)]
struct KeyNames(Vec<u16>);

impl KeyNames {
    fn add(&mut self, code: u16) {
        if !self.0.contains(&code) && self.0.len() < MAX_KEY_NAMES {
            self.0.push(code);
        }
    }

    fn text(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|c| key_name(*c))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

/// `keyboard`: a key goes down and comes up again.
#[derive(Debug, Default)]
pub struct Keyboard {
    pressed: u64,
    released: u64,
    down: Vec<u16>,
    names: KeyNames,
}

impl Matcher<Ev> for Keyboard {
    fn feed(&mut self, ev: &Ev) {
        if !ev.is_keyboard_key() {
            return;
        }
        match ev.value {
            1 => {
                self.pressed += 1;
                self.names.add(ev.code);
                if !self.down.contains(&ev.code) && self.down.len() < 64 {
                    self.down.push(ev.code);
                }
            }
            0 => {
                if let Some(i) = self.down.iter().position(|c| *c == ev.code) {
                    self.down.swap_remove(i);
                    self.released += 1;
                }
            }
            _ => {}
        }
    }

    fn expectations(&self) -> Vec<Expectation> {
        vec![
            Expectation::new(
                "key_press",
                "key press",
                true,
                self.pressed > 0,
                self.pressed,
            )
            .detail(self.names.text()),
            Expectation::new(
                "key_release",
                "key release",
                true,
                self.released > 0,
                self.released,
            ),
        ]
    }
}

/// `buttons`: volume up or down; the power button only when asked for (it may
/// suspend the machine), else reported when it comes.
#[derive(Debug, Default)]
pub struct Buttons {
    pub power_required: bool,
    volume: u64,
    power: u64,
    names: KeyNames,
}

impl Buttons {
    pub fn new(power_required: bool) -> Buttons {
        Buttons {
            power_required,
            ..Buttons::default()
        }
    }
}

impl Matcher<Ev> for Buttons {
    fn feed(&mut self, ev: &Ev) {
        if ev.kind != EV_KEY || ev.value != 1 {
            return;
        }
        match ev.code {
            KEY_VOLUMEUP | KEY_VOLUMEDOWN => {
                self.volume += 1;
                self.names.add(ev.code);
            }
            KEY_POWER => self.power += 1,
            _ => {}
        }
    }

    fn expectations(&self) -> Vec<Expectation> {
        vec![
            Expectation::new(
                "volume",
                "volume up or down (KEY_VOLUMEUP/KEY_VOLUMEDOWN)",
                true,
                self.volume > 0,
                self.volume,
            )
            .detail(self.names.text()),
            Expectation::new(
                "power",
                "power button (KEY_POWER)",
                self.power_required,
                self.power > 0,
                self.power,
            ),
        ]
    }
}

/// `lid`: the lid closes (`SW_LID` 1) and opens again (`SW_LID` 0).
#[derive(Debug, Default)]
pub struct Lid {
    closed: u64,
    reopened: u64,
}

impl Matcher<Ev> for Lid {
    fn feed(&mut self, ev: &Ev) {
        match (ev.kind, ev.code, ev.value) {
            (EV_SW, SW_LID, 1) => self.closed += 1,
            (EV_SW, SW_LID, 0) if self.closed > 0 => self.reopened += 1,
            _ => {}
        }
    }

    fn expectations(&self) -> Vec<Expectation> {
        vec![
            Expectation::new(
                "closed",
                "lid closed (SW_LID 1)",
                true,
                self.closed > 0,
                self.closed,
            ),
            Expectation::new(
                "opened",
                "lid opened again (SW_LID 0)",
                true,
                self.reopened > 0,
                self.reopened,
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrived(exps: &[Expectation], id: &str) -> (bool, u64) {
        let e = exps.iter().find(|e| e.id == id).expect(id);
        (e.arrived, e.count)
    }

    /// A one-finger drag as hid-multitouch or iptsd reports it.
    fn drag(slot: i32, id: i32, from: i32, to: i32) -> Vec<Ev> {
        let mut v = vec![
            Ev::abs(ABS_MT_SLOT, slot),
            Ev::abs(ABS_MT_TRACKING_ID, id),
            Ev::abs(ABS_MT_POSITION_X, from),
            Ev::abs(ABS_MT_POSITION_Y, from),
            Ev::key(BTN_TOUCH, 1),
            Ev::syn(),
        ];
        for x in (from + 10..=to).step_by(10) {
            v.extend([
                Ev::abs(ABS_MT_SLOT, slot),
                Ev::abs(ABS_MT_POSITION_X, x),
                Ev::syn(),
            ]);
        }
        v.extend([
            Ev::abs(ABS_MT_SLOT, slot),
            Ev::abs(ABS_MT_TRACKING_ID, -1),
            Ev::key(BTN_TOUCH, 0),
            Ev::syn(),
        ]);
        v
    }

    #[test]
    fn a_one_finger_drag_passes_touch() {
        let exps = run(Touch::default(), &drag(0, 7, 100, 200));
        assert_eq!(arrived(&exps, "touch_down_up"), (true, 1));
        assert_eq!(arrived(&exps, "movement"), (true, 12));
        assert_eq!(arrived(&exps, "second_finger"), (false, 0));
        assert!(all_required(&exps));
    }

    #[test]
    fn a_touch_that_never_lifts_is_not_down_up() {
        let mut evs = drag(0, 7, 100, 200);
        evs.truncate(evs.len() - 4);
        let exps = run(Touch::default(), &evs);
        assert!(!arrived(&exps, "touch_down_up").0);
        assert!(!all_required(&exps));
    }

    #[test]
    fn a_tap_without_movement_is_not_a_drag() {
        let evs = [
            Ev::abs(ABS_MT_TRACKING_ID, 1),
            Ev::abs(ABS_MT_POSITION_X, 50),
            Ev::abs(ABS_MT_POSITION_Y, 60),
            Ev::syn(),
            Ev::abs(ABS_MT_POSITION_X, 50),
            Ev::syn(),
            Ev::abs(ABS_MT_TRACKING_ID, -1),
            Ev::syn(),
        ];
        let exps = run(Touch::default(), &evs);
        assert_eq!(arrived(&exps, "touch_down_up"), (true, 1));
        assert_eq!(arrived(&exps, "movement"), (false, 3));
    }

    #[test]
    fn a_second_slot_is_a_second_finger() {
        let mut evs = vec![
            Ev::abs(ABS_MT_SLOT, 0),
            Ev::abs(ABS_MT_TRACKING_ID, 1),
            Ev::abs(ABS_MT_POSITION_X, 10),
            Ev::syn(),
        ];
        evs.extend(drag(1, 2, 300, 320));
        let exps = run(Touch::default(), &evs);
        assert!(arrived(&exps, "second_finger").0);
        assert!(all_required(&exps));
    }

    #[test]
    fn touch_ignores_other_devices_events() {
        let exps = run(
            Touch::default(),
            &[Ev::key(KEY_A, 1), Ev::key(KEY_A, 0), Ev::sw(SW_LID, 1)],
        );
        assert!(exps.iter().all(|e| !e.arrived && e.count == 0));
    }

    #[test]
    fn hostile_slots_and_ids_do_not_panic() {
        let evs = [
            Ev::abs(ABS_MT_SLOT, i32::MIN),
            Ev::abs(ABS_MT_TRACKING_ID, 5),
            Ev::abs(ABS_MT_POSITION_X, 1),
            Ev::abs(ABS_MT_SLOT, 1_000_000),
            Ev::abs(ABS_MT_TRACKING_ID, -1),
            Ev::abs(ABS_MT_POSITION_Y, i32::MAX),
        ];
        let exps = run(Touch::default(), &evs);
        assert!(arrived(&exps, "touch_down_up").0);
    }

    fn stroke(pressure: bool) -> Vec<Ev> {
        let mut v = vec![
            Ev::key(BTN_TOOL_PEN, 1),
            Ev::abs(ABS_X, 1000),
            Ev::abs(ABS_Y, 1000),
            Ev::syn(),
            Ev::key(BTN_TOUCH, 1),
        ];
        if pressure {
            v.push(Ev::abs(ABS_PRESSURE, 900));
        }
        v.extend([
            Ev::syn(),
            Ev::abs(ABS_X, 1100),
            Ev::syn(),
            Ev::key(BTN_TOUCH, 0),
            Ev::abs(ABS_PRESSURE, 0),
            Ev::syn(),
            Ev::key(BTN_TOOL_PEN, 0),
            Ev::syn(),
        ]);
        v
    }

    #[test]
    fn a_pen_stroke_passes_pen() {
        let exps = run(Pen::new(true), &stroke(true));
        for id in ["in_range", "tip", "pressure", "movement", "out_of_range"] {
            assert!(arrived(&exps, id).0, "{id}");
        }
        let p = exps.iter().find(|e| e.id == "pressure").unwrap();
        assert_eq!(p.detail.as_deref(), Some("max 900"));
        assert!(all_required(&exps));
        assert!(!arrived(&exps, "eraser").0);
    }

    #[test]
    fn a_pen_without_pressure_fails_only_where_pressure_is_reported() {
        // Pressure stays 0: the device says it has pressure, none came.
        assert!(!all_required(&run(Pen::new(true), &stroke(false))));
        // A pen that reports no ABS_PRESSURE is not asked for it.
        let evs: Vec<Ev> = stroke(false)
            .into_iter()
            .filter(|e| e.code != ABS_PRESSURE || e.kind != EV_ABS)
            .collect();
        assert!(all_required(&run(Pen::new(false), &evs)));
    }

    #[test]
    fn a_pen_that_never_leaves_is_waited_for() {
        let mut evs = stroke(true);
        evs.truncate(evs.len() - 2);
        let exps = run(Pen::new(true), &evs);
        assert!(!arrived(&exps, "out_of_range").0);
        assert!(!all_required(&exps));
    }

    #[test]
    fn a_finger_is_not_a_pen() {
        let exps = run(Pen::new(true), &drag(0, 1, 10, 50));
        assert!(!arrived(&exps, "in_range").0);
        assert!(!all_required(&exps));
    }

    #[test]
    fn a_key_press_and_release_passes_keyboard() {
        let exps = run(
            Keyboard::default(),
            &[
                Ev::new(EV_MSC, 4, 0x70004),
                Ev::key(KEY_A, 1),
                Ev::syn(),
                Ev::key(KEY_A, 2),
                Ev::key(KEY_A, 0),
                Ev::syn(),
            ],
        );
        assert_eq!(arrived(&exps, "key_press"), (true, 1));
        assert_eq!(arrived(&exps, "key_release"), (true, 1));
        assert_eq!(exps[0].detail.as_deref(), Some("KEY_A"));
    }

    #[test]
    fn a_release_without_its_press_is_not_counted() {
        // The key was held when the test began: only its release arrives.
        let exps = run(Keyboard::default(), &[Ev::key(KEY_Z, 0), Ev::syn()]);
        assert!(!all_required(&exps));
        assert_eq!(arrived(&exps, "key_release"), (false, 0));
    }

    #[test]
    fn touchpad_buttons_are_not_key_presses() {
        let exps = run(
            Keyboard::default(),
            &[Ev::key(BTN_TOUCH, 1), Ev::key(BTN_TOUCH, 0)],
        );
        assert_eq!(arrived(&exps, "key_press"), (false, 0));
    }

    #[test]
    fn key_names_are_capped() {
        let mut k = Keyboard::default();
        for code in 1..100u16 {
            k.feed(&Ev::key(code, 1));
        }
        let d = k.expectations()[0].detail.clone().unwrap();
        assert_eq!(d.split(", ").count(), MAX_KEY_NAMES);
    }

    #[test]
    fn volume_passes_buttons_and_power_is_optional_unless_asked() {
        let vol = [Ev::key(KEY_VOLUMEUP, 1), Ev::key(KEY_VOLUMEUP, 0)];
        let exps = run(Buttons::new(false), &vol);
        assert!(all_required(&exps));
        assert_eq!(exps[0].detail.as_deref(), Some("KEY_VOLUMEUP"));
        assert!(!all_required(&run(Buttons::new(true), &vol)));
        let both = [Ev::key(KEY_VOLUMEDOWN, 1), Ev::key(KEY_POWER, 1)];
        let exps = run(Buttons::new(true), &both);
        assert!(all_required(&exps));
        assert_eq!(arrived(&exps, "power"), (true, 1));
        // The power button alone is not the volume buttons.
        assert!(!all_required(&run(
            Buttons::new(false),
            &[Ev::key(KEY_POWER, 1)]
        )));
    }

    #[test]
    fn lid_needs_close_then_open() {
        let close_open = [Ev::sw(SW_LID, 1), Ev::syn(), Ev::sw(SW_LID, 0), Ev::syn()];
        assert!(all_required(&run(Lid::default(), &close_open)));
        // Opened first (the lid was closed when the test began), never closed again.
        let exps = run(Lid::default(), &[Ev::sw(SW_LID, 0), Ev::syn()]);
        assert!(!arrived(&exps, "opened").0);
        assert!(!all_required(&exps));
        // Closed only.
        assert!(!all_required(&run(Lid::default(), &[Ev::sw(SW_LID, 1)])));
        // SW_TABLET_MODE is not the lid.
        assert!(!all_required(&run(
            Lid::default(),
            &[Ev::sw(1, 1), Ev::sw(1, 0)]
        )));
    }

    #[test]
    fn done_follows_the_required_expectations() {
        let mut l = Lid::default();
        assert!(!l.done());
        l.feed(&Ev::sw(SW_LID, 1));
        assert!(!l.done());
        l.feed(&Ev::sw(SW_LID, 0));
        assert!(l.done());
    }
}
