//! Cross-crate integration tests for Offerflow; the tests live in `tests/tests/`, the QA
//! fixtures in `tests/fixtures/`.
