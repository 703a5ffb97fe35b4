//! `surface-check`: the command people run after a reboot.

use clap::Parser;
use surface_check::cli::{Cli, EXIT_ERROR, run};

fn main() {
    // Die quietly on a closed pipe (`surface-check | head`), as Unix filters do.
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SURFACE_CHECK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    // clap exits 2 on usage errors itself.
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("surface-check: {e:#}");
            EXIT_ERROR
        }
    };
    std::process::exit(code);
}
