//! The `offerflow` command line.
//!
//! Exit codes are the same for every command: 0 success, 1 the input was read and found wrong
//! (an invalid spec), 2 usage or I/O errors.

mod migrate;
mod validate;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Offerflow: a gamification offer engine.
#[derive(Debug, Parser)]
#[command(
    name = "offerflow",
    version,
    about = "Offerflow: a gamification offer engine"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate campaign specs (YAML or JSON files, or directories of them).
    Validate {
        /// Spec files, or directories searched for *.yaml, *.yml and *.json.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Apply pending database migrations (the server and replays also do this when they start).
    Migrate {
        /// The database: `sqlite:offerflow.db?mode=rwc` or `postgres://user@host/db`.
        #[arg(long, env = "OFFERFLOW_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
        database_url: String,
    },
}

/// The embedded database a fresh install uses.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:offerflow.db?mode=rwc";

/// How a command prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: compiler-style lines with the offending source line.
    Text,
    /// For programs: one JSON document.
    Json,
}

/// Outcome of a command, mapped to the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything checked out.
    Success,
    /// The input was read and found wrong.
    Invalid,
    /// Usage or I/O error.
    Error,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        ExitCode::from(match o {
            Outcome::Success => 0,
            Outcome::Invalid => 1,
            Outcome::Error => 2,
        })
    }
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Validate { paths, format } => validate::run(&paths, format),
        Command::Migrate { database_url } => migrate::run(&database_url),
    };
    outcome.into()
}
