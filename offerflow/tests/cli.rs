//! The `offerflow` binary itself: `validate` output, formats and exit codes; `migrate`.
//!
//! `OFFERFLOW_BIN` selects the binary (CI points it at the release build); by default the
//! debug one Cargo built for this test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn offerflow() -> Command {
    let bin = std::env::var_os("OFFERFLOW_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_offerflow")));
    Command::new(bin)
}

fn validate(args: &[&str]) -> (i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = offerflow().arg("validate").args(args).output().unwrap();
    let code = status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {status:?}"));
    let mut text = String::from_utf8(stdout).unwrap();
    text.push_str(&String::from_utf8(stderr).unwrap());
    (code, text)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn examples() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../campaigns/examples")
        .to_str()
        .unwrap()
        .to_owned()
}

const BAD: &str = "key: bad\nname: n\ngoal:\n  kind: count\n  when: 'order.amount > 3'\n  target: 0\nrewards: [{kind: points, amount: 1}]\n";

#[test]
fn the_examples_are_valid() {
    let (code, out) = validate(&[&examples()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("specs valid"), "{out}");
}

#[test]
fn errors_are_compiler_style_with_a_caret() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bad.yaml", BAD);
    let (code, out) = validate(&[&file]);
    assert_eq!(code, 1, "{out}");
    let expected = format!(
        "{file}:5:10: error: goal.when: unknown variable `order`: expressions may use event, customer, progress, now\n  |\n5 |   when: 'order.amount > 3'\n  |          ^\n"
    );
    assert!(out.contains(&expected), "{out}");
    assert!(
        out.contains(&format!(
            "{file}:6:11: error: goal.target: must be greater than 0"
        )),
        "{out}"
    );
    assert!(out.contains("1 of 1 spec invalid (2 problems)"), "{out}");
}

#[test]
fn json_format() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.yaml", BAD);
    let (code, out) = validate(&["--format", "json", &bad, &examples()]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["valid"], false);
    let first = &report["files"][0];
    assert_eq!(first["file"], bad.as_str());
    assert_eq!(first["valid"], false);
    let d = &first["diagnostics"][0];
    assert_eq!(d["path"], "goal.when");
    assert_eq!(d["code"], "cel");
    assert_eq!(d["position"], serde_json::json!({"line": 5, "column": 10}));
    assert_eq!(
        d["expression_position"],
        serde_json::json!({"line": 1, "column": 1})
    );
    assert!(
        report["files"].as_array().unwrap()[1..]
            .iter()
            .all(|f| f["valid"] == true)
    );
}

#[test]
fn malformed_yaml_gets_its_own_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "broken.yaml",
        "key: k\nname: [unclosed\nrewards: []\n",
    );
    let (code, out) = validate(&[&file]);
    assert_eq!(code, 1, "{out}");
    let line = out.lines().next().unwrap();
    assert!(line.starts_with(&format!("{file}:")), "{out}");
    assert!(line.contains(": error: malformed YAML"), "{out}");
    let place: Vec<&str> = line[file.len() + 1..].splitn(3, ':').collect();
    assert!(place[0].parse::<u32>().unwrap() >= 2, "{out}");
    assert!(place[1].parse::<u32>().unwrap() >= 1, "{out}");
}

#[test]
fn keys_are_unique_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "key: same\nname: n\ngoal: {kind: count, when: 'true', target: 1}\nrewards: [{kind: points, amount: 1}]\n";
    write(dir.path(), "a.yaml", spec);
    let b = write(dir.path(), "b.yaml", spec);
    let (code, out) = validate(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "{b}:1:1: error: key: key `same` is already used by"
        )),
        "{out}"
    );
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(validate(&[]).0, 2);
    assert_eq!(validate(&["--format", "xml", &examples()]).0, 2);
    let (code, out) = validate(&["/no/such/spec.yaml"]);
    assert_eq!(code, 2);
    assert!(out.contains("/no/such/spec.yaml: error:"), "{out}");
    let empty = tempfile::tempdir().unwrap();
    let (code, out) = validate(&[empty.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.contains("no *.yaml"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("x.yaml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    assert_eq!(validate(&[binary.to_str().unwrap()]).0, 2);
}

/// DESIGN §3's hostile expressions, each in its own spec file: a diagnostic each, and the
/// process lives to report them all.
#[test]
fn hostile_expressions_each_get_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let term = "event.type == \"x\"";
    let hostile = [
        (
            "parens",
            format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000)),
        ),
        (
            "lists",
            format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000)),
        ),
        ("plus", format!("{} == 1", vec!["1"; 5_000].join(" + "))),
        (
            "or",
            vec![term; 2_500_000 / (term.len() + 4) + 1].join(" || "),
        ),
        ("incomplete", "event.type == ".to_owned()),
        ("unterminated", "event.type == \"order".to_owned()),
        ("empty", String::new()),
    ];
    let mut files = Vec::new();
    for (name, when) in &hostile {
        let spec = serde_json::json!({"key": name, "name": name,
            "goal": {"kind": "count", "when": when, "target": 1},
            "rewards": [{"kind": "points", "amount": 1}]});
        files.push(write(
            dir.path(),
            &format!("{name}.json"),
            &spec.to_string(),
        ));
    }
    let args: Vec<&str> = std::iter::once("--format")
        .chain(["json"])
        .chain(files.iter().map(String::as_str))
        .collect();
    let (code, out) = validate(&args);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let reports = report["files"].as_array().unwrap();
    assert_eq!(reports.len(), hostile.len());
    for (file, (name, _)) in reports.iter().zip(&hostile) {
        let d = &file["diagnostics"][0];
        assert_eq!(d["path"], "goal.when", "{name}: {file}");
        assert_eq!(d["code"], "cel", "{name}");
        assert!(d["position"]["line"].as_u64().is_some(), "{name}");
    }
}

