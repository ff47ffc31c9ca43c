//! `offerflow validate FILE|DIR...`: every spec's problems, compiler-style or as JSON.

use super::{Exit, Format};
use campaigns::{Diagnostic, Position, source::MAX_SOURCE_BYTES};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// One file's result.
#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    diagnostics: Vec<Diagnostic>,
    #[serde(skip)]
    text: String,
}

/// A file that could not be read.
#[derive(Debug, Serialize)]
struct IoProblem {
    file: String,
    error: String,
}

#[derive(Debug, Serialize)]
struct Report {
    valid: bool,
    files: Vec<FileReport>,
    errors: Vec<IoProblem>,
}

pub(super) fn run(paths: &[PathBuf], format: Format) -> Exit {
    let mut errors = Vec::new();
    let files = collect(paths, &mut errors);
    let mut reports: Vec<FileReport> = files.iter().filter_map(|f| check(f, &mut errors)).collect();
    flag_duplicate_keys(&mut reports);
    let valid = errors.is_empty() && reports.iter().all(|r| r.valid);
    let report = Report {
        valid,
        files: reports,
        errors,
    };
    let mut out = std::io::stdout().lock();
    let written = match format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Format::Text => print_text(&mut out, &report),
    };
    if written.is_err() {
        return Exit::Error;
    }
    if !report.errors.is_empty() {
        Exit::Error
    } else if report.valid {
        Exit::Success
    } else {
        Exit::Invalid
    }
}

/// The spec files named, directories searched recursively in name order.
fn collect(paths: &[PathBuf], errors: &mut Vec<IoProblem>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            walk(path, &mut files, errors);
            if files.len() == before {
                errors.push(IoProblem {
                    file: path.display().to_string(),
                    error: "no *.yaml, *.yml or *.json files in this directory".into(),
                });
            }
        } else {
            files.push(path.clone());
        }
    }
    files
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<IoProblem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(IoProblem {
                file: dir.display().to_string(),
                error: e.to_string(),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, files, errors);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            files.push(path);
        }
    }
}

fn check(path: &Path, errors: &mut Vec<IoProblem>) -> Option<FileReport> {
    let file = path.display().to_string();
    let io_error = |error: String| IoProblem {
        file: file.clone(),
        error,
    };
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => {
            errors.push(io_error(e.to_string()));
            return None;
        }
    };
    if size > MAX_SOURCE_BYTES as u64 {
        let message = format!("the file is {size} bytes; a spec may be at most {MAX_SOURCE_BYTES}");
        let mut d = Diagnostic::new("", campaigns::Code::Syntax, message);
        d.position = Some(Position::new(1, 1));
        return Some(FileReport {
            file,
            valid: false,
            key: None,
            diagnostics: vec![d],
            text: String::new(),
        });
    }
    let text = match std::fs::read(path).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(_)) => {
            errors.push(io_error("the file is not UTF-8 text".into()));
            return None;
        }
        Err(e) => {
            errors.push(io_error(e.to_string()));
            return None;
        }
    };
    let (key, diagnostics) = match campaigns::parse(&text) {
        Ok(spec) => (Some(spec.key), Vec::new()),
        Err(d) => (None, d.0),
    };
    Some(FileReport {
        file,
        valid: diagnostics.is_empty(),
        key,
        diagnostics,
        text,
    })
}

/// Keys are unique: a key used by two files is an error in the later one.
fn flag_duplicate_keys(reports: &mut [FileReport]) {
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    for report in reports.iter_mut() {
        let Some(key) = report.key.clone() else {
            continue;
        };
        if let Some(other) = first.get(&key) {
            let message = format!("key `{key}` is already used by {other}");
            let mut d = Diagnostic::new("key", campaigns::Code::InvalidValue, message);
            d.position = key_position(&report.text);
            report.diagnostics.push(d);
            report.valid = false;
        } else {
            first.insert(key, report.file.clone());
        }
    }
}

fn key_position(text: &str) -> Option<Position> {
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with("key"))?;
    let column = text.lines().nth(line)?.find("key")? + 1;
    Some(Position::new(
        u32::try_from(line + 1).ok()?,
        u32::try_from(column).ok()?,
    ))
}

fn print_text(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    for problem in &report.errors {
        writeln!(out, "{}: error: {}", problem.file, problem.error)?;
    }
    for file in &report.files {
        for d in &file.diagnostics {
            print_diagnostic(out, file, d)?;
        }
    }
    let invalid = report.files.iter().filter(|f| !f.valid).count();
    let problems: usize = report.files.iter().map(|f| f.diagnostics.len()).sum();
    let files = report.files.len();
    if invalid == 0 && report.errors.is_empty() {
        writeln!(out, "{files} spec{} valid", plural(files))
    } else {
        writeln!(
            out,
            "{invalid} of {files} spec{} invalid ({problems} problem{}){}",
            plural(files),
            plural(problems),
            if report.errors.is_empty() {
                String::new()
            } else {
                format!(", {} unreadable", report.errors.len())
            }
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn print_diagnostic(
    out: &mut impl Write,
    file: &FileReport,
    d: &Diagnostic,
) -> std::io::Result<()> {
    let place = match d.position {
        Some(p) => format!("{}:{}:{}", file.file, p.line, p.column),
        None => file.file.clone(),
    };
    let what = if d.path.is_empty() {
        d.message.clone()
    } else {
        format!("{}: {}", d.path, d.message)
    };
    writeln!(out, "{place}: error: {what}")?;
    let Some(p) = d.position else {
        return Ok(());
    };
    let Some(line) = file.text.lines().nth(p.line as usize - 1) else {
        return Ok(());
    };
    // Long lines (a minified or hostile spec) are cut around the caret.
    const WIDTH: usize = 120;
    let column = p.column as usize - 1;
    let skip = column.saturating_sub(WIDTH / 2);
    let shown: String = line.chars().skip(skip).take(WIDTH).collect();
    let number = p.line.to_string();
    let gutter = " ".repeat(number.len());
    writeln!(out, "{gutter} |")?;
    writeln!(
        out,
        "{number} | {}{shown}",
        if skip > 0 { "..." } else { "" }
    )?;
    let pad = column - skip + if skip > 0 { 3 } else { 0 };
    writeln!(out, "{gutter} | {}^", " ".repeat(pad))
}
