//! `offerflow replay`, `rewards export` and `fixtures generate` through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn offerflow() -> Command {
    let bin = std::env::var_os("OFFERFLOW_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_offerflow")));
    Command::new(bin)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = offerflow().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const FIXTURE: &str = r#"
name: three orders
campaigns:
  - key: three
    name: Three orders
    goal: {kind: count, when: 'event.type == "order"', target: 3}
    rewards: [{kind: points, amount: 500}]
customers: [{id: c1, attributes: {tier: gold}}]
events:
  - {id: e1, customer_id: c1, type: order, occurred_at: 2026-12-01T10:00:00Z}
  - {id: e2, customer_id: c1, type: order, occurred_at: 2026-12-01T11:00:00Z}
  - {id: e2, customer_id: c1, type: order, occurred_at: 2026-12-01T11:00:00Z}
  - {id: e4, customer_id: c1, type: order, occurred_at: yesterday}
  - {id: e3, customer_id: c1, type: order, occurred_at: 2026-12-01T12:00:00Z}
expect:
  rewards:
    - {customer_id: c1, campaign: three, event_id: e3, cycle: 1, kind: points, amount: 500}
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_passing_fixture_in_text_json_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "f.yaml", FIXTURE);
    let (code, out, _) = run(&["replay", &file]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("5 events: 3 processed, 1 duplicate, 1 rejected"),
        "{out}"
    );
    assert!(
        out.contains("rejected `e4` (line 13): occurred_at: `yesterday` is not an RFC 3339 timestamp with an offset"),
        "{out}"
    );
    assert!(out.contains("PASS"), "{out}");

    let junit = dir.path().join("junit.xml");
    let (code, out, _) = run(&[
        "replay",
        "--format",
        "json",
        "--junit",
        junit.to_str().unwrap(),
        &file,
    ]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        report,
        serde_json::json!({
            "fixture": file,
            "events": {"processed": 3, "duplicate": 1, "rejected": 1},
            "rewards": [{"customer_id": "c1", "campaign": "three", "event_id": "e3", "cycle": 1, "kind": "points", "amount": 500}],
            "passed": true,
            "mismatches": [],
        })
    );
    let xml = std::fs::read_to_string(junit).unwrap();
    for attribute in ["tests=\"1\"", "failures=\"0\"", "errors=\"0\""] {
        assert!(xml.contains(attribute), "{attribute}: {xml}");
    }
}

#[test]
fn a_mismatch_names_the_first_event_where_rewards_part() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = FIXTURE.replace(
        "event_id: e3, cycle: 1, kind: points, amount: 500",
        "event_id: e2, cycle: 1, kind: points, amount: 500",
    );
    let file = write(dir.path(), "f.yaml", &wrong);
    let (code, out, _) = run(&["replay", &file]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL"), "{out}");
    assert!(
        out.contains("rewards part at event `e2` (#2, line 11)"),
        "{out}"
    );
    assert!(
        out.contains("missing: c1 three cycle 1 points 500 on e2"),
        "{out}"
    );
    assert!(
        out.contains("unexpected: c1 three cycle 1 points 500 on e3"),
        "{out}"
    );
    let junit = dir.path().join("j.xml");
    let (code, _, _) = run(&[
        "replay",
        "--format",
        "json",
        "--junit",
        junit.to_str().unwrap(),
        &file,
    ]);
    assert_eq!(code, 1);
    assert!(
        std::fs::read_to_string(junit)
            .unwrap()
            .contains("<failure message=\"rewards part at event `e2`")
    );
}

#[test]
fn a_bad_fixture_names_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            FIXTURE.replace("customers:", "customerz:"),
            Some(8),
            "unknown field `customerz`",
        ),
        (
            FIXTURE.replace("target: 3", "target: 0"),
            Some(6),
            "goal.target",
        ),
        (
            FIXTURE.replace("  - {id: e1", "  - [oops\n  - {id: e1"),
            None,
            "malformed YAML",
        ),
    ];
    for (text, line, reason) in cases {
        let file = write(dir.path(), "bad.yaml", &text);
        let (code, _, err) = run(&["replay", &file]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(&format!("{file}:")), "{err}");
        assert!(err.contains(reason), "{err}");
        let at: u32 = err
            .split(&format!("{file}:"))
            .nth(1)
            .unwrap()
            .split(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        match line {
            Some(line) => assert_eq!(at, line, "{err}"),
            None => assert!(at >= 10, "{err}"),
        }
    }
    // A broken line in an events file is named by its line.
    let events = write(
        dir.path(),
        "events.jsonl",
        "{\"id\": \"e1\", \"customer_id\": \"c\", \"type\": \"t\", \"occurred_at\": \"2026-12-01T10:00:00Z\"}\n{not json\n",
    );
    let _ = events;
    let file = write(
        dir.path(),
        "file.yaml",
        "name: x\ncampaigns: []\nevents_file: events.jsonl\n",
    );
    let (code, _, err) = run(&["replay", &file]);
    assert_eq!(code, 2);
    assert!(err.contains("events.jsonl:2: not a JSON event"), "{err}");
    assert_eq!(run(&["replay"]).0, 2);
    assert_eq!(run(&["replay", "/no/such/fixture.yaml"]).0, 2);
}