#[test]
fn migrate_applies_then_reports_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("o.db").display());
    let run = || {
        let out = offerflow()
            .args(["migrate", "--database-url", &url])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, out) = run();
    assert_eq!(code, Some(0), "{out}");
    // Every migration, each numbered out of all of them, the last one last.
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split(" applied ").nth(1))
        .collect();
    let total = names.len();
    assert!(total >= 2, "{out}");
    assert!(out.contains(&format!("[1/{total}] applied")), "{out}");
    assert!(
        out.contains(&format!("[2/{total}] applied m0002_access")),
        "{out}"
    );
    assert!(
        out.contains("applied m0016_webhooks") && out.contains("applied m0017_event_sources"),
        "{out}"
    );
    let (code, out) = run();
    assert_eq!(code, Some(0));
    assert!(out.contains("up to date"), "{out}");
    let bad = offerflow()
        .args([
            "migrate",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/x",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn keys_are_created_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("k.db").display());
    let keys = |args: &[&str]| {
        let out = offerflow()
            .arg("keys")
            .args(args)
            .args(["--database-url", &url])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, secret, note) = keys(&["create", "--name", "ci", "--scopes", "ingest,read"]);
    assert_eq!(code, Some(0), "{note}");
    let secret = secret.trim();
    assert!(secret.starts_with("of_"), "{secret}");
    assert!(note.contains("shown once"), "{note}");
    let id = secret.split('_').nth(1).unwrap();
    let (code, list, _) = keys(&["list"]);
    assert_eq!(code, Some(0));
    assert!(list.contains(id) && list.contains("ingest,read"), "{list}");
    assert!(!list.contains(secret), "secrets are never listed");
    let (code, _, note) = keys(&["revoke", id]);
    assert_eq!(code, Some(0), "{note}");
    let (_, list, _) = keys(&["list"]);
    let row = list.lines().find(|l| l.contains(id)).unwrap();
    assert!(!row.trim_end().ends_with('-'), "revoked: {row}");
    let (code, _, note) = keys(&["create", "--name", "x", "--scopes", "root"]);
    assert_eq!(code, Some(2));
    assert!(note.contains("unknown scope `root`"), "{note}");
    let (code, _, note) = keys(&["revoke", "nope"]);
    assert_eq!(code, Some(2));
    assert!(note.contains("no API key"), "{note}");
}

/// Runs `offerflow` with `args` and `env`: exit code and stdout + stderr.
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = offerflow()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let mut text = String::from_utf8(stdout).unwrap();
    text.push_str(&String::from_utf8(stderr).unwrap());
    (status.code().expect("exited"), text)
}

#[test]
fn a_mistyped_sqlite_path_is_named_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("ofervlow.db");
    let url = format!("sqlite:{}?mode=rwc", typo.display());
    for args in [
        vec!["keys", "list", "--database-url", &url],
        vec!["rewards", "export", "--database-url", &url],
    ] {
        let (code, out) = run(&args, &[]);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(
            out.contains(&format!("no database file at {}", typo.display())),
            "{args:?}: {out}"
        );
        assert!(!typo.exists(), "{args:?} created an empty database");
    }
}

#[test]
fn an_unreachable_postgres_is_named_at_once() {
    // Nothing listens on port 1; the password is never printed.
    let url = "postgres://app:secret@127.0.0.1:1/offers";
    for args in [
        vec!["keys", "list", "--database-url", url],
        vec!["rewards", "export", "--database-url", url],
        vec!["migrate", "--database-url", url],
        vec!["serve", "--listen", "127.0.0.1:0", "--database-url", url],
    ] {
        let started = std::time::Instant::now();
        let (code, out) = run(&args, &[]);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(
            out.contains("postgres://app:***@127.0.0.1:1/offers"),
            "{args:?}: {out}"
        );
        assert!(
            !out.contains("secret"),
            "{args:?} printed the password: {out}"
        );
        assert!(!out.contains("internal error"), "{args:?}: {out}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "{args:?} took {:?} to say so",
            started.elapsed()
        );
    }
}

