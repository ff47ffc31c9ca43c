//! `offerflow keys create|list|revoke`: API keys, on the configured database.

use super::Exit;
use api::auth::{Keys, Scope};
use store::Store;

/// What to do.
#[derive(Debug)]
pub(super) enum KeysAction {
    Create { name: String, scopes: String },
    List,
    Revoke { id: String },
}

pub(super) fn run(database_url: &str, action: KeysAction) -> Exit {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Error;
        }
    };
    runtime.block_on(async {
        // Creating a key may create the database (a first step before `serve`); listing and
        // revoking need one that exists, so that a mistyped path is named, not created empty.
        let opened = match action {
            KeysAction::Create { .. } => Store::connect(database_url).await,
            _ => Store::open_existing(database_url).await,
        };
        let store = match opened {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Error;
            }
        };
        let keys = Keys::new(store);
        match action {
            KeysAction::Create { name, scopes } => {
                let scopes = match Scope::parse_list(&scopes) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("error: --scopes: {e}");
                        return Exit::Error;
                    }
                };
                match keys.create(&name, &scopes).await {
                    Ok(k) => {
                        eprintln!(
                            "created API key {} ({}) with scopes {} in {}; it is shown once, store it now:",
                            k.key.id,
                            k.key.name,
                            names(&k.key.scopes),
                            store::redact(database_url)
                        );
                        println!("{}", k.secret);
                        Exit::Success
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        Exit::Error
                    }
                }
            }
            KeysAction::List => match keys.list().await {
                Ok(list) => {
                    println!("{:<14} {:<24} {:<28} {:<26} revoked", "id", "name", "scopes", "created");
                    for k in list {
                        let revoked = k.revoked_at.map_or("-".to_owned(), |t| t.to_rfc3339());
                        println!(
                            "{:<14} {:<24} {:<28} {:<26} {revoked}",
                            k.id,
                            k.name,
                            names(&k.scopes),
                            k.created_at.to_rfc3339()
                        );
                    }
                    Exit::Success
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Exit::Error
                }
            },
            KeysAction::Revoke { id } => match keys.revoke(&id).await {
                Ok(k) => {
                    eprintln!("revoked API key {} ({})", k.id, k.name);
                    Exit::Success
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Exit::Error
                }
            },
        }
    })
}

fn names(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
