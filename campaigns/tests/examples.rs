//! Every example in `campaigns/examples/` validates and compiles.

use campaigns::{CompiledCampaign, parse};
use std::path::Path;

#[test]
fn every_example_validates_and_compiles() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut kinds = std::collections::BTreeSet::new();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let spec = parse(&text).unwrap_or_else(|d| panic!("{}:\n{d}", path.display()));
        assert_eq!(
            path.file_stem().unwrap().to_str().unwrap(),
            spec.key,
            "an example's file is named after its key"
        );
        kinds.insert(spec.goal.kind());
        CompiledCampaign::compile(spec).unwrap();
        seen += 1;
    }
    assert!(seen >= 9, "only {seen} examples");
    assert_eq!(
        kinds.len(),
        5,
        "one example per mechanic at least: {kinds:?}"
    );
}