#[test]
fn serve_warns_of_unknown_settings_in_plain_text_logs() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("o.db").display());
    let mut child = offerflow()
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
        .env("OFFERFLOW_MAX_BATCHES", "5")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    // Read until the server says it listens (or stops): the warning comes before.
    while stderr.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains("offerflow listening") {
            break;
        }
        line.clear();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.contains(
            "OFFERFLOW_MAX_BATCHES is not a setting and is ignored; did you mean OFFERFLOW_MAX_BATCH?"
        ),
        "{seen}"
    );
    assert!(seen.contains("offerflow listening"), "{seen}");
    assert!(
        !seen.contains('\u{1b}'),
        "colour codes in logs that go to a pipe: {seen:?}"
    );
}

#[test]
fn each_command_describes_its_own_format() {
    let (_, replay) = run(&["replay", "--help"], &[]);
    assert!(replay.contains("one JSON object per fixture"), "{replay}");
    assert!(!replay.contains("offending source line"), "{replay}");
    let (_, validate) = run(&["validate", "--help"], &[]);
    assert!(validate.contains("offending source line"), "{validate}");
}

/// A database whose first migration is killed at any point opens again: each migration and
/// its record commit together or not at all (SQLite, and PostgreSQL when configured).
#[test]
fn a_first_start_killed_at_any_point_opens_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut databases: Vec<(String, Option<String>)> = (0..24)
        .map(|i| {
            let path = dir.path().join(format!("killed-{i}.db"));
            (format!("sqlite:{}?mode=rwc", path.display()), None)
        })
        .collect();
    let postgres = std::env::var("OFFERFLOW_TEST_POSTGRES_URL").ok();
    if let Some(base) = &postgres {
        for i in 0..12 {
            let schema = format!("killed_{}_{i}", std::process::id());
            psql(
                base,
                &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
            );
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            databases.push((url, Some(schema)));
        }
    }
    // Kill points spread over the time a whole first start takes on this machine now.
    let whole = {
        let path = dir.path().join("whole.db");
        let started = std::time::Instant::now();
        let (code, out) = run(
            &[
                "migrate",
                "--database-url",
                &format!("sqlite:{}?mode=rwc", path.display()),
            ],
            &[],
        );
        assert_eq!(code, 0, "{out}");
        started.elapsed()
    };
    let mut killed_midway = 0;
    for (i, (url, _)) in databases.iter().enumerate() {
        let delay = whole * (i % 24) as u32 / 24;
        let mut child = offerflow()
            .args(["migrate", "--database-url", url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed_midway += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (code, out) = run(&["migrate", "--database-url", url], &[]);
        assert_eq!(
            code, 0,
            "{url} killed after {delay:?} does not open again: {out}"
        );
        let (code, out) = run(&["keys", "list", "--database-url", url], &[]);
        assert_eq!(code, 0, "{url}: {out}");
    }
    assert!(
        killed_midway >= 10,
        "only {killed_midway} kills landed before the end"
    );
    if let Some(base) = &postgres {
        for (_, schema) in &databases {
            if let Some(schema) = schema {
                psql(base, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

/// Runs SQL on PostgreSQL with `psql`.
fn psql(url: &str, sql: &str) {
    let status = Command::new("psql")
        .args([url, "-q", "-c", sql])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("psql");
    assert!(status.success(), "psql {sql}");
}

#[test]
fn every_database_command_reads_the_configuration_serve_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("configured.db");
    let url = format!("sqlite:{}?mode=rwc", db.display());
    let config = dir.path().join("offerflow.toml");
    std::fs::write(&config, format!("database_url = \"{url}\"\n")).unwrap();
    let config = config.to_str().unwrap();
    let (code, out) = run(&["migrate", "--config", config], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(db.exists(), "migrate used the file's database: {out}");
    let (code, out) = run(
        &[
            "keys", "create", "--name", "n", "--scopes", "read", "--config", config,
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&["keys", "list"], &[("OFFERFLOW_CONFIG", config)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(" n "),
        "the key is in the configured database: {out}"
    );
    let (code, out) = run(&["rewards", "export", "--config", config], &[]);
    assert_eq!(code, 0, "{out}");
    // The flag wins over the file, and a bad setting in the file is named.
    let other = dir.path().join("other.db");
    let flag = format!("sqlite:{}?mode=rwc", other.display());
    let (code, out) = run(
        &["migrate", "--config", config, "--database-url", &flag],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert!(other.exists());
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "max_batch = 0\n").unwrap();
    let (code, out) = run(&["keys", "list", "--config", bad.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("max_batch"), "{out}");
}
