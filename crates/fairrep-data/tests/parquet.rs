//! Parquet input: column types as cells, embeddings as feature groups, nulls as missing
//! values, unreadable types named only when used; the fitted preprocessing of a run.

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder};
use arrow_array::{
    ArrayRef, DictionaryArray, Float32Array, Float64Array, Int64Array, StringArray,
    types::Int32Type,
};
use fairrep_data::stream::RowStream;
use fairrep_data::table::{ReadOptions, Table};
use fairrep_data::*;
mod common;

use common::write_parquet;
use std::path::Path;
use std::sync::Arc;

fn opts(null: &str) -> ReadOptions<'_> {
    ReadOptions {
        delimiter: b',',
        skip_rows: 0,
        columns: None,
        header: true,
        null,
    }
}

/// Four rows: a numeric id, a float32 and a float64 column, a dictionary-encoded category,
/// a 2-float embedding, and a date column nobody uses.
fn sample(dir: &Path) -> std::path::PathBuf {
    let mut emb = FixedSizeListBuilder::new(Float32Builder::new(), 2);
    for (a, b) in [(0.5f32, -1.0f32), (1.5, 2.0), (-0.25, 0.0), (3.0, 1.0)] {
        emb.values().append_value(a);
        emb.values().append_value(b);
        emb.append(true);
    }
    let dict: DictionaryArray<Int32Type> = vec![Some("a"), Some("b"), None, Some("a")]
        .into_iter()
        .collect();
    let path = dir.join("s.parquet");
    write_parquet(
        &path,
        vec![
            (
                "id",
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef,
            ),
            (
                "x32",
                Arc::new(Float32Array::from(vec![
                    Some(0.1f32),
                    Some(2.0),
                    None,
                    Some(4.0),
                ])),
            ),
            ("y", Arc::new(Float64Array::from(vec![0.1, 0.2, 0.3, 0.4]))),
            ("cat", Arc::new(dict)),
            ("sex", Arc::new(StringArray::from(vec!["F", "M", "F", "M"]))),
            ("emb", Arc::new(emb.finish())),
            (
                "day",
                Arc::new(arrow_array::Date32Array::from(vec![1, 2, 3, 4])),
            ),
        ],
    );
    path
}

#[test]
fn column_types_become_cells() {
    let d = tempfile::tempdir().unwrap();
    let t = Table::read(&sample(d.path()), &opts("?")).unwrap();
    assert_eq!(
        t.columns,
        vec!["id", "x32", "y", "cat", "sex", "emb_0", "emb_1", "day"]
    );
    let row = |i: usize| t.rows[i].iter().collect::<Vec<_>>();
    // A float32 is its exact value; nulls read as the first missing-value token.
    assert_eq!(
        row(0)[..7],
        ["1", "0.10000000149011612", "0.1", "a", "F", "0.5", "-1"]
    );
    assert_eq!(row(2)[1], "?");
    assert_eq!(row(2)[3], "?");
    assert_eq!(t.lines, vec![1, 2, 3, 4]);
    // The date column is there, and an error only when used.
    let e = t
        .column("day", "a numeric feature")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`day`") && e.contains("Date32"), "{e}");
    // Streaming in chunks, with rows skipped at the top.
    let mut s = RowStream::open(
        &sample(d.path()),
        &ReadOptions {
            skip_rows: 1,
            ..opts("?")
        },
        3,
    )
    .unwrap();
    let first = s.next_chunk(3).unwrap().unwrap();
    assert_eq!(first.lines, vec![2, 3]);
    let second = s.next_chunk(3).unwrap().unwrap();
    assert_eq!(second.lines, vec![4]);
    assert!(s.next_chunk(3).unwrap().is_none());
}

#[test]
fn embeddings_are_feature_groups_and_preprocessing_round_trips() {
    let d = tempfile::tempdir().unwrap();
    sample(d.path());
    std::fs::copy(d.path().join("s.parquet"), d.path().join("t.parquet")).unwrap();
    #[derive(serde::Deserialize)]
    struct C {
        data: DataSpec,
        tasks: Vec<TaskSpec>,
    }
    let c: C = toml::from_str(
        r#"
[data]
train = { path = "s.parquet" }
test = { path = "t.parquet" }
validation_fraction = 0.0
missing = "impute"
[data.features]
categorical = ["cat"]
numeric = ["x32"]
vectors = ["emb"]
[data.sensitive]
column = "sex"
[[tasks]]
name = "big"
column = "y"
positive = { gt = 0.15 }
role = "source"
"#,
    )
    .unwrap();
    let p = prepare(&c.data, &c.tasks, d.path(), 1).unwrap();
    assert_eq!(
        p.features,
        vec!["cat=<missing>", "cat=a", "cat=b", "x32", "emb_0", "emb_1"]
    );
    let pre = &p.preprocessing;
    assert_eq!(pre.vectors.len(), 1);
    assert_eq!(
        (pre.vectors[0].column.as_str(), pre.vectors[0].width),
        ("emb", 2)
    );
    // emb_0 = [0.5, 1.5, -0.25, 3.0]: mean 1.1875, population std.
    let v = [0.5f64, 1.5, -0.25, 3.0];
    let mean = v.iter().sum::<f64>() / 4.0;
    let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 4.0).sqrt();
    assert!((p.train.row(0)[4] as f64 - (0.5 - mean) / std).abs() < 1e-6);
    // A null in a numeric column is imputed with the mean: standardised 0.
    assert_eq!(p.train.row(2)[3], 0.0);
    assert_eq!(p.train.row(2)[..3], [1.0, 0.0, 0.0]);
    // The fitted preprocessing survives JSON and encodes a row as training did.
    let text = serde_json::to_string(pre).unwrap();
    let back: Preprocessing = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, pre);
    let t = Table::read(&d.path().join("t.parquet"), &opts("")).unwrap();
    let b = back.bind(&t.path, &t.columns, &t.unreadable).unwrap();
    let mut out = vec![0f32; 6];
    let mut unseen = vec![0u64; 3];
    let missing = back.missing_tokens();
    back.encode_row(
        &b,
        &t.rows[1],
        &missing,
        (&t.path, 2),
        &mut out,
        &mut unseen,
    )
    .unwrap();
    assert_eq!(out, p.train.row(1));
    // An unknown field in preprocessing.json is refused, naming it.
    let e = serde_json::from_str::<Preprocessing>(&text.replacen('{', "{\"extra\":1,", 1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("extra"), "{e}");
}

