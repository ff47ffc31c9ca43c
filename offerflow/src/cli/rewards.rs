//! `offerflow rewards export`: the whole ledger as JSON lines, for reconciliation.

use super::Exit;
use std::io::Write;
use store::Store;

pub(super) fn export(database_url: &str) -> Exit {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Error;
        }
    };
    let rows = match runtime
        .block_on(async { Store::open_existing(database_url).await?.rewards().await })
    {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Error;
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for r in rows {
        let reward = &r.reward;
        let line = serde_json::json!({
            "id": r.id,
            "customer_id": reward.customer_id,
            "campaign": reward.campaign,
            "event_id": reward.event_id,
            "cycle": reward.cycle,
            "kind": reward.kind,
            "amount": reward.amount.to_json(),
            "issued_at": r.issued_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        });
        if writeln!(out, "{line}").is_err() {
            return Exit::Error;
        }
    }
    if out.flush().is_err() {
        return Exit::Error;
    }
    Exit::Success
}
