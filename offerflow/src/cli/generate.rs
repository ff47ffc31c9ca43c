//! `offerflow fixtures generate`: a deterministic synthetic fixture.

use super::Exit;
use replay::generate::{self, Plan};
use std::io::Write;
use std::path::Path;

pub(super) fn run(plan: Plan, out: &Path) -> Exit {
    match write(plan, out) {
        Ok(()) => Exit::Success,
        Err(e) => {
            eprintln!("error: cannot write the fixture to {}: {e}", out.display());
            Exit::Error
        }
    }
}

fn write(plan: Plan, out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let fixture = serde_json::json!({
        "name": format!("generated: {} events, {} customers, seed {}", plan.events, plan.customers, plan.seed),
        "campaigns": generate::campaigns(),
        "events_file": "events.jsonl",
    });
    std::fs::write(
        out.join("fixture.json"),
        serde_json::to_string_pretty(&fixture)? + "\n",
    )?;
    let file = std::fs::File::create(out.join("events.jsonl"))?;
    let mut events = std::io::BufWriter::with_capacity(1 << 20, file);
    generate::write_events(plan, &mut events, &|n| {
        eprintln!("{n} of {} events written", plan.events);
    })?;
    events.flush()?;
    eprintln!(
        "wrote {} and {} ({} events)",
        out.join("fixture.json").display(),
        out.join("events.jsonl").display(),
        plan.events
    );
    Ok(())
}
