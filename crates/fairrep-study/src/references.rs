//! Published results shown beside fairrep's (`fairrep report --reference FILE`): the file's
//! format and its reader.

use crate::error::StudyError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A published result to show beside fairrep's (`fairrep report --reference FILE`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReferencePoint {
    /// The method, as its authors name it.
    pub method: String,
    /// The task (a task name of the runs).
    pub task: String,
    /// The bound on the DP (demographic parity difference) the accuracy is reported at (or the
    /// method's DP when it is unconstrained).
    pub dp_bound: f64,
    /// The accuracy.
    pub accuracy: f64,
    /// Where it was published.
    pub source: String,
}

/// Reads a reference file: a CSV with the header `method,task,dp_bound,accuracy,source` (a line
/// starting with `#` is a comment). A bad line is an error naming the file, the line and the
/// column.
pub fn read_references(path: &Path) -> Result<Vec<ReferencePoint>, StudyError> {
    let bad = |line: u64, message: String| StudyError::Reference {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(0, e.to_string()))?;
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    const COLUMNS: [&str; 5] = ["method", "task", "dp_bound", "accuracy", "source"];
    if header != COLUMNS {
        return Err(bad(
            1,
            format!(
                "the header must be `{}`, not `{}`",
                COLUMNS.join(","),
                header.join(",")
            ),
        ));
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| bad(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let number = |k: usize, lo: f64, hi: f64| -> Result<f64, StudyError> {
            record[k]
                .parse::<f64>()
                .ok()
                .filter(|v| (lo..=hi).contains(v))
                .ok_or_else(|| {
                    bad(
                        line,
                        format!(
                            "column `{}`: `{}` is not a number in [{lo}, {hi}]",
                            COLUMNS[k], &record[k]
                        ),
                    )
                })
        };
        out.push(ReferencePoint {
            method: record[0].to_string(),
            task: record[1].to_string(),
            dp_bound: number(2, 0.0, 1.0)?,
            accuracy: number(3, 0.0, 1.0)?,
            source: record[4].to_string(),
        });
    }
    Ok(out)
}
