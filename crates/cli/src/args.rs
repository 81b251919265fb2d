//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// DNS server for Azure Private Link zones.
///
/// Answers privatelink names (Backup, Storage, Key Vault, …) from a mapping
/// file with Azure-shaped answers, and forwards every other name.
#[derive(Debug, Parser)]
#[command(name = "privatelink-dns", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,

    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    /// Log level (error, warn, info, debug, trace); RUST_LOG overrides it.
    #[arg(long, global = true, default_value = "info")]
    pub(crate) log_level: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the DNS server.
    Serve {
        /// The mapping and settings file (TOML); reloaded on change and on SIGHUP.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// Address to serve UDP and TCP on; repeat for several. Replaces `server.listen`.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Vec<SocketAddr>,
        /// Address of the HTTP endpoint (the status page at /, /api/v1/*, /metrics, /healthz, /readyz). Replaces `server.http`.
        #[arg(long, value_name = "ADDR:PORT")]
        http: Option<SocketAddr>,
    },
    /// Validate a mapping file and explain every problem.
    Check {
        /// The mapping and settings file to validate.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
    },
    /// Turn Azure CLI output or a hosts file into mapping entries (on stdout).
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Print the missing records a running server saw asked for, as TOML to paste.
    Missing {
        /// The server's HTTP endpoint (`server.http`).
        #[arg(long, value_name = "ADDR:PORT")]
        http: SocketAddr,
        /// The server's `server.http_token`, when it has one.
        #[arg(long)]
        token: Option<String>,
    },
    /// Print a running server's status: mapping, zones, upstreams, cache, reloads.
    Status {
        /// The server's HTTP endpoint (`server.http`).
        #[arg(long, value_name = "ADDR:PORT")]
        http: SocketAddr,
        /// The server's `server.http_token`, when it has one.
        #[arg(long)]
        token: Option<String>,
    },
    /// Print the built-in catalogue of Azure Private Link zones, with each
    /// zone's service, public twins and status on Microsoft's list.
    Zones {
        /// Only this cloud's zones.
        #[arg(long, value_enum)]
        cloud: Option<CloudArg>,
        #[arg(long, value_enum, default_value_t = ZonesFormat::Table)]
        format: ZonesFormat,
    },
    /// Print the manual page (roff) on stdout: `privatelink-dns man > privatelink-dns.1`.
    Man,
    /// Print a shell completion script on stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print every record the file would serve.
    Records {
        /// The mapping and settings file.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = RecordsFormat::Table)]
        format: RecordsFormat,
        /// Print what the clients of this `[[view]]` are served, whole.
        /// Without it, table and JSON show the top level and then the
        /// records each view changes or adds; zone and hosts the top level.
        #[arg(long, value_name = "NAME")]
        view: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImportSource {
    /// JSON from `az network private-endpoint show|list`, `az network
    /// private-endpoint dns-zone-group show|list` or `az network private-dns
    /// record-set a list`, in any mix; `-` reads standard input (pipe `az`
    /// straight in).
    AzureCli {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// A hosts file (`ADDRESS NAME…` lines); `-` reads standard input.
    Hosts {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CloudArg {
    /// Azure public cloud.
    Public,
    /// Azure Government.
    Usgov,
    /// Azure operated by 21Vianet.
    China,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ZonesFormat {
    /// One line per zone: cloud, zone, status, twins, service.
    Table,
    /// An array of {cloud, zone, twins, status, service, subresources}.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RecordsFormat {
    /// Aligned columns, one zone after another.
    Table,
    /// An array of {zone, name, type, ttl, value}.
    Json,
    /// One BIND zone file per zone.
    Zone,
    /// A hosts file.
    Hosts,
}
