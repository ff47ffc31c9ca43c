//! `offerflow migrate`: apply pending migrations, saying which.

use super::Exit;
use store::redact;

pub(super) fn run(url: &str) -> Exit {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Error;
        }
    };
    match runtime.block_on(migrate(url)) {
        Ok(()) => Exit::Success,
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Error
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
