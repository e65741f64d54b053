//! Tabular data for fairrep, with the schema taken entirely from the config.
//!
//! - [`spec`]: the `[data]` and `[[tasks]]` config sections (serde, unknown keys rejected);
//! - [`source`]: what the readers share (read options, chunks of rows, errors naming a line or
//!   column); [`parquet`]: Parquet columns as cells (embeddings expanded); [`stream`]: any input
//!   a chunk at a time; [`table`]: a whole CSV / CSV.gz / Parquet file as cells, with line
//!   numbers for errors; [`sink`]: writing CSV / CSV.gz / Parquet / NPY output a chunk at a time;
//! - [`fitted`]: the fitted preprocessing of a run (column encoders, tasks) and the one row
//!   encoder;
//! - [`reading`]: the spec checked and its files read into typed columns ([`columnar`]);
//!   [`encode`]: fitting the preprocessing — missing values, the seeded validation split, one-hot
//!   and standardisation fitted on the training split only, sensitive groups, task labels from
//!   predicates; [`prepared`]: what that gives a run (the splits, the fitted encoding);
//!   [`shards`]: `[data.stream]`, the training rows read from the shards a window at a time.
//!
//! No burn here: the batches the trainer feeds its model are built in `fairrep-run`.

pub mod columnar;
pub mod columns;
pub mod derived;
pub mod encode;
pub mod error;
pub mod fitted;
pub mod parquet;
pub mod prepared;
pub mod reading;
pub mod shards;
pub mod sink;
pub mod source;
pub mod spec;
pub mod stream;
pub mod table;

pub use columns::TypedColumn;
pub use encode::{ColumnEncoder, TaskInfo};
pub use error::DataError;
pub use fitted::{Binding, Preprocessing, RowOutcome};
pub use prepared::{Prepared, Split, StreamSummary, TrainStream, Window, WindowStart};
pub use reading::validate_schema;
pub use shards::prepare;
pub use spec::{
    DataSpec, MissingPolicy, Predicate, Role, StreamMode, StreamSpec, TaskKind, TaskSpec,
};

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// The modules of this crate form no circle: each module's `crate::…` references (code,
    /// not comments) are edges, and a depth-first search finds no cycle.
    #[test]
    fn the_modules_form_no_circle() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if name == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            let uses = edges.entry(name.clone()).or_default();
            for line in code {
                for (at, _) in line.match_indices("crate::") {
                    let module: String = line[at + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if module != name && !module.is_empty() {
                        uses.insert(module);
                    }
                }
            }
        }
        assert!(edges.len() >= 9, "{edges:?}");
        // A depth-first search from every module: a path back to a module on the stack is a
        // circle.
        fn visit(m: &str, edges: &BTreeMap<String, BTreeSet<String>>, stack: &mut Vec<String>) {
            if let Some(at) = stack.iter().position(|s| s == m) {
                panic!("a circle: {} -> {m}", stack[at..].join(" -> "));
            }
            stack.push(m.to_string());
            for next in edges.get(m).into_iter().flatten() {
                visit(next, edges, stack);
            }
            stack.pop();
        }
        for m in edges.keys() {
            visit(m, &edges, &mut Vec::new());
        }
        // The readers build on `source`, never on each other in a circle.
        assert!(edges["parquet"].contains("source") && !edges["parquet"].contains("table"));
        assert!(!edges["fitted"].contains("encode"));
    }
}
