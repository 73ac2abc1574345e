//! Between the pure engine and what is stored or shown, by what each part does: [`spec`]
//! checks a `RolloutSpec` into a plan strategy and machine settings, [`codec`] turns the
//! plan and the machine's events into on-disk records and back (for replay), and [`view`]
//! renders a machine as the operator's `RolloutView` and the record's summary.

pub(crate) mod analysis;
pub(crate) mod codec;
pub(crate) mod spec;
pub(crate) mod view;

pub(crate) use codec::{Replayed, entry, plan_from_record, plan_to_record, record_state, replayed};
pub use spec::SpecError;
pub(crate) use spec::{delivery_timeout, parse_spec};
pub(crate) use view::{is_settled, summarize, summary, view};
