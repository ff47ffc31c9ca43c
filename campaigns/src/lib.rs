//! Campaign specs for Offerflow: types, reading from YAML and JSON, validation that reports
//! every problem with its path and position, and safe CEL compilation (DESIGN §3, §4).
//!
//! ```
//! let text = r#"
//! key: three-orders
//! name: Order 3 times, get 500 points
//! goal: {kind: count, when: 'event.type == "order.completed"', target: 3}
//! rewards: [{kind: points, amount: 500}]
//! "#;
//! let spec = campaigns::parse(text).expect("valid");
//! let campaign = campaigns::CompiledCampaign::compile(spec).expect("compiles");
//! assert!(campaign.may_apply_to("order.completed"));
//! assert!(!campaign.may_apply_to("app.opened"));
//! ```

mod budget;
mod compiled;
mod diagnostic;
mod duration;
mod event;
pub mod expr;
mod fast;
mod progress;
mod read;
pub mod source;
mod spec;
mod typecheck;

pub use compiled::{Bindings, CompiledCampaign, EvalError, GoalValue};
pub use diagnostic::{Code, Diagnostic, Diagnostics, Position};
pub use duration::SpecDuration;
pub use event::{
    Customer, Event, EventError, MAX_ATTRIBUTES_BYTES, MAX_ATTRIBUTES_DEPTH, MAX_ID_CHARS,
    RESERVED_KEYS, check_attributes, check_id,
};
pub use progress::ProgressView;
pub use spec::{
    Amount, CampaignSpec, Goal, GoalKind, Limits, Period, RewardKind, RewardSpec, Schedule, Step,
};
pub use typecheck::Type as ValueType;

/// Reads a spec from YAML or JSON text. Every diagnostic carries its position in `text`, and
/// CEL diagnostics also their position inside the expression.
pub fn parse(text: &str) -> Result<CampaignSpec, Diagnostics> {
    let document = source::read(text).map_err(|d| Diagnostics(vec![d]))?;
    read::read_spec(&document.value).map_err(|mut ds| {
        for d in &mut ds {
            document.map.place(d);
        }
        Diagnostics(ds)
    })
}

impl CampaignSpec {
    /// Reads a spec from a JSON value, with every problem at its path.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, Diagnostics> {
        read::read_spec(value).map_err(Diagnostics)
    }

    /// Checks every rule of DESIGN §4 on a spec built in code (typed API input, say).
    pub fn validate(&self) -> Result<(), Diagnostics> {
        let value = serde_json::to_value(self).map_err(|e| {
            Diagnostics(vec![Diagnostic::new("", Code::InvalidValue, e.to_string())])
        })?;
        Self::from_value(&value).map(|_| ())
    }
}
