//! `offerflow migrate`: apply pending migrations, saying which.

use super::Outcome;
use engine::redact;
use entities::sea_orm::{ConnectOptions, Database};
use std::time::Duration;

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
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5));
    let db = Database::connect(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {}: {e}", redact(url)))?;
    let applied = entities::migrate(&db).await?;
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
