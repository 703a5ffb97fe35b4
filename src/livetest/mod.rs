//! Live functional tests: `surface-check test touch|pen|keyboard|buttons|lid|detach|camera`.
//!
//! A test asks the person to use a device, listens to what the device sends, and
//! says what arrived and what did not. It runs on the live machine only. Three
//! rooms: [`select`] chooses the devices from the collected facts and [`expect`]
//! (and [`detach`]) match the events, both pure; [`watch`] and [`camera`] do the
//! I/O, every wait bounded by the deadline; [`render`] writes for the person.
//!
//! Exit status: 0 when everything asked for arrived, 1 when something did not (the
//! hardware did not respond in time, or the test was interrupted), 2 when the test
//! could not run (no such device, permission denied, a device that went away).
//!
//! When its devices are open, a test writes one line per device to standard error,
//! all together: `surface-check: listening on /dev/input/event3 (NAME)`. A script
//! that injects events waits for the first such line.

pub mod camera;
pub mod detach;
pub mod events;
pub mod expect;
pub mod render;
pub mod select;
mod signal;
mod watch;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::facts::{self, Fact};
use crate::profiles::SURFACE_BOOK_2;
use crate::root::{ReadError, Root};

use events::Ev;
use expect::{Expectation, Matcher, all_required};
use render::Console;

/// The prefix of the line that says a test is listening.
pub const LISTENING: &str = "surface-check: listening on";

/// Distinct event names counted one by one; the rest are counted together.
const MAX_EVENT_NAMES: usize = 128;

/// The tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestName {
    /// Touch the screen with one finger and drag it.
    Touch,
    /// Touch the screen with the pen and draw a line.
    Pen,
    /// Press a key on the base's keyboard.
    Keyboard,
    /// Press volume up or down (and the power button with `--power`).
    Buttons,
    /// Close the lid and open it again.
    Lid,
    /// Press the detach button (the DTX event stream).
    Detach,
    /// List the cameras with libcamera and capture one frame from each.
    Camera,
}

impl fmt::Display for TestName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TestName::Touch => "touch",
            TestName::Pen => "pen",
            TestName::Keyboard => "keyboard",
            TestName::Buttons => "buttons",
            TestName::Lid => "lid",
            TestName::Detach => "detach",
            TestName::Camera => "camera",
        })
    }
}

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything asked for arrived.
    Passed,
    /// Something asked for did not arrive before the deadline.
    NotArrived,
    /// Ctrl-C (SIGINT) or SIGTERM before everything arrived.
    Interrupted,
    /// Every watched device went away before everything arrived.
    DeviceGone,
    /// The test could not run.
    Error,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Passed => 0,
            Outcome::NotArrived | Outcome::Interrupted => 1,
            Outcome::DeviceGone | Outcome::Error => 2,
        }
    }
}

/// A device a test watched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSeen {
    /// `/dev/input/event3`, `/dev/surface/dtx`.
    pub node: String,
    pub name: String,
    /// `input12`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sysname: Option<String>,
    /// `vendor:product`, `045e:0922`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The device the profile names for this test.
    pub preferred: bool,
    /// Events read from it.
    pub events: u64,
    /// Why it stopped answering, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gone: Option<String>,
}

/// What arrived, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventsSeen {
    pub total: u64,
    /// `SYN_DROPPED` events: the kernel's buffer overflowed.
    pub dropped: u64,
    /// Count per `TYPE CODE` name (`EV_ABS ABS_MT_POSITION_X`); past 128 names, the
    /// rest under `other`.
    pub by_code: BTreeMap<String, u64>,
}

impl EventsSeen {
    fn add(&mut self, ev: &Ev) {
        self.total += 1;
        if ev.kind == events::EV_SYN && ev.code == events::SYN_DROPPED {
            self.dropped += 1;
        }
        let name = ev.name();
        let key = if self.by_code.len() < MAX_EVENT_NAMES || self.by_code.contains_key(&name) {
            name
        } else {
            "other".to_string()
        };
        *self.by_code.entry(key).or_insert(0) += 1;
    }
}

