//! `offerflow replay FIXTURE...`: replays fixtures through the real engine and storage.

use super::{Format, Outcome};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use replay::{ReplayError, Report};
use std::io::Write;
use std::path::{Path, PathBuf};
use store::Store;

pub(super) fn run(
    fixtures: &[PathBuf],
    database_url: Option<&str>,
    format: Format,
    junit: Option<&Path>,
) -> Outcome {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Outcome::Error;
        }
    };
    runtime.block_on(replay_all(fixtures, database_url, format, junit))
}

/// One fixture's fate.
enum Fate {
    Ran(Report),
    Failed { file: String, error: String },
}

async fn replay_all(
    fixtures: &[PathBuf],
    database_url: Option<&str>,
    format: Format,
    junit: Option<&Path>,
) -> Outcome {
    let shared = match database_url {
        Some(url) => match Store::connect(url).await {
            Ok(store) => Some(store),
            Err(e) => {
                eprintln!("error: {e}");
                return Outcome::Error;
            }
        },
        None => None,
    };
    let mut fates = Vec::new();
    for path in fixtures {
        let fate = match replay_one(path, shared.as_ref()).await {
            Ok(report) => Fate::Ran(report),
            Err(error) => Fate::Failed {
                file: path.display().to_string(),
                error,
            },
        };
        let mut out = std::io::stdout().lock();
        let _ = match (&fate, format) {
            (Fate::Ran(report), Format::Json) => serde_json::to_writer(&mut out, report)
                .map_err(std::io::Error::other)
                .and_then(|()| writeln!(out)),
            (Fate::Ran(report), Format::Text) => print_report(&mut out, report),
            (Fate::Failed { error, .. }, _) => {
                eprintln!("error: {error}");
                Ok(())
            }
        };
        fates.push(fate);
    }
    if let Some(path) = junit
        && let Err(e) = std::fs::write(path, junit_xml(&fates))
    {
        eprintln!("error: cannot write {}: {e}", path.display());
        return Outcome::Error;
    }
    let failed = fates
        .iter()
        .filter(|f| matches!(f, Fate::Failed { .. }))
        .count();
    let mismatched = fates
        .iter()
        .filter(|f| matches!(f, Fate::Ran(r) if !r.passed))
        .count();
    if format == Format::Text && fates.len() > 1 {
        println!(
            "{} fixtures: {} passed, {mismatched} failed, {failed} could not run",
            fates.len(),
            fates.len() - mismatched - failed
        );
    }
    if failed > 0 {
        Outcome::Error
    } else if mismatched > 0 {
        Outcome::Invalid
    } else {
        Outcome::Success
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

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn junit_xml(fates: &[Fate]) -> String {
    let failures = fates
        .iter()
        .filter(|f| matches!(f, Fate::Ran(r) if !r.passed))
        .count();
    let errors = fates
        .iter()
        .filter(|f| matches!(f, Fate::Failed { .. }))
        .count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(&format!(
        "<testsuites><testsuite name=\"offerflow replay\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\">\n",
        fates.len()
    ));
    for fate in fates {
        match fate {
            Fate::Ran(r) => {
                s.push_str(&format!(
                    "  <testcase classname=\"replay\" name=\"{}\" file=\"{}\">",
                    xml(&r.name),
                    xml(&r.fixture)
                ));
                if !r.passed {
                    let first = r.mismatches.first().cloned().unwrap_or_default();
                    s.push_str(&format!(
                        "<failure message=\"{}\">{}</failure>",
                        xml(&first),
                        xml(&r.mismatches.join("\n"))
                    ));
                }
                s.push_str("</testcase>\n");
            }
            Fate::Failed { file, error } => {
                s.push_str(&format!(
                    "  <testcase classname=\"replay\" name=\"{}\" file=\"{}\"><error message=\"{}\"/></testcase>\n",
                    xml(file),
                    xml(file),
                    xml(error)
                ));
            }
        }
    }
    s.push_str("</testsuite></testsuites>\n");
    s
}
