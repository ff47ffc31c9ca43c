//! `offerflow migrate`: apply pending migrations, saying which.

use super::Outcome;
use entities::sea_orm::{ConnectOptions, Database};
use entities::{Migrator, MigratorTrait};
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
    let pending = Migrator::get_pending_migrations(&db).await?;
    if pending.is_empty() {
        println!("{}: up to date", redact(url));
        return Ok(());
    }
    for (i, m) in pending.iter().enumerate() {
        println!("[{}/{}] applying {}", i + 1, pending.len(), m.name());
    }
    Migrator::up(&db, None).await?;
    println!("{}: {} migration(s) applied", redact(url), pending.len());
    Ok(())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn hides_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite:offerflow.db"), "sqlite:offerflow.db");
    }
}
