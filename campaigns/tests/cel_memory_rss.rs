//! The issue's expression (issue 13, item 3) against the process's resident memory, alone in
//! its own test binary so that nothing else moves the figure: before the memory budget it
//! built gigabytes of strings and the process died.

use campaigns::expr::MAX_EVAL_BYTES;
use campaigns::{Bindings, CampaignSpec, CompiledCampaign, Event, ProgressView};
use serde_json::json;

/// A figure from /proc/self/status, in bytes.
fn status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn the_issue_expression_keeps_resident_memory_bounded() {
    let l: Vec<u32> = (0..200).collect();
    let event = Event::from_json(&json!({"id": "e", "customer_id": "c", "type": "t",
        "occurred_at": "2026-12-01T10:00:00Z",
        "attributes": {"s": "x".repeat(60_000), "l": l}}))
    .unwrap();
    let when = "size(event.l.map(x, event.l.map(y, event.s + event.s + event.s + event.s))) > 0";
    let spec = json!({"key": "k", "name": "n",
        "goal": {"kind": "count", "when": when, "target": 1},
        "rewards": [{"kind": "points", "amount": 1}]});
    let campaign = CompiledCampaign::compile(CampaignSpec::from_value(&spec).unwrap()).unwrap();
    let bindings = Bindings::new(&event, None);
    // Reset the peak to what is resident now (Linux 4.0 and later), then evaluate a hundred
    // times, as a hundred such events would be.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status("VmRSS");
    for _ in 0..100 {
        let error = campaign
            .condition_holds(0, &bindings, ProgressView::default())
            .unwrap_err();
        assert!(
            error
                .message
                .contains("evaluation exceeded its memory budget")
        );
    }
    let grew = status("VmHWM").saturating_sub(before);
    println!("peak resident memory grew by {grew} bytes");
    // The budget, plus the allocator's own overhead and what it keeps after a free.
    assert!(grew <= 2 * MAX_EVAL_BYTES, "grew by {grew} bytes");
    assert!(status("VmHWM") > 0, "/proc/self/status has VmHWM");
}
