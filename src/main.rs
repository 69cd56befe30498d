//! The `pixtape` binary: parse flags, call the library through `cli`, map
//! the outcome to an exit code. Everything else lives in `cli` and the
//! library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

// Decode workers, the catalog's parse workers and the writer allocate on one
// thread and free on another; glibc's allocator spends a third of a
// parallel catalog parse consolidating and unlinking those chunks. mimalloc
// does not (and `cli::tune_allocator` keeps it from returning pages).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::tune_allocator();
    // SAFETY: the first thing the process does after setting an allocator
    // option, before any thread exists.
    unsafe { pixtape::engine::backend::quiet_driver_probe() };
    match cli::dispatch(cli::Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            cli::report_error(&err);
            ExitCode::from(2)
        }
    }
}