/// The result of one test: the `--json` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    pub test: TestName,
    /// What the person was asked to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    pub timeout_s: u64,
    /// From the moment the test listened (or started, for the camera) to its end.
    pub elapsed_ms: u64,
    pub devices: Vec<DeviceSeen>,
    pub expectations: Vec<Expectation>,
    pub events: EventsSeen,
    /// `detach`: the DTX events, said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtx_events: Option<Vec<String>>,
    /// `camera`: what libcamera and V4L2 showed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera: Option<camera::CameraReport>,
    /// Remarks for the person (a fallback device, the lid's state at the start).
    pub notes: Vec<String>,
    pub outcome: Outcome,
    pub exit_code: i32,
    /// Why the test could not run or did not finish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl TestResult {
    fn new(test: TestName, timeout: Duration) -> TestResult {
        TestResult {
            test,
            prompt: None,
            timeout_s: timeout.as_secs(),
            elapsed_ms: 0,
            devices: Vec::new(),
            expectations: Vec::new(),
            events: EventsSeen::default(),
            dtx_events: None,
            camera: None,
            notes: Vec::new(),
            outcome: Outcome::Error,
            exit_code: Outcome::Error.exit_code(),
            message: None,
        }
    }

    fn error(mut self, message: impl Into<String>) -> TestResult {
        self.message = Some(message.into());
        self.finish(Outcome::Error)
    }

    fn finish(mut self, outcome: Outcome) -> TestResult {
        self.outcome = outcome;
        self.exit_code = outcome.exit_code();
        self
    }
}

/// A test to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub test: TestName,
    pub timeout: Duration,
    pub json: bool,
    /// `buttons`: ask for the power button too.
    pub power: bool,
}

/// What the person is asked to do, and what else they should know.
pub fn prompt(test: TestName, power: bool) -> (&'static str, Vec<&'static str>) {
    match test {
        TestName::Touch => (
            "Touch the screen with one finger and drag it.",
            vec!["A second finger at the same time is reported too."],
        ),
        TestName::Pen => (
            "Touch the screen with the pen, draw a line, then lift the pen away.",
            vec![],
        ),
        TestName::Keyboard => ("Press any key on the keyboard.", vec![]),
        TestName::Buttons if power => (
            "Press volume up or down, then the power button.",
            vec![
                "The power button may suspend or switch off the machine: run the test under \
                 `systemd-inhibit --what=handle-power-key` to keep it from doing so.",
            ],
        ),
        TestName::Buttons => (
            "Press volume up or down.",
            vec![
                "The power button is not asked for: pressing it may suspend the machine \
                 (`--power` asks for it).",
            ],
        ),
        TestName::Lid => (
            "Close the lid and open it again.",
            vec![
                "Closing the lid may suspend the machine: `systemd-inhibit \
                 --what=handle-lid-switch surface-check test lid` keeps it awake.",
            ],
        ),
        TestName::Detach => (
            "Press the detach button on the keyboard.",
            vec!["Then lift the screen off, or wait: the latch closes again by itself."],
        ),
        TestName::Camera => ("Nothing to do: libcamera is asked for the cameras.", vec![]),
    }
}

/// Runs a test on the live machine, writes its result, and returns the exit code.
/// `stdout` gets the summary (or the JSON object); the prompt goes there too, or to
/// standard error with `--json`.
pub fn run(opts: &Options, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let _signals = signal::Guard::install();
    let result = {
        let mut err = std::io::stderr();
        let (w, tty): (&mut dyn Write, bool) = if opts.json {
            (&mut err, std::io::stderr().is_terminal())
        } else {
            (&mut *stdout, std::io::stdout().is_terminal())
        };
        let mut con = Console::new(w, tty);
        let r = match opts.test {
            TestName::Detach => detach_test(opts, &mut con),
            TestName::Camera => camera_test(opts, &mut con),
            _ => input_test(opts, &mut con),
        };
        con.clear();
        r
    };
    if matches!(opts.test, TestName::Keyboard | TestName::Buttons) {
        discard_typed_input();
    }
    if opts.json {
        serde_json::to_writer_pretty(&mut *stdout, &result)?;
        writeln!(stdout)?;
    } else if result.outcome != Outcome::Error {
        write!(stdout, "{}", render::summary(&result))?;
    }
    if result.outcome == Outcome::Error {
        let m = result
            .message
            .as_deref()
            .unwrap_or("the test could not run");
        eprintln!("surface-check: {}", crate::cli::render::visible(m));
    }
    stdout.flush()?;
    Ok(result.exit_code)
}

/// Keys pressed for the test also went to the terminal: they are dropped, not left
/// for the shell to read as a command line.
fn discard_typed_input() {
    if std::io::stdin().is_terminal() {
        // SAFETY: tcflush on standard input, a terminal.
        unsafe {
            libc::tcflush(libc::STDIN_FILENO, libc::TCIFLUSH);
        }
    }
}

fn id_text(c: &select::Candidate) -> Option<String> {
    c.id.as_ref()
        .map(|i| format!("{:04x}:{:04x}", i.vendor, i.product))
}

/// The live root; tests need the live machine.
fn live_root() -> Result<Root, String> {
    Root::open("/").map_err(|e| e.to_string())
}