#[test]
fn a_vector_group_that_is_not_there_is_named() {
    let d = tempfile::tempdir().unwrap();
    sample(d.path());
    #[derive(serde::Deserialize)]
    struct C {
        data: DataSpec,
        tasks: Vec<TaskSpec>,
    }
    let c: C = toml::from_str(
        r#"
[data]
train = { path = "s.parquet" }
test_fraction = 0.25
[data.features]
vectors = ["embedding"]
[data.sensitive]
column = "sex"
[[tasks]]
name = "big"
column = "y"
positive = { gt = 0.15 }
role = "source"
"#,
    )
    .unwrap();
    let e = prepare(&c.data, &c.tasks, d.path(), 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`embedding`") && e.contains("s.parquet"), "{e}");
}

/// A Parquet file read into typed columns directly (numbers never written as text) gives the
/// columns its rows of text give (`Table::read`, then typed): numbers, nulls, NaN, ±inf,
/// integers beyond 2⁵³, strings, dictionaries, booleans, embeddings with a null list, an
/// unreadable column; with a null token that is a missing value, or none; skipping rows.
#[test]
fn typed_parquet_columns_equal_the_text_rows() {
    use fairrep_data::columnar::{ColumnTable, ColumnUse};
    let dir = tempfile::tempdir().unwrap();
    let mut emb = FixedSizeListBuilder::new(Float32Builder::new(), 2);
    for (k, (a, b)) in [
        (0.5f32, -1.0f32),
        (1.5, f32::NAN),
        (-0.25, 0.0),
        (3.0, 1.0),
        (1.0, 2.0),
    ]
    .into_iter()
    .enumerate()
    {
        emb.values().append_value(a);
        emb.values().append_value(b);
        emb.append(k != 3);
    }
    let path = dir.path().join("typed.parquet");
    let big = (1i64 << 53) + 1;
    write_parquet(
        &path,
        vec![
            (
                "i",
                Arc::new(Int64Array::from(vec![
                    Some(1),
                    None,
                    Some(-3),
                    Some(4),
                    Some(5),
                ])) as ArrayRef,
            ),
            ("big", Arc::new(Int64Array::from(vec![1, big, 3, 4, 5]))),
            (
                "f",
                Arc::new(Float64Array::from(vec![
                    Some(0.1),
                    Some(f64::NAN),
                    None,
                    Some(f64::INFINITY),
                    Some(1e300),
                ])),
            ),
            (
                "f32",
                Arc::new(Float32Array::from(vec![0.1f32, 2.0, 3.5, -0.0, 1e-7])),
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![
                    Some(" a"),
                    None,
                    Some("3"),
                    Some("b"),
                    Some(""),
                ])),
            ),
            (
                "b",
                Arc::new(arrow_array::BooleanArray::from(vec![
                    true, false, true, true, false,
                ])),
            ),
            (
                "d",
                Arc::new(
                    vec![Some("u"), None, Some("v"), Some("u"), Some("w")]
                        .into_iter()
                        .collect::<DictionaryArray<Int32Type>>(),
                ),
            ),
            ("emb", Arc::new(emb.finish())),
            (
                "day",
                Arc::new(arrow_array::Date32Array::from(vec![1, 2, 3, 4, 5])),
            ),
        ],
    );
    for (null, nan) in [("?", Some("?")), ("", None), ("", Some(""))] {
        for skip in [0, 2] {
            let o = ReadOptions {
                skip_rows: skip,
                ..opts(null)
            };
            let typed = ColumnTable::read(&path, &o, nan, &|_| ColumnUse::Text).unwrap();
            let t = Table::read(&path, &o).unwrap();
            let text = ColumnTable::from_rows(
                &path,
                t.columns.clone(),
                t.unreadable.clone(),
                (t.rows.clone(), &t.lines),
                nan,
                &|_| ColumnUse::Text,
            );
            assert_eq!(typed.columns, text.columns);
            assert_eq!(typed.lines, text.lines);
            assert_eq!(typed.unreadable, text.unreadable);
            for (c, name) in typed.columns.iter().enumerate() {
                if name == "day" {
                    continue; // unreadable: its cells are never used
                }
                for r in 0..typed.n() {
                    assert_eq!(
                        typed.cell(r, c),
                        text.cell(r, c),
                        "{name} row {r} null {null:?} skip {skip}"
                    );
                }
                let kind = |t: &ColumnTable| matches!(t.values(c), TypedColumn::Numbers(_));
                assert_eq!(kind(&typed), kind(&text), "{name} null {null:?}");
            }
        }
    }
}
