//! Tabular data for fairrep, with the schema taken entirely from the config.
//!
//! - [`spec`]: the `[data]` and `[[tasks]]` config sections (serde, unknown keys rejected);
//! - [`table`]: reading CSV / CSV.gz into string cells, with line numbers for errors;
//! - [`encode`]: missing values, the seeded validation split, one-hot and standardisation fitted
//!   on the training split only, sensitive groups, task labels from predicates;
//! - [`batch`]: burn's `Batcher` from row indices to a typed [`batch::FairBatch`].

pub mod batch;
pub mod encode;
pub mod error;
pub mod spec;
pub mod table;

pub use batch::{FairBatch, FairBatcher};
pub use encode::{ColumnEncoder, Prepared, Split, TaskInfo, prepare, validate_schema};
pub use error::DataError;
pub use spec::{DataSpec, MissingPolicy, Predicate, Role, TaskKind, TaskSpec};