/// Strips what differs between two runs by nature (the time of issue).
fn export(url: &str) -> Vec<serde_json::Value> {
    let (code, out, err) = run(&["rewards", "export", "--database-url", url]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["issued_at"].is_string() && v["id"].is_i64(), "{v}");
            v.as_object_mut().unwrap().remove("issued_at");
            v
        })
        .collect()
}

#[test]
fn a_replay_killed_midway_and_run_again_ends_with_the_same_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("gen");
    let (code, _, err) = run(&[
        "fixtures",
        "generate",
        "--customers",
        "300",
        "--events",
        "40000",
        "--seed",
        "3",
        "--out",
        generated.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let fixture = generated.join("fixture.json");
    let fixture = fixture.to_str().unwrap();

    let whole = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("whole.db").display()
    );
    let (code, _, err) = run(&["replay", "--database-url", &whole, fixture]);
    assert_eq!(code, 0, "{err}");

    // Kill a replay once it has committed some batches but not all.
    let killed = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("killed.db").display()
    );
    let db_file = dir.path().join("killed.db");
    let mut child = offerflow()
        .args(["replay", "--database-url", &killed, fixture])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let full = export(&whole).len();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let partial = db_file.exists() && {
            let (_, out, _) = run(&["rewards", "export", "--database-url", &killed]);
            let n = out.lines().count();
            n > 0 && n < full
        };
        if partial || started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the replay finished before it could be killed"
    );
    let before = export(&killed).len();
    assert!(before < full, "killed after {before} of {full} rewards");

    let (code, out, err) = run(&["replay", "--database-url", &killed, fixture]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("duplicate"), "{out}");
    assert_eq!(export(&killed), export(&whole));
}

#[test]
fn generated_fixtures_are_deterministic_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let generate = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let (code, _, err) = run(&[
            "fixtures",
            "generate",
            "--customers",
            "50",
            "--events",
            "3000",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        (
            std::fs::read_to_string(out.join("fixture.json")).unwrap(),
            std::fs::read_to_string(out.join("events.jsonl")).unwrap(),
            out,
        )
    };
    let (fixture_a, events_a, out_a) = generate("a", "9");
    let (fixture_b, events_b, _) = generate("b", "9");
    let (_, events_c, _) = generate("c", "10");
    assert_eq!(
        (&fixture_a, &events_a),
        (&fixture_b, &events_b),
        "same seed, same fixture"
    );
    assert_ne!(events_a, events_c, "another seed, other events");
    assert_eq!(events_a.lines().count(), 3000);
    // Every mechanic is there, and the stream replays cleanly.
    let fixture: serde_json::Value = serde_json::from_str(&fixture_a).unwrap();
    let kinds: std::collections::BTreeSet<&str> = fixture["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["goal"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    let (code, out, _) = run(&[
        "replay",
        "--format",
        "json",
        out_a.join("fixture.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["events"]["processed"], 3000);
    assert!(!report["rewards"].as_array().unwrap().is_empty());
}

#[test]
fn a_runaway_condition_finishes_in_bounded_time_and_is_reported() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/nested-maps-bounded.yaml");
    let started = Instant::now();
    let (code, stdout, stderr) = run(&["replay", fixture.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout
            .contains("evaluation errors in `nested-maps`: 3 (counted as false; first: goal.when:")
            && stdout.contains("too much work"),
        "{stdout}"
    );
    assert!(stdout.contains("PASS"), "{stdout}");
    // Unbounded, one event would take minutes; bounded, the whole fixture takes well under
    // this generous ceiling even in a debug build.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}
