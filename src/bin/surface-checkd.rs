//! `surface-checkd`: the D-Bus service that keeps the report current.

use clap::Parser;
use surface_check::cli::render::visible;
use surface_check::cli::{EXIT_ERROR, logging};
use surface_check::daemon::{self, Args};

fn main() {
    logging::init("info");
    let args = Args::parse();
    if let Err(e) = daemon::run(args.options()) {
        eprintln!("surface-checkd: {}", visible(&logging::message(&e)));
        std::process::exit(EXIT_ERROR);
    }
}
