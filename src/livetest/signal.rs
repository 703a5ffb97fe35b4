//! Ctrl-C (SIGINT) and SIGTERM during a test: the wait ends and the summary of what
//! arrived is still written.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether SIGINT or SIGTERM came since [`Guard::install`].
pub fn interrupted() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Catches SIGINT and SIGTERM while alive (without `SA_RESTART`, so a waiting `poll`
/// returns `EINTR` at once); the previous handlers come back when dropped.
pub struct Guard {
    old: [(libc::c_int, libc::sigaction); 2],
}

impl Guard {
    pub fn install() -> Guard {
        STOP.store(false, Ordering::SeqCst);
        // SAFETY: zeroed sigaction structs are valid; the handler only stores to an
        // atomic, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = 0;
            libc::sigemptyset(&mut sa.sa_mask);
            let mut old = [
                (libc::SIGINT, std::mem::zeroed()),
                (libc::SIGTERM, std::mem::zeroed()),
            ];
            for (sig, o) in old.iter_mut() {
                libc::sigaction(*sig, &sa, o);
            }
            Guard { old }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for (sig, o) in &self.old {
            // SAFETY: restores the disposition saved by `install`.
            unsafe {
                libc::sigaction(*sig, o, std::ptr::null_mut());
            }
        }
    }
}
