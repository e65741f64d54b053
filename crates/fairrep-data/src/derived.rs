//! Derived columns (`[[data.derived]]`): a column computed from other columns of the same row
//! when a file is read, for a sensitive attribute or a task that no single column holds.
//!
//! - `cross = ["sex", "race"]`: the intersection of attributes, the cells joined by `" × "`
//!   (`"Female × Black"`); `[data.sensitive] columns = ["sex", "race"]` is a shorthand for it.
//! - `any = ["age_65", "age_75", "age_85"]`: `"1"` when any of the (indicator) cells is true —
//!   a number other than 0, or `true` / `yes` — else `"0"`: a group or task defined by a
//!   predicate over one-hot columns ("60 or older").
//!
//! A source cell that is missing makes the derived cell missing (`any`: unless another source is
//! true), so the run's missing-value policy applies to it like to any column.

use crate::error::DataError;
use csv::StringRecord;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// The separator of a `cross` column's values.
pub const CROSS_SEPARATOR: &str = " × ";

/// One `[[data.derived]]` column.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DerivedSpec {
    /// The new column's name (not a column of the files).
    pub name: String,
    /// The intersection of these columns: their cells joined by `" × "`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross: Option<Vec<String>>,
    /// `"1"` when any of these indicator columns is true, else `"0"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<String>>,
}

/// What a derived column computes (its sources are [`DerivedSpec::sources`]).
#[derive(Clone, Copy)]
enum Rule {
    Cross,
    Any,
}

impl DerivedSpec {
    /// A `cross` column of `columns`, named after them (`"sex × race"`).
    pub fn cross_of(columns: &[String]) -> DerivedSpec {
        DerivedSpec {
            name: columns.join(CROSS_SEPARATOR),
            cross: Some(columns.to_vec()),
            any: None,
        }
    }

    fn rule(&self) -> Result<Rule, String> {
        let at = format!("[[data.derived]] `{}`", self.name);
        match (&self.cross, &self.any) {
            (Some(c), None) if c.len() >= 2 => Ok(Rule::Cross),
            (Some(_), None) => Err(format!("{at}: `cross` needs at least two columns")),
            (None, Some(a)) if !a.is_empty() => Ok(Rule::Any),
            (None, Some(_)) => Err(format!("{at}: `any` needs at least one column")),
            (Some(_), Some(_)) => Err(format!("{at}: give `cross` or `any`, not both")),
            (None, None) => Err(format!(
                "{at}: needs `cross = [columns…]` (their intersection) or `any = [columns…]` \
                 (true when any indicator is)"
            )),
        }
    }

    fn sources(&self) -> &[String] {
        self.cross.as_deref().or(self.any.as_deref()).unwrap_or(&[])
    }
}

/// Checks the derived columns without data: a rule each, unique names, sources that exist
/// before (a derived column may use the ones listed above it, not itself or later ones).
pub fn validate(derived: &[DerivedSpec]) -> Result<(), String> {
    let mut names = HashSet::new();
    for (k, d) in derived.iter().enumerate() {
        if d.name.trim().is_empty() {
            return Err("[[data.derived]]: `name` is empty".into());
        }
        d.rule()?;
        if !names.insert(d.name.as_str()) {
            return Err(format!("[[data.derived]]: `{}` is defined twice", d.name));
        }
        if let Some(s) = d
            .sources()
            .iter()
            .find(|s| *s == &d.name || derived[k + 1..].iter().any(|l| &l.name == *s))
        {
            return Err(format!(
                "[[data.derived]] `{}` uses `{s}`, which is itself or defined after it",
                d.name
            ));
        }
    }
    Ok(())
}

/// Whether an indicator cell is true (`None`: not an indicator).
fn truthy(cell: &str) -> Option<bool> {
    let t = cell.trim();
    match t.to_ascii_lowercase().as_str() {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => t
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(|v| v != 0.0),
    }
}

