//! `man` and `completions`: the manual page and shell completion scripts,
//! generated from the same argument definitions as `--help`, so they never
//! disagree with the binary.

use std::io::Write as _;

use clap::CommandFactory;

use crate::args::Cli;
use crate::{EXIT_IO, EXIT_OK};

pub(crate) fn man() -> u8 {
    let mut page = Vec::new();
    if let Err(error) = clap_mangen::Man::new(Cli::command()).render(&mut page) {
        eprintln!("privatelink-dns: cannot render the manual page: {error}");
        return EXIT_IO;
    }
    // The page lists the subcommands; their own options follow each.
    for sub in Cli::command().get_subcommands() {
        let _ = writeln!(
            page,
            ".SH \"PRIVATELINK-DNS-{}\"\n{}",
            sub.get_name().to_uppercase(),
            sub.get_about().map(ToString::to_string).unwrap_or_default()
        );
        if let Err(error) = clap_mangen::Man::new(sub.clone()).render_options_section(&mut page) {
            eprintln!("privatelink-dns: cannot render the manual page: {error}");
            return EXIT_IO;
        }
    }
    let _ = std::io::stdout().write_all(&page);
    EXIT_OK
}

pub(crate) fn completions(shell: clap_complete::Shell) -> u8 {
    let mut command = Cli::command();
    clap_complete::generate(
        shell,
        &mut command,
        "privatelink-dns",
        &mut std::io::stdout(),
    );
    EXIT_OK
}
