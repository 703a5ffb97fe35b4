//! surface-check: a hardware-health and driver diagnostic for the Microsoft Surface
//! Book 2 on Linux.
//!
//! Data flows one way: [`facts::collect`] reads the host through a [`root::Root`]
//! (the only I/O), [`checks::diagnose`] turns [`facts::Facts`] into a
//! [`report::Report`] (pure), and the renderers in [`cli`] print it; [`daemon`]
//! (`surface-checkd`) keeps a report current and publishes it over [`dbus`]. See
//! `docs/architecture.md`.

pub mod bundle;
pub mod checks;
pub mod cli;
pub mod daemon;
pub mod dbus;
pub mod docs;
pub mod facts;
pub mod history;
pub mod livetest;
pub mod metrics;
pub mod preflight;
pub mod profiles;
pub mod report;
pub mod root;
