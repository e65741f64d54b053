//! Tabular data for fairrep, with the schema taken entirely from the config.
//!
//! - [`spec`]: the `[data]` and `[[tasks]]` config sections (serde, unknown keys rejected);
//! - [`table`]: reading CSV / CSV.gz / Parquet into string cells, with line numbers for errors;
//! - [`parquet`]: Parquet columns as cells (embeddings expanded); [`stream`]: any input a chunk
//!   at a time; [`sink`]: writing CSV / CSV.gz / Parquet / NPY output a chunk at a time;
//! - [`fitted`]: the fitted preprocessing of a run and the one row encoder;
//! - [`encode`]: missing values, the seeded validation split, one-hot and standardisation fitted
//!   on the training split only, sensitive groups, task labels from predicates.
//!
//! No burn here: the batches the trainer feeds its model are built in `fairrep-run`.

pub mod derived;
pub mod encode;
pub mod error;
pub mod fitted;
pub mod parquet;
pub mod sink;
pub mod spec;
pub mod stream;
pub mod table;

pub use encode::{ColumnEncoder, Prepared, Split, TaskInfo, prepare, validate_schema};
pub use error::DataError;
pub use fitted::{Binding, Preprocessing, RowOutcome};
pub use spec::{DataSpec, MissingPolicy, Predicate, Role, TaskKind, TaskSpec};
