//! Writes the benchmark's 1,000 facts as JSON, for the json-rules-engine run (bench/node).

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "bench/node/facts.json".into());
    let facts = offerflow_bench::facts();
    let trues = facts
        .iter()
        .filter(|f| offerflow_bench::expected(f))
        .count();
    std::fs::write(&path, serde_json::to_vec(&facts)?)?;
    eprintln!(
        "wrote {} facts ({trues} match the condition) to {path}",
        facts.len()
    );
    Ok(())
}