/// Announces what is watched: to the person, and the listening lines to stderr.
fn announce(con: &mut Console, test: TestName, devices: &[(String, String)]) {
    for (node, name) in devices {
        con.line(&format!(
            "surface-check test {test}: watching {node} ({name})"
        ));
    }
    let mut lines = String::new();
    for (node, name) in devices {
        let v = crate::cli::render::visible;
        lines.push_str(&format!("{LISTENING} {} ({})\n", v(node), v(name)));
    }
    // One write: the lines come together, once every device is open.
    let _ = std::io::stderr().lock().write_all(lines.as_bytes());
}

fn ask(con: &mut Console, r: &mut TestResult, opts: &Options) {
    let (p, hints) = prompt(opts.test, opts.power);
    r.prompt = Some(p.to_string());
    con.line(p);
    for h in hints {
        con.line(&format!("  ({h})"));
    }
}

fn input_test(opts: &Options, con: &mut Console) -> TestResult {
    let mut r = TestResult::new(opts.test, opts.timeout);
    let root = match live_root() {
        Ok(root) => root,
        Err(e) => return r.error(e),
    };
    let inputs = match root.run_watched(facts::input::collect) {
        Ok(Fact::Ok(v)) => v,
        Ok(Fact::Absent { path }) => {
            r.notes
                .push(format!("/{path} does not exist: no input devices"));
            Vec::new()
        }
        Ok(Fact::Unknown { path, reason }) => {
            return r.error(format!("cannot list the input devices: /{path}: {reason}"));
        }
        Err(e) => return r.error(format!("listing the input devices: {e}")),
    };
    let sel = match select::select(opts.test, &inputs, &SURFACE_BOOK_2) {
        Ok(s) => s,
        Err(msg) => return r.error(msg),
    };
    let mut devs = match watch::open_all(&root, &sel.devices) {
        Ok(d) => d,
        Err(msg) => return r.error(msg),
    };
    if let Some(n) = sel.note {
        r.notes.push(n);
    }
    let matcher: Box<dyn Matcher<Ev>> = match opts.test {
        TestName::Touch => Box::new(expect::Touch::default()),
        TestName::Pen => Box::new(expect::Pen::new(sel.devices.iter().any(|c| c.has_pressure))),
        TestName::Keyboard => Box::new(expect::Keyboard::default()),
        TestName::Buttons => Box::new(expect::Buttons::new(opts.power)),
        _ => Box::new(expect::Lid::default()),
    };
    if opts.test == TestName::Lid
        && devs
            .iter()
            .any(|d| d.switch_on(events::SW_LID) == Some(true))
    {
        r.notes
            .push("the lid is closed now: open it first, then close it and open it again".into());
    }
    for n in &r.notes {
        con.line(&format!("note: {n}"));
    }
    let shown: Vec<(String, String)> = devs
        .iter()
        .map(|d| (d.path.clone(), d.name.clone()))
        .collect();
    announce(con, opts.test, &shown);
    ask(con, &mut r, opts);

    let m = RefCell::new(matcher);
    let mut seen = EventsSeen::default();
    let mut per_device = vec![0u64; devs.len()];
    let start = Instant::now();
    let deadline = start + opts.timeout;
    let stop = {
        let mut feed = |i: usize, ev: Ev| {
            seen.add(&ev);
            if let Some(c) = per_device.get_mut(i) {
                *c += 1;
            }
            m.borrow_mut().feed(&ev);
        };
        let done = || m.borrow().done();
        let mut tick = |left: Duration| {
            let exps = m.borrow().expectations();
            let wanted = exps.iter().filter(|e| e.required).count();
            let arrived = exps.iter().filter(|e| e.required && e.arrived).count();
            con.countdown(left, arrived, wanted);
        };
        watch::listen(&mut devs, deadline, &mut feed, &done, &mut tick)
    };
    con.clear();
    r.elapsed_ms = start.elapsed().as_millis() as u64;
    r.expectations = m.borrow().expectations();
    r.events = seen;
    r.devices = devs
        .iter()
        .zip(&per_device)
        .map(|(d, n)| DeviceSeen {
            node: d.path.clone(),
            name: d.name.clone(),
            sysname: Some(d.candidate.sysname.clone()),
            id: id_text(&d.candidate),
            preferred: d.candidate.preferred,
            events: *n,
            gone: d.gone.clone(),
        })
        .collect();
    let passed = all_required(&r.expectations);
    let outcome = match stop {
        _ if passed => Outcome::Passed,
        watch::Stop::Done | watch::Stop::Timeout => Outcome::NotArrived,
        watch::Stop::Interrupted => Outcome::Interrupted,
        watch::Stop::AllGone => {
            r.message = Some("the device went away: was the base detached?".into());
            Outcome::DeviceGone
        }
        watch::Stop::Failed(e) => {
            r.message = Some(e);
            Outcome::Error
        }
    };
    r.finish(outcome)
}

