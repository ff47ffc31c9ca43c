//! The JUnit XML report of a replay, for CI systems: one test case per fixture, a `failure`
//! for a fixture whose rewards did not match, an `error` for one that could not run. Written
//! with `quick-junit`, which escapes what XML cannot hold.

use crate::run::Report;

/// What became of one fixture.
#[derive(Debug)]
pub enum FixtureRun {
    /// It ran: its report (passed or not).
    Ran(Report),
    /// It could not run (unreadable, malformed, a database error).
    Failed {
        /// The fixture's path as given.
        file: String,
        /// Why.
        error: String,
    },
}

/// The JUnit XML of `runs`, one test suite `offerflow replay`.
pub fn junit_xml(runs: &[FixtureRun]) -> Result<String, quick_junit::SerializeError> {
    use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("offerflow replay");
    for run in runs {
        let (name, file, status) = match run {
            FixtureRun::Ran(r) if r.passed => (&r.name, &r.fixture, TestCaseStatus::success()),
            FixtureRun::Ran(r) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(r.mismatches.first().cloned().unwrap_or_default())
                    .set_description(r.mismatches.join("\n"));
                (&r.name, &r.fixture, status)
            }
            FixtureRun::Failed { file, error } => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(error.as_str());
                (file, file, status)
            }
        };
        let mut case = TestCase::new(name.as_str(), status);
        case.set_classname("replay")
            .add_property(Property::new("file", file.as_str()));
        suite.add_test_case(case);
    }
    let mut report = quick_junit::Report::new("offerflow");
    report.add_test_suite(suite);
    report.to_string()
}
