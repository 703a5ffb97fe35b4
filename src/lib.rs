//! surface-check: a hardware-health and driver diagnostic for the Microsoft Surface
//! Book 2 on Linux.
//!
//! Data flows one way: [`facts::collect`] reads the host through a [`root::Root`]
//! (the only I/O), [`checks::diagnose`] turns [`facts::Facts`] into a
//! [`report::Report`] (pure), and the renderers in [`cli`] print it. See
//! `docs/architecture.md`.

pub mod checks;
pub mod cli;
pub mod docs;
pub mod facts;
pub mod livetest;
pub mod profiles;
pub mod report;
pub mod root;
