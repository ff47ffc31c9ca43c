//! `offerflow events publish FILE`: events (NDJSON) onto the NATS JetStream stream the servers
//! consume, each with `Nats-Msg-Id` set to its id, with progress.

use super::Exit;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishAckFuture};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;

/// Publishes awaited for their acks at once, at most: enough to keep the connection busy.
const IN_FLIGHT: usize = 512;

/// Where and how to publish.
#[derive(Debug)]
pub(super) struct Target {
    pub url: String,
    pub stream: String,
    pub stream_subjects: String,
    pub subject: String,
}

/// The subject to publish on when none is given: one under the stream's subjects
/// (`offerflow.events.>` gives `offerflow.events.published`).
pub(super) fn default_subject(stream_subjects: &str) -> String {
    match stream_subjects
        .strip_suffix('>')
        .or_else(|| stream_subjects.strip_suffix('*'))
    {
        Some(prefix) => format!("{prefix}published"),
        None => stream_subjects.to_owned(),
    }
}

pub(super) fn publish(file: &Path, target: &Target) -> Exit {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Error;
        }
    };
    match runtime.block_on(run(file, target)) {
        Ok((published, without_id)) => {
            eprintln!(
                "published {published} messages to {} ({})",
                target.subject, target.stream
            );
            if without_id > 0 {
                eprintln!(
                    "{without_id} lines had no readable `id`: published without Nats-Msg-Id (the servers will reject them)"
                );
            }
            Exit::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Error
        }
    }
}

async fn run(file: &Path, target: &Target) -> Result<(u64, u64), String> {
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
        Box::new(std::io::BufReader::new(f))
    };
    let client = async_nats::connect(&target.url)
        .await
        .map_err(|e| format!("cannot connect to NATS at {}: {e}", target.url))?;
    let js = jetstream::new(client);
    js.get_or_create_stream(jetstream::stream::Config {
        name: target.stream.clone(),
        subjects: vec![target.stream_subjects.clone()],
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("cannot open the stream {}: {e}", target.stream))?;
    // Drawn on stderr only when it is a terminal.
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} published, {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut acks: VecDeque<(usize, PublishAckFuture)> = VecDeque::new();
    let (mut published, mut without_id) = (0u64, 0u64);
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let id = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("id")?.as_str().map(str::to_owned));
        let mut headers = HeaderMap::new();
        match id {
            Some(id) => headers.insert("Nats-Msg-Id", id.as_str()),
            None => without_id += 1,
        }
        let ack = js
            .publish_with_headers(target.subject.clone(), headers, line.into_bytes().into())
            .await
            .map_err(|e| format!("line {}: cannot publish: {e}", n + 1))?;
        acks.push_back((n + 1, ack));
        if acks.len() >= IN_FLIGHT {
            published += settle(&mut acks, IN_FLIGHT / 2).await?;
            bar.set_position(published);
        }
    }
    published += settle(&mut acks, 0).await?;
    bar.finish_and_clear();
    Ok((published, without_id))
}

/// Awaits acks until at most `keep` are left; how many were acked.
async fn settle(
    acks: &mut VecDeque<(usize, PublishAckFuture)>,
    keep: usize,
) -> Result<u64, String> {
    let mut done = 0;
    while acks.len() > keep {
        let Some((line, ack)) = acks.pop_front() else {
            break;
        };
        ack.await
            .map_err(|e| format!("line {line}: JetStream did not store it: {e}"))?;
        done += 1;
    }
    Ok(done)
}
