//! The `offerflow` command line.
//!
//! Exit codes are the same for every command: 0 success, 1 the input was read and found wrong
//! (an invalid spec), 2 usage or I/O errors.

mod events;
mod generate;
mod keys;
mod migrate;
mod replay;
mod rewards;
mod serve;
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
    /// Run the GraphQL API and HTTP server (embedded SQLite `offerflow.db` by default).
    Serve {
        /// A TOML configuration file (settings are listed in the README).
        #[arg(long, env = "OFFERFLOW_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
        /// The database [default: sqlite:offerflow.db?mode=rwc]; `postgres://...` for PostgreSQL.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Print the GraphQL schema (SDL): what `frontend-schema.graphql` holds.
    Schema,
    /// API keys: create (the secret is printed once), list, revoke.
    Keys {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Validate campaign specs (YAML or JSON files, or directories of them).
    Validate {
        /// Spec files, or directories searched for *.yaml, *.yml and *.json.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// Output format: `text`, compiler-style lines with the offending source line; `json`,
        /// one JSON document listing every spec's diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Text, hide_possible_values = true)]
        format: Format,
    },
    /// Replay QA fixtures through the real engine and storage, and compare with `expect`.
    Replay {
        /// Fixture files (YAML or JSON).
        #[arg(required = true, value_name = "FIXTURE")]
        fixtures: Vec<PathBuf>,
        /// Use this database as it is (resume) instead of a fresh in-memory one.
        #[arg(long)]
        database_url: Option<String>,
        /// Output format: `text`, a readable report with progress and a diff against `expect`;
        /// `json`, one JSON object per fixture (events by outcome, issued rewards, passed,
        /// mismatches).
        #[arg(long, value_enum, default_value_t = Format::Text, hide_possible_values = true)]
        format: Format,
        /// Also write a JUnit XML report here.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Events onto the NATS JetStream stream the servers consume.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// The reward ledger.
    Rewards {
        #[command(subcommand)]
        command: RewardsCommand,
    },
    /// Synthetic fixtures.
    Fixtures {
        #[command(subcommand)]
        command: FixturesCommand,
    },
    /// Apply pending database migrations (the server and replays also do this when they start).
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// The database of a command that works on one: from `--database-url`, else the configuration
/// `serve` reads (the `--config` file, then `OFFERFLOW_*` variables), else the default.
#[derive(Debug, clap::Args)]
struct DatabaseArgs {
    /// A TOML configuration file, as `serve` reads it (its `database_url` is used).
    #[arg(long, env = "OFFERFLOW_CONFIG", value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The database [default: the configuration's, else sqlite:offerflow.db?mode=rwc];
    /// `postgres://...` for PostgreSQL.
    #[arg(long, value_name = "URL", global = true)]
    database_url: Option<String>,
}

impl DatabaseArgs {
    /// The database URL, by the configuration loader's rule; a bad configuration is named.
    fn url(&self) -> Option<String> {
        let flags = api::config::Flags {
            listen: None,
            database_url: self.database_url.clone(),
        };
        match api::config::Config::load(self.config.as_deref(), std::env::vars(), &flags) {
            Ok(config) => Some(config.database_url),
            Err(e) => {
                eprintln!("error: {e}");
                None
            }
        }
    }
}

/// `offerflow events ...`
#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Publish events (NDJSON, one event per line; `-` reads stdin), each with `Nats-Msg-Id`
    /// set to its id. The NATS settings come from the configuration `serve` reads.
    Publish {
        /// The NDJSON file, or `-`.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// A TOML configuration file, as `serve` reads it (its `nats_*` settings are used).
        #[arg(long, env = "OFFERFLOW_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
        /// The NATS server [default: the configuration's `nats_url`, else nats://127.0.0.1:4222].
        #[arg(long, value_name = "URL")]
        nats_url: Option<String>,
        /// The subject [default: one under the configuration's `nats_subject`,
        /// `offerflow.events.published`].
        #[arg(long)]
        subject: Option<String>,
    },
}

/// `offerflow rewards ...`
#[derive(Debug, Subcommand)]
enum RewardsCommand {
    /// Write the whole ledger as JSON lines.
    Export {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// `offerflow keys ...`
#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key and print it (to stdout, once).
    Create {
        /// A name for people, recorded in the audit log as the actor.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: admin, author, ingest, read.
        #[arg(long)]
        scopes: String,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke {
        /// The key's id (`of_<id>_...`).
        id: String,
    },
}

/// `offerflow fixtures ...`
#[derive(Debug, Subcommand)]
enum FixturesCommand {
    /// Write a deterministic synthetic fixture (fixture.json and events.jsonl) for load tests.
    Generate {
        /// Distinct customers.
        #[arg(long, default_value_t = 1_000)]
        customers: u64,
        /// Events.
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        /// Seed: the same seed writes the same fixture.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Directory to write into.
        #[arg(long, default_value = "generated-fixture")]
        out: PathBuf,
    },
}

/// How a command prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For programs.
    Json,
}

/// How a command ended, mapped to the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything checked out.
    Success,
    /// The input was read and found wrong.
    Invalid,
    /// Usage or I/O error.
    Error,
}

impl From<Exit> for ExitCode {
    fn from(o: Exit) -> Self {
        ExitCode::from(match o {
            Exit::Success => 0,
            Exit::Invalid => 1,
            Exit::Error => 2,
        })
    }
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve {
            config,
            listen,
            database_url,
        } => serve::run(
            config.as_deref(),
            &api::config::Flags {
                listen,
                database_url,
            },
        ),
        Command::Keys { database, command } => {
            let Some(database_url) = database.url() else {
                return Exit::Error.into();
            };
            keys::run(
                &database_url,
                match command {
                    KeysCommand::Create { name, scopes } => {
                        keys::KeysAction::Create { name, scopes }
                    }
                    KeysCommand::List => keys::KeysAction::List,
                    KeysCommand::Revoke { id } => keys::KeysAction::Revoke { id },
                },
            )
        }
        Command::Schema => {
            print!("{}", api::graphql::sdl());
            Exit::Success
        }
        Command::Validate { paths, format } => validate::run(&paths, format),
        Command::Migrate { database } => match database.url() {
            Some(url) => migrate::run(&url),
            None => Exit::Error,
        },
        Command::Replay {
            fixtures,
            database_url,
            format,
            junit,
        } => replay::run(&fixtures, database_url.as_deref(), format, junit.as_deref()),
        Command::Events {
            command:
                EventsCommand::Publish {
                    file,
                    config,
                    nats_url,
                    subject,
                },
        } => {
            let flags = api::config::Flags::default();
            let c = match api::config::Config::load(config.as_deref(), std::env::vars(), &flags) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Exit::Error.into();
                }
            };
            let url = nats_url
                .or((!c.nats_url.is_empty()).then(|| c.nats_url.clone()))
                .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
            let target = events::Target {
                url,
                subject: subject.unwrap_or_else(|| events::default_subject(&c.nats_subject)),
                stream: c.nats_stream,
                stream_subjects: c.nats_subject,
            };
            events::publish(&file, &target)
        }
        Command::Rewards {
            command: RewardsCommand::Export { database },
        } => match database.url() {
            Some(url) => rewards::export(&url),
            None => Exit::Error,
        },
        Command::Fixtures {
            command:
                FixturesCommand::Generate {
                    customers,
                    events,
                    seed,
                    out,
                },
        } => generate::run(
            ::replay::generate::Plan {
                customers,
                events,
                seed,
            },
            &out,
        ),
    };
    outcome.into()
}