/// Adds the derived columns to `columns` and to each row of `rows` (`lines`: each row's line,
/// for errors), in order. A source column the file lacks is an error that names the derived
/// column when `required`; otherwise the derived column (and any that use it) is left out —
/// inference on files without the sensitive or task columns.
pub fn apply(
    derived: &[DerivedSpec],
    path: &Path,
    columns: &mut Vec<String>,
    rows: &mut [StringRecord],
    lines: &[u64],
    missing: &HashSet<&str>,
    required: bool,
) -> Result<(), DataError> {
    let token = missing
        .iter()
        .copied()
        .find(|m| !m.is_empty())
        .unwrap_or("");
    for d in derived {
        let rule = d.rule().map_err(DataError::Schema)?;
        if columns.contains(&d.name) {
            return Err(DataError::Schema(format!(
                "{}: [[data.derived]] `{}` is also a column of the file; choose another name",
                path.display(),
                d.name
            )));
        }
        let used_as = format!("a source of the derived column `{}`", d.name);
        let mut at = Vec::new();
        for s in d.sources() {
            match crate::source::find_column(path, columns, &[], s, &used_as) {
                Ok(i) => at.push(i),
                Err(e) if required => return Err(e),
                Err(_) => break,
            }
        }
        if at.len() < d.sources().len() {
            continue;
        }
        for (r, row) in rows.iter_mut().enumerate() {
            let cells: Vec<&str> = at.iter().map(|&i| row.get(i).unwrap_or("")).collect();
            let is_missing = |c: &str| missing.contains(c.trim());
            let value = match rule {
                Rule::Cross if cells.iter().any(|c| is_missing(c)) => token.to_string(),
                Rule::Cross => cells
                    .iter()
                    .map(|c| c.trim())
                    .collect::<Vec<_>>()
                    .join(CROSS_SEPARATOR),
                Rule::Any => {
                    let mut any_missing = false;
                    let mut any_true = false;
                    for (c, &i) in cells.iter().zip(&at) {
                        if is_missing(c) {
                            any_missing = true;
                            continue;
                        }
                        match truthy(c) {
                            Some(t) => any_true |= t,
                            None => {
                                return Err(DataError::NotIndicator {
                                    path: path.to_path_buf(),
                                    line: lines.get(r).copied().unwrap_or(0),
                                    column: columns[i].clone(),
                                    value: c.to_string(),
                                    derived: d.name.clone(),
                                });
                            }
                        }
                    }
                    match (any_true, any_missing) {
                        (true, _) => "1".into(),
                        (false, true) => token.to_string(),
                        (false, false) => "0".into(),
                    }
                }
            };
            row.push_field(&value);
        }
        columns.push(d.name.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, cross: Option<&[&str]>, any: Option<&[&str]>) -> DerivedSpec {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        DerivedSpec {
            name: name.into(),
            cross: cross.map(v),
            any: any.map(v),
        }
    }

    #[test]
    fn cross_and_any_columns_are_computed_row_by_row() {
        let mut columns: Vec<String> = ["sex", "race", "a65", "a75"].map(String::from).to_vec();
        let mut rows: Vec<StringRecord> = [
            ["Female", "Black", "0", "1"],
            ["Male", "White", "0", "0"],
            ["Male", "?", "?", "0"],
            ["Female", "White", "?", "1"],
        ]
        .iter()
        .map(|r| StringRecord::from(r.to_vec()))
        .collect();
        let derived = [
            DerivedSpec::cross_of(&["sex".into(), "race".into()]),
            spec("old", None, Some(&["a65", "a75"])),
        ];
        validate(&derived).unwrap();
        let missing: HashSet<&str> = ["?", ""].into();
        apply(
            &derived,
            Path::new("f.csv"),
            &mut columns,
            &mut rows,
            &[2, 3, 4, 5],
            &missing,
            true,
        )
        .unwrap();
        assert_eq!(columns[4..], ["sex × race", "old"]);
        let got: Vec<(&str, &str)> = rows.iter().map(|r| (&r[4], &r[5])).collect();
        assert_eq!(
            got,
            [
                ("Female × Black", "1"),
                ("Male × White", "0"),
                ("?", "?"),
                ("Female × White", "1")
            ]
        );
    }

    #[test]
    fn bad_derived_columns_are_named() {
        let e = validate(&[spec("x", None, None)]).unwrap_err();
        assert!(e.contains("`x`") && e.contains("cross"), "{e}");
        let e = validate(&[spec("x", Some(&["a"]), None)]).unwrap_err();
        assert!(e.contains("at least two"), "{e}");
        let e = validate(&[spec("x", Some(&["a", "b"]), Some(&["c"]))]).unwrap_err();
        assert!(e.contains("not both"), "{e}");
        let e =
            validate(&[spec("x", None, Some(&["y"])), spec("y", None, Some(&["a"]))]).unwrap_err();
        assert!(e.contains("defined after"), "{e}");
        let mut columns = vec!["a".to_string()];
        let mut rows = vec![StringRecord::from(vec!["maybe"])];
        let missing: HashSet<&str> = ["?"].into();
        let p = Path::new("f.csv");
        let e = apply(
            &[spec("x", None, Some(&["a"]))],
            p,
            &mut columns,
            &mut rows,
            &[7],
            &missing,
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 7") && e.contains("`a`") && e.contains("maybe"),
            "{e}"
        );
        let e = apply(
            &[spec("x", None, Some(&["b"]))],
            p,
            &mut columns,
            &mut rows,
            &[7],
            &missing,
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`b`") && e.contains("derived column `x`"), "{e}");
        // Not required (inference): left out.
        apply(
            &[spec("x", None, Some(&["b"]))],
            p,
            &mut columns,
            &mut rows,
            &[7],
            &missing,
            false,
        )
        .unwrap();
        assert_eq!(columns, ["a"]);
    }
}
