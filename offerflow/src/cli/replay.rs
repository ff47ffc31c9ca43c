//! `offerflow replay FIXTURE...`: replays fixtures through the real engine and storage.

use super::{Exit, Format};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use replay::{FixtureRun, ReplayError, Report, junit_xml};
use std::io::Write;
use std::path::{Path, PathBuf};
use store::Store;

pub(super) fn run(
    fixtures: &[PathBuf],
    database_url: Option<&str>,
    format: Format,
    junit: Option<&Path>,
) -> Exit {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Error;
        }
    };
    runtime.block_on(replay_all(fixtures, database_url, format, junit))
}

async fn replay_all(
    fixtures: &[PathBuf],
    database_url: Option<&str>,
    format: Format,
    junit: Option<&Path>,
) -> Exit {
    let shared = match database_url {
        Some(url) => match Store::connect(url).await {
            Ok(store) => Some(store),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Error;
            }
        },
        None => None,
    };
    let mut runs = Vec::new();
    for path in fixtures {
        let run = match replay_one(path, shared.as_ref()).await {
            Ok(report) => FixtureRun::Ran(report),
            Err(error) => FixtureRun::Failed {
                file: path.display().to_string(),
                error,
            },
        };
        let mut out = std::io::stdout().lock();
        let _ = match (&run, format) {
            (FixtureRun::Ran(report), Format::Json) => serde_json::to_writer(&mut out, report)
                .map_err(std::io::Error::other)
                .and_then(|()| writeln!(out)),
            (FixtureRun::Ran(report), Format::Text) => print_report(&mut out, report),
            (FixtureRun::Failed { error, .. }, _) => {
                eprintln!("error: {error}");
                Ok(())
            }
        };
        runs.push(run);
    }
    if let Some(path) = junit {
        let written = junit_xml(&runs)
            .map_err(|e| e.to_string())
            .and_then(|xml| std::fs::write(path, xml).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", path.display());
            return Exit::Error;
        }
    }
    let failed = runs
        .iter()
        .filter(|f| matches!(f, FixtureRun::Failed { .. }))
        .count();
    let mismatched = runs
        .iter()
        .filter(|f| matches!(f, FixtureRun::Ran(r) if !r.passed))
        .count();
    if format == Format::Text && runs.len() > 1 {
        println!(
            "{} fixtures: {} passed, {mismatched} failed, {failed} could not run",
            runs.len(),
            runs.len() - mismatched - failed
        );
    }
    if failed > 0 {
        Exit::Error
    } else if mismatched > 0 {
        Exit::Invalid
    } else {
        Exit::Success
    }
}

async fn replay_one(path: &Path, shared: Option<&Store>) -> Result<Report, String> {
    let fixture = replay::load(path).map_err(|e| e.to_string())?;
    let fresh;
    let store = match shared {
        Some(store) => store,
        None => {
            fresh = Store::connect("sqlite::memory:")
                .await
                .map_err(|e| e.to_string())?;
            &fresh
        }
    };
    let total = replay::count_events(&fixture);
    // Drawn on stderr only when it is a terminal; a pipe or CI log sees nothing.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} events, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(fixture.name.clone());
    let result = replay::replay(&fixture, store, &|done| bar.set_position(done)).await;
    bar.finish_and_clear();
    result.map_err(|e| match e {
        ReplayError::Fixture(f) => f.to_string(),
        ReplayError::Engine(e) => format!("{}: {e}", fixture.file),
    })
}

fn print_report(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(out, "{} ({})", r.name, r.fixture)?;
    writeln!(
        out,
        "  {} events: {} processed, {} duplicate, {} rejected",
        r.total, r.events.processed, r.events.duplicate, r.events.rejected
    )?;
    for refusal in &r.refusals {
        let field = if refusal.field.is_empty() {
            String::new()
        } else {
            format!("{}: ", refusal.field)
        };
        writeln!(
            out,
            "  rejected `{}` (line {}): {field}{}",
            refusal.event_id, refusal.line, refusal.reason
        )?;
    }
    for e in &r.evaluation_errors {
        writeln!(
            out,
            "  evaluation errors in `{}`: {} (counted as false; first: {})",
            e.campaign, e.count, e.first
        )?;
    }
    let per: Vec<String> = r
        .per_campaign
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    writeln!(
        out,
        "  rewards issued: {} ({})",
        r.rewards.len(),
        per.join(", ")
    )?;
    if r.passed {
        writeln!(out, "  PASS")
    } else {
        writeln!(out, "  FAIL")?;
        for m in &r.mismatches {
            writeln!(out, "    {m}")?;
        }
        Ok(())
    }
}
