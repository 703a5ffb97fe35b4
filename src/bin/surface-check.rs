//! `surface-check`: the command people run after a reboot.

use clap::Parser;
use surface_check::cli::render::visible;
use surface_check::cli::{Cli, EXIT_ERROR, logging, run};

fn main() {
    // Die quietly on a closed pipe (`surface-check | head`), as Unix filters do.
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    logging::init("warn");
    // clap exits 2 on usage errors itself.
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // The message may quote the machine's data (a path, a value from a
            // capture): written visibly, as the report is.
            eprintln!("surface-check: {}", visible(&logging::message(&e)));
            EXIT_ERROR
        }
    };
    std::process::exit(code);
}
