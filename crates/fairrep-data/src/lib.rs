//! Tabular data for fairrep, with the schema taken entirely from the config.
//!
//! - [`spec`]: the `[data]` and `[[tasks]]` config sections (serde, unknown keys rejected);
//! - [`table`]: reading CSV / CSV.gz into string cells, with line numbers for errors;
//! - [`encode`]: missing values, the seeded validation split, one-hot and standardisation fitted
//!   on the training split only, sensitive groups, task labels from predicates.
//!
//! No burn here: the batches the trainer feeds its model are built in `fairrep-run`.

pub mod encode;
pub mod error;
pub mod spec;
pub mod table;

pub use encode::{ColumnEncoder, Prepared, Split, TaskInfo, prepare, validate_schema};
pub use error::DataError;
pub use spec::{DataSpec, MissingPolicy, Predicate, Role, TaskKind, TaskSpec};
