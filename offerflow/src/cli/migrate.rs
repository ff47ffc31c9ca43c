//! `offerflow migrate`: apply pending migrations, saying which.

use super::Outcome;
use store::redact;

pub(super) fn run(url: &str) -> Outcome {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Outcome::Error;
        }
    };
    match runtime.block_on(migrate(url)) {
        Ok(()) => Outcome::Success,
        Err(e) => {
            eprintln!("error: {e:#}");
            Outcome::Error
        }
    }
}

async fn migrate(url: &str) -> anyhow::Result<()> {
    let applied = store::migrate(url).await?;
    if applied.is_empty() {
        println!("{}: up to date", redact(url));
        return Ok(());
    }
    for (i, name) in applied.iter().enumerate() {
        println!("[{}/{}] applied {name}", i + 1, applied.len());
    }
    println!("{}: {} migration(s) applied", redact(url), applied.len());
    Ok(())
}
