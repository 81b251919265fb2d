//! `privatelink-dns`: the command line. Each subcommand lives in its own
//! module; this file sets up logging and maps outcomes to exit codes
//! (0 success, 1 invalid input, 2 usage or I/O error).

mod args;
mod check;
mod docs;
mod import;
mod records;
mod remote;
mod serve;
mod zones;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use args::{Cli, Command, LogFormat};

/// mimalloc instead of glibc's malloc: the miss path allocates and frees
/// per query (tasks, messages, cache entries) across threads, and glibc's
/// malloc and free were 12 % of its CPU time (perf, `bench/misses.py
/// --profile`). Without transparent huge pages (`no_thp`): with them,
/// mimalloc's first segments took 13 MB more resident memory at start.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for a valid run.
const EXIT_OK: u8 = 0;
/// Exit code for invalid input (a mapping file with errors).
const EXIT_INVALID: u8 = 1;
/// Exit code for usage and I/O errors.
const EXIT_IO: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, &cli.log_level);
    let code = match cli.command {
        Command::Serve {
            config,
            listen,
            http,
        } => serve::run(&config, listen, http, cli.log_format),
        Command::Check { config, strict } => check::run(&config, strict),
        Command::Import { source } => import::run(&source),
        Command::Missing { http, token } => remote::missing(http, token.as_deref()),
        Command::Status { http, token } => remote::status(http, token.as_deref()),
        Command::Zones { cloud, format } => zones::run(cloud, format),
        Command::Man => docs::man(),
        Command::Completions { shell } => docs::completions(shell),
        Command::Records {
            config,
            format,
            view,
        } => records::run(&config, format, view.as_deref()),
    };
    ExitCode::from(code)
}

/// Logs go to stderr; stdout is for command output (`check`, `records`).
/// hickory-server logs two lines per request at info; it is held to warn
/// unless RUST_LOG asks otherwise.
fn init_logging(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},hickory_server=warn,hickory_proto=warn,hickory_net=warn"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