const DTX_NODE: &str = "/dev/surface/dtx";

fn detach_test(opts: &Options, con: &mut Console) -> TestResult {
    let mut r = TestResult::new(opts.test, opts.timeout);
    let root = match live_root() {
        Ok(root) => root,
        Err(e) => return r.error(e),
    };
    let mut stream = match facts::dtx::DtxEvents::open(&root) {
        Ok(s) => s,
        Err(ReadError::NotFound) => {
            return r.error(format!(
                "no DTX device: {DTX_NODE} does not exist (is surface_dtx loaded? \
                 `surface-check status` names the broken link)"
            ));
        }
        Err(ReadError::PermissionDenied) => {
            return r.error(format!("{DTX_NODE}: permission denied: run as root"));
        }
        Err(e) => return r.error(format!("{DTX_NODE}: {e}")),
    };
    let name = "Surface DTX events".to_string();
    announce(con, opts.test, &[(DTX_NODE.to_string(), name.clone())]);
    ask(con, &mut r, opts);
    let mut m = detach::Detach::default();
    let start = Instant::now();
    let deadline = start + opts.timeout;
    let mut gone = None;
    let stop = loop {
        if m.done() {
            break watch::Stop::Done;
        }
        if signal::interrupted() {
            break watch::Stop::Interrupted;
        }
        let now = Instant::now();
        if now >= deadline {
            break watch::Stop::Timeout;
        }
        let left = deadline - now;
        let exps = m.expectations();
        con.countdown(
            left,
            exps.iter().filter(|e| e.required && e.arrived).count(),
            exps.iter().filter(|e| e.required).count(),
        );
        match stream.next(left.min(watch::TICK)) {
            Ok(evs) => {
                for e in &evs {
                    r.events.total += 1;
                    m.feed(e);
                }
            }
            Err(e) => {
                gone = Some(e.to_string());
                break watch::Stop::AllGone;
            }
        }
    };
    con.clear();
    r.elapsed_ms = start.elapsed().as_millis() as u64;
    r.expectations = m.expectations();
    r.dtx_events = Some(m.seen.clone());
    r.devices = vec![DeviceSeen {
        node: DTX_NODE.into(),
        name,
        sysname: None,
        id: None,
        preferred: true,
        events: r.events.total,
        gone: gone.clone(),
    }];
    let outcome = match stop {
        _ if all_required(&r.expectations) => Outcome::Passed,
        watch::Stop::Interrupted => Outcome::Interrupted,
        watch::Stop::AllGone => {
            r.message = Some(format!(
                "{DTX_NODE} stopped answering: {}",
                gone.unwrap_or_default()
            ));
            Outcome::DeviceGone
        }
        _ => Outcome::NotArrived,
    };
    r.finish(outcome)
}

fn video_nodes(root: &Root) -> Vec<camera::VideoNodeSeen> {
    let nodes = match root.run_watched(facts::video::video) {
        Ok(Fact::Ok(v)) => v,
        _ => return Vec::new(),
    };
    nodes
        .into_iter()
        .filter(|n| n.sysname.starts_with("video"))
        .map(|n| {
            let caps = n.caps.ok();
            camera::VideoNodeSeen {
                node: format!("/dev/{}", n.sysname),
                name: n.name.ok().cloned(),
                driver: caps.map(|c| c.driver.clone()),
                capture: caps.map(|c| c.capture),
            }
        })
        .collect()
}

