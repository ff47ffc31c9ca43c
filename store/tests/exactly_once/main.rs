//! Exactly-once, proven (DESIGN §7): the database processor gives the in-memory processor's
//! ledger and states whatever the batching, the duplicates, the concurrency (tasks, processes)
//! and the crashes, and never exceeds a budget.
//!
//! Every test runs on SQLite, and on PostgreSQL too when `OFFERFLOW_TEST_POSTGRES_URL` is set,
//! each in a database (or schema) of its own. Two tests run this binary again as child
//! processes (`processes::child_ingest`, `crash::child_crash_ingest`): those are ignored
//! tests, run only by their parent with `--ignored` and the environment it sets.
//!
//! One module per scenario; the campaigns they run are YAML files in `campaigns/`, the stream
//! builders and the checks of what the database holds are modules of their own.

#[path = "../common/mod.rs"]
mod common;

mod budget_race;
mod concurrency;
mod crash;
mod db;
mod duplicates;
mod processes;
mod random_streams;
mod specs;
mod streams;
/// Shared with the engine's model test.
#[path = "../../../engine/tests/support/vocabulary.rs"]
mod vocabulary;

use campaigns::{CompiledCampaign, Customer};
use engine::{CampaignState, EventResult, MemoryProcessor, Outcome, Reason, Status};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use store::Store;

use common::*;
use concurrency::*;
use db::*;
use processes::*;
use specs::*;
use streams::*;
use vocabulary::*;
