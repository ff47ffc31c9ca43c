//! `offerflow serve`: the GraphQL API and HTTP server.

use super::Exit;
use api::app::{App, Worker};
use api::config::{Config, Flags, LogFormat};
use futures_util::future::BoxFuture;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub(super) fn run(config_file: Option<&Path>, flags: &Flags) -> Exit {
    let config = match Config::load(config_file, std::env::vars(), flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Error;
        }
    };
    init_logs(&config);
    for warning in Config::unknown_variables(std::env::vars()) {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Error;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => Exit::Success,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            Exit::Error
        }
    }
}

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
    // Colours only for a terminal: a log file or collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr()?;
    let database = store::redact(&config.database_url);
    let app = App::start(config).await?;
    match app.bootstrap_admin().await {
        Ok(Some(key)) => {
            tracing::warn!(id = %key.key.id, "no admin API key existed: created one (printed once on stderr)");
            eprintln!(
                "\nThis database had no admin API key, so one was created. It is shown this once; store it now:\n\n    {}\n\nSend it as `Authorization: Bearer <key>`. Create narrower keys with the createApiKey mutation or `offerflow keys create`.\n",
                key.secret
            );
        }
        Ok(None) => {}
        Err(e) => anyhow::bail!("cannot check the API keys: {e}"),
    }
    if !app.config().auth {
        tracing::warn!(
            "auth = false: every request is allowed everything; never expose this server"
        );
    }
    if !app.config().nats_url.is_empty() {
        let source = start_source(&app).await?;
        app.add_worker(source);
    }
    tracing::info!(%address, %database, node = %app.node(), "offerflow is serving");
    eprintln!(
        "offerflow listening on http://{address} (console at http://{address}/console, GraphiQL at http://{address}/graphql), database {database}"
    );
    api::server::serve(listener, app, shutdown_signal()).await?;
    tracing::info!("offerflow stopped: every accepted event is committed");
    Ok(())
}

/// The NATS JetStream event source (DESIGN §8), feeding the server's own ingestion.
async fn start_source(app: &App) -> anyhow::Result<Arc<dyn Worker>> {
    let c = app.config();
    let config = sources::NatsConfig {
        url: c.nats_url.clone(),
        stream: c.nats_stream.clone(),
        subject: c.nats_subject.clone(),
        consumer: c.nats_consumer.clone(),
        ack_wait: Duration::from_millis(c.nats_ack_wait_ms),
        batch: c.nats_batch,
        partitions: c.nats_partitions,
    };
    let ingest_app = app.clone();
    let ingest: sources::Ingest = Arc::new(move |events| {
        let app = ingest_app.clone();
        Box::pin(async move { app.ingest(events).await.map_err(|e| e.to_string()) })
    });
    let source = sources::NatsSource::start(
        config.clone(),
        app.store().clone(),
        ingest,
        app.node().to_owned(),
    )
    .await?;
    tracing::info!(url = %config.url, stream = %config.stream, partitions = config.partitions, "consuming events from NATS JetStream");
    Ok(Arc::new(Source(source)))
}

/// The source as the server's worker.
#[derive(Debug)]
struct Source(sources::NatsSource);

impl Worker for Source {
    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.0.register_metrics(registry);
    }

    fn readiness(&self) -> Result<(), String> {
        self.0.readiness()
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.0.shutdown())
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests and the batch in flight");
}
