//! One bad event fails only itself (DESIGN §2): the rest of its batch, and other callers'
//! events sharing that batch, commit.

mod common;

use common::*;
use engine::Status;
use sea_orm::ConnectionTrait;
use std::sync::Arc;
use std::time::Duration;
use store::{Pipeline, PipelineConfig};

const EVERY_ORDER: &str = "key: every\nname: n\ngoal: {kind: count, when: 'event.type == \"order\"', target: 1}\nrewards: [{kind: points, amount: 1}]\nlimits: {per_customer: 100}\n";

/// Events whose id, customer id or type holds a NUL character: PostgreSQL cannot store one in
/// text, so they are refused when read, naming the field, on every database alike.
#[tokio::test]
async fn nul_characters_are_refused_per_event_and_never_fail_a_shared_batch() {
    for db in databases().await {
        db.store.install_campaign(&spec(EVERY_ORDER)).await.unwrap();
        // A long wait, so that the two callers' events share one batch.
        let config = PipelineConfig {
            max_batch: 100,
            max_wait: Duration::from_millis(200),
            queue: 1_000,
        };
        let pipeline = Arc::new(Pipeline::start(db.store.clone(), config));
        let at = "2026-12-01T10:00:00Z";
        let hostile = vec![
            event("ok-1", "c1", "order", at),
            event("nul\0id", "c1", "order", at),
            event("ok-2", "c\0x", "order", at),
            event("ok-3", "c1", "or\0der", at),
            event("ok-4", "c1", "order", at),
        ];
        let innocent: Vec<_> = (0..5)
            .map(|i| event(&format!("other-{i}"), "c2", "order", at))
            .collect();
        let (a, b) = {
            let (p1, p2) = (Arc::clone(&pipeline), Arc::clone(&pipeline));
            tokio::join!(
                tokio::spawn(async move { p1.submit(hostile).await }),
                tokio::spawn(async move { p2.submit(innocent).await }),
            )
        };
        let hostile = a
            .unwrap()
            .expect("the hostile request is answered per event");
        let innocent = b.unwrap().expect("the innocent request is untouched");
        let statuses: Vec<_> = hostile.iter().map(|r| r.status).collect();
        use Status::*;
        assert_eq!(
            statuses,
            [Processed, Rejected, Rejected, Rejected, Processed],
            "{}",
            db.name
        );
        let fields: Vec<_> = hostile[1..4]
            .iter()
            .map(|r| r.error.as_ref().unwrap().field.as_str())
            .collect();
        assert_eq!(fields, ["id", "customer_id", "type"]);
        assert!(
            hostile[1].error.as_ref().unwrap().reason.contains("NUL"),
            "{:?}",
            hostile[1].error
        );
        assert!(
            innocent.iter().all(|r| r.status == Processed),
            "{}",
            db.name
        );
        assert_eq!(db.store.rewards().await.unwrap().len(), 7, "{}", db.name);
        pipeline.shutdown().await;
        db.drop_schema().await;
    }
}

/// Whatever else the database refuses to store (here a trigger raising PostgreSQL's
/// `character_not_in_repertoire` for one event id) fails that event alone: its batch runs
/// again one event at a time, and it is rejected with the database's reason.
#[tokio::test]
async fn an_event_the_database_refuses_fails_alone() {
    let Some(db) = postgres().await else {
        eprintln!("OFFERFLOW_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    db.store.install_campaign(&spec(EVERY_ORDER)).await.unwrap();
    let schema = db.schema.clone().unwrap();
    let admin = sea_orm::Database::connect(&db.url).await.unwrap();
    admin
        .execute_unprepared(&format!(
            "CREATE FUNCTION {schema}.poison() RETURNS trigger AS $$
             BEGIN
               IF NEW.event_id = 'poison' THEN
                 RAISE EXCEPTION 'cannot store this' USING ERRCODE = '22021';
               END IF;
               RETURN NEW;
             END $$ LANGUAGE plpgsql;
             CREATE TRIGGER poison BEFORE INSERT ON {schema}.inbox
               FOR EACH ROW EXECUTE FUNCTION {schema}.poison();"
        ))
        .await
        .unwrap();
    let at = "2026-12-01T10:00:00Z";
    let batch = vec![
        event("a", "c1", "order", at),
        event("poison", "c1", "order", at),
        event("b", "c2", "order", at),
    ];
    let results = db.store.process_batch(&batch).await.expect("answered");
    let statuses: Vec<_> = results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [Status::Processed, Status::Rejected, Status::Processed]
    );
    let reason = &results[1].error.as_ref().unwrap().reason;
    assert!(reason.contains("cannot store this event"), "{reason}");
    // The others committed; the refused one left nothing behind, and is refused again.
    let ledger = db.store.rewards().await.unwrap();
    let events: Vec<_> = ledger.iter().map(|r| r.reward.event_id.as_str()).collect();
    assert_eq!(events, ["a", "b"]);
    assert!(db.store.event_result("poison").await.unwrap().is_none());
    let again = db.store.process_batch(&batch[1..2]).await.unwrap();
    assert_eq!(again[0].status, Status::Rejected);
    db.drop_schema().await;
}