fn camera_test(opts: &Options, con: &mut Console) -> TestResult {
    let mut r = TestResult::new(opts.test, opts.timeout);
    let start = Instant::now();
    let deadline = start + opts.timeout;
    let mut report = camera::CameraReport::default();
    if let Ok(root) = live_root() {
        report.video_nodes = video_nodes(&root);
    }
    let path = std::env::var_os("PATH");
    let Some(cam) = camera::find_cam(path.as_deref()) else {
        r.camera = Some(report);
        return r.error(camera::NOT_INSTALLED);
    };
    report.libcamera.installed = true;
    report.libcamera.cam = Some(cam.display().to_string());
    ask(con, &mut r, opts);
    con.line(&format!("Running {} --list ...", cam.display()));
    let ran = match camera::run_bounded(camera::cam_command(&cam).arg("--list"), deadline) {
        Ok(ran) => ran,
        Err(e) => {
            r.camera = Some(report);
            return r.error(format!("running {}: {e}", cam.display()));
        }
    };
    report.libcamera.log = camera::last_lines(&ran.stderr, 5);
    let listed = if ran.status.is_some_and(|s| s.success()) {
        camera::parse_list(&ran.stdout)
    } else {
        None
    };
    match listed {
        Some(list) => {
            report.libcamera.answered = true;
            report.cameras = list;
        }
        None => {
            report.libcamera.error = Some(if ran.status.is_some_and(|s| s.success()) {
                "cam --list printed no camera list".to_string()
            } else {
                camera::failure(&ran, "cam --list")
            });
        }
    }
    for c in &report.cameras {
        if signal::interrupted() || Instant::now() >= deadline {
            break;
        }
        con.line(&format!(
            "Capturing one frame from camera {} ({}) ...",
            c.index, c.name
        ));
        report
            .captures
            .push(camera::capture(&cam, c.index, deadline));
    }
    let n = report.cameras.len() as u64;
    let captured = report.captures.iter().filter(|c| c.captured).count() as u64;
    let failed: Vec<String> = report
        .cameras
        .iter()
        .filter(|c| {
            !report
                .captures
                .iter()
                .any(|k| k.camera == c.index && k.captured)
        })
        .map(|c| c.index.to_string())
        .collect();
    r.expectations = vec![
        Expectation {
            id: "listed",
            what: "libcamera lists a camera (cam --list)".into(),
            required: true,
            arrived: n > 0,
            count: n,
            detail: None,
        },
        Expectation {
            id: "frame",
            what: "one frame captured from each camera listed".into(),
            required: true,
            arrived: n > 0 && captured == n,
            count: captured,
            detail: if n == 0 {
                Some("no camera listed".into())
            } else {
                (!failed.is_empty()).then(|| format!("none from camera {}", failed.join(", ")))
            },
        },
    ];
    r.elapsed_ms = start.elapsed().as_millis() as u64;
    if report.libcamera.answered && n == 0 {
        r.message = Some("libcamera answered and lists no camera".into());
    } else if !report.libcamera.answered {
        r.message = Some("libcamera did not answer".into());
    }
    r.camera = Some(report);
    let outcome = if all_required(&r.expectations) {
        Outcome::Passed
    } else if ran.interrupted || signal::interrupted() {
        Outcome::Interrupted
    } else {
        Outcome::NotArrived
    };
    r.finish(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_outcome() {
        assert_eq!(Outcome::Passed.exit_code(), 0);
        assert_eq!(Outcome::NotArrived.exit_code(), 1);
        assert_eq!(Outcome::Interrupted.exit_code(), 1);
        assert_eq!(Outcome::DeviceGone.exit_code(), 2);
        assert_eq!(Outcome::Error.exit_code(), 2);
    }

    #[test]
    fn event_names_are_bounded() {
        let mut s = EventsSeen::default();
        for code in 0..1000u16 {
            s.add(&Ev::key(code, 1));
        }
        s.add(&Ev::new(events::EV_SYN, events::SYN_DROPPED, 0));
        assert_eq!(s.total, 1001);
        assert_eq!(s.dropped, 1);
        assert_eq!(s.by_code.len(), MAX_EVENT_NAMES + 1);
        assert_eq!(s.by_code["other"], 1001 - MAX_EVENT_NAMES as u64);
    }

    #[test]
    fn the_summary_says_what_arrived_and_what_did_not() {
        let mut r = TestResult::new(TestName::Touch, Duration::from_secs(15));
        r.expectations = expect::run(
            expect::Touch::default(),
            &[
                Ev::abs(events::ABS_MT_TRACKING_ID, 1),
                Ev::abs(events::ABS_MT_POSITION_X, 1),
                Ev::abs(events::ABS_MT_POSITION_X, 2),
            ],
        );
        r.events.add(&Ev::abs(events::ABS_MT_POSITION_X, 1));
        let r = r.finish(Outcome::NotArrived);
        let s = render::summary(&r);
        assert!(
            s.contains("✗ touch down/up (BTN_TOUCH, ABS_MT_TRACKING_ID): did not arrive, 1 event"),
            "{s}"
        );
        assert!(
            s.contains("✓ movement (ABS_MT_POSITION_X/Y): yes, 2 events"),
            "{s}"
        );
        assert!(
            s.contains("· second finger (ABS_MT_SLOT 1): not seen (optional)"),
            "{s}"
        );
        assert!(
            s.contains("touch: not everything arrived within 15 s."),
            "{s}"
        );
    }
}
