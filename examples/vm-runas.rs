//! Runs a program as another user, for the real-kernel test (`tests/vm.rs`): drops
//! every supplementary group, then sets the group and user ids (real, effective and
//! saved) and executes the program. Linux only; needs to run as root.
//!
//! Usage: `vm-runas UID GID PROGRAM [ARG...]`.

use std::ffi::CString;

fn fail(what: impl std::fmt::Display) -> ! {
    eprintln!("VM-RUNAS error {what}");
    std::process::exit(126);
}

fn id(s: Option<&String>, what: &str) -> u32 {
    s.and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        fail(format!(
            "{what}: not a number; usage: vm-runas UID GID PROGRAM [ARG...]"
        ))
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let uid = id(args.first(), "UID");
    let gid = id(args.get(1), "GID");
    if args.len() < 3 {
        fail("no program; usage: vm-runas UID GID PROGRAM [ARG...]");
    }
    let argv: Vec<CString> = args[2..]
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap_or_else(|_| fail("an argument holds NUL")))
        .collect();
    // SAFETY: plain system calls on integers; the groups list is empty.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            fail(format!("setgroups: {}", std::io::Error::last_os_error()));
        }
        if libc::setresgid(gid, gid, gid) != 0 {
            fail(format!("setresgid: {}", std::io::Error::last_os_error()));
        }
        if libc::setresuid(uid, uid, uid) != 0 {
            fail(format!("setresuid: {}", std::io::Error::last_os_error()));
        }
    }
    // The drop must have taken: root could otherwise regain its ids.
    // SAFETY: plain system calls.
    unsafe {
        if libc::getuid() != uid || libc::geteuid() != uid || libc::getegid() != gid {
            fail("the ids did not change");
        }
        if libc::setuid(0) == 0 {
            fail("root could be regained");
        }
    }
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: a NUL-terminated argv of C strings that outlive the call.
    unsafe { libc::execvp(ptrs[0], ptrs.as_ptr()) };
    fail(format!("{}: {}", args[2], std::io::Error::last_os_error()));
}
