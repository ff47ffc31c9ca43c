//! `frontend-schema.graphql` is the schema's SDL; it must not drift from the code.

#[test]
fn frontend_schema_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend-schema.graphql");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    let current = api::graphql::sdl();
    assert!(
        checked_in == current,
        "frontend-schema.graphql is out of date with the code; regenerate it with:\n    cargo run -p api --bin offerflow -- schema > frontend-schema.graphql"
    );
}
