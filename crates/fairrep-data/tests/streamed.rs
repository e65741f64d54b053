//! `[data.stream]`: training rows streamed from shards. Windows cover every training row once per
//! epoch; a resume from any window's start reads the same windows as the uninterrupted pass;
//! the held-out rows follow a seeded hash of (file name, row), not the directory; `mode =
//! "auto"` keeps a small table in memory; bad combinations are errors that say why.

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder};
use arrow_array::{ArrayRef, Float64Array, StringArray};
use fairrep_data::*;
mod common;

use common::write_parquet;
use std::path::Path;
use std::sync::Arc;

#[derive(serde::Deserialize)]
struct C {
    data: DataSpec,
    tasks: Vec<TaskSpec>,
}

/// A pseudo-random number in [0, 1) for row `i`, column `j` (a fixed sequence, no RNG crate).
fn noise(i: usize, j: usize) -> f64 {
    let h = (i as u64 * 0x9E37_79B9 + j as u64 * 0x85EB_CA6B) % 1_000_003;
    h as f64 / 1_000_003.0
}

/// Shard `k` of `rows` rows as Parquet: a 3-float embedding, a numeric and a categorical
/// feature, the group and a binary task's column.
fn write_parquet_shard(path: &Path, k: usize, rows: usize) {
    let base = k * 10_000;
    let mut emb = FixedSizeListBuilder::new(Float32Builder::new(), 3);
    for i in 0..rows {
        for j in 0..3 {
            emb.values().append_value(noise(base + i, j) as f32);
        }
        emb.append(true);
    }
    let x: Vec<f64> = (0..rows).map(|i| noise(base + i, 7) * 10.0).collect();
    let c: Vec<&str> = (0..rows).map(|i| ["a", "b", "c"][(base + i) % 3]).collect();
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        ("emb", Arc::new(emb.finish())),
        ("x", Arc::new(Float64Array::from(x))),
        ("c", Arc::new(StringArray::from(c))),
    ];
    columns.extend(group_and_task(base, rows));
    write_parquet(path, columns);
}

/// The group column `s` and the task's column `y` of a shard whose first row is `base`.
fn group_and_task(base: usize, rows: usize) -> [(&'static str, ArrayRef); 2] {
    let s: Vec<&str> = (0..rows).map(|i| ["f", "m"][(base + i) % 2]).collect();
    let y: Vec<f64> = (0..rows).map(|i| noise(base + i, 9)).collect();
    [
        ("s", Arc::new(StringArray::from(s))),
        ("y", Arc::new(Float64Array::from(y))),
    ]
}

/// Shard `k` of `rows` rows as CSV (header `x,c,s,y`).
fn write_csv_shard(path: &Path, k: usize, rows: usize) {
    let base = k * 10_000;
    let mut text = String::from("x,c,s,y\n");
    for i in 0..rows {
        text += &format!(
            "{},{},{},{}\n",
            noise(base + i, 7) * 10.0,
            ["a", "b", "c"][(base + i) % 3],
            ["f", "m"][(base + i) % 2],
            noise(base + i, 9)
        );
    }
    std::fs::write(path, text).unwrap();
}

fn config(train: &str, features: &str, stream: &str) -> C {
    toml::from_str(&format!(
        r#"
[data]
train = {{ path = "{train}" }}
test_fraction = 0.1
validation_fraction = 0.2
[data.features]
{features}
[data.sensitive]
column = "s"
[data.stream]
{stream}
[[tasks]]
name = "high"
column = "y"
positive = {{ gt = 0.5 }}
role = "source"
"#
    ))
    .unwrap()
}

/// A row's bits: features, group and task targets (to compare rows across splits).
type RowBits = (Vec<u32>, usize, Vec<u32>);

fn rows_of(s: &Split) -> Vec<RowBits> {
    (0..s.n)
        .map(|i| {
            (
                s.row(i).iter().map(|v| v.to_bits()).collect(),
                s.s[i],
                s.targets.iter().map(|t| t[i].to_bits()).collect(),
            )
        })
        .collect()
}

fn windows(stream: &dyn TrainStream, epoch: usize, from: Option<WindowStart>) -> Vec<Window> {
    let mut out = Vec::new();
    stream
        .windows(epoch, 128, from, &mut || None, &mut |w| {
            out.push(w);
            true
        })
        .unwrap();
    out
}

#[test]
fn windows_cover_every_training_row_once_and_a_resume_reads_the_same_windows() {
    let d = tempfile::tempdir().unwrap();
    for (k, rows) in [700, 900, 500].into_iter().enumerate() {
        write_parquet_shard(&d.path().join(format!("part-{k}.parquet")), k, rows);
    }
    let c = config(
        "*.parquet",
        "categorical = [\"c\"]\nnumeric = [\"x\"]\nvectors = [\"emb\"]",
        "mode = \"always\"\nfit_rows = 1000000",
    );
    let p = prepare(&c.data, &c.tasks, d.path(), 3).unwrap();
    let stream = p.streamed.clone().expect("streamed");
    // Every training row is in the fitting sample here (fit_rows is larger).
    assert_eq!(stream.rows(), p.train.n);
    assert_eq!(p.train.n + p.valid.n + p.test.n, 2_100);
    // The hash holds out about 20% and 10% (binomial: ±5 standard deviations).
    for (n, share) in [(p.valid.n, 0.2f64), (p.test.n, 0.1)] {
        let sd = (2_100.0 * share * (1.0 - share)).sqrt();
        assert!((n as f64 - 2_100.0 * share).abs() < 5.0 * sd, "{n}");
    }
    assert_eq!(
        p.features,
        ["c=a", "c=b", "c=c", "x", "emb_0", "emb_1", "emb_2"]
    );
    let epoch1 = windows(stream.as_ref(), 1, None);
    let last = epoch1.len() - 1;
    assert!(epoch1[..last].iter().all(|w| w.split.n == 128));
    assert_eq!(
        epoch1.iter().map(|w| w.split.n).sum::<usize>(),
        stream.rows()
    );
    assert!(
        (epoch1.iter().enumerate()).all(|(i, w)| w.start.window == i),
        "windows are numbered in order"
    );
    // The same rows, encoded the same, as the split held in memory.
    let mut streamed: Vec<RowBits> = epoch1.iter().flat_map(|w| rows_of(&w.split)).collect();
    let mut held = rows_of(&p.train);
    streamed.sort();
    held.sort();
    assert_eq!(streamed, held);
    // Some window starts in the middle of a shard.
    assert!(epoch1.iter().any(|w| w.start.row > 0));
    // A resume from any window's start reads that window and the rest as the whole pass did.
    let epoch2 = windows(stream.as_ref(), 2, None);
    for (i, w) in epoch2.iter().enumerate() {
        let again = windows(stream.as_ref(), 2, Some(w.start));
        assert_eq!(again.len(), epoch2.len() - i);
        for (a, b) in again.iter().zip(&epoch2[i..]) {
            assert_eq!(a.start, b.start);
            assert_eq!(rows_of(&a.split), rows_of(&b.split));
        }
    }
    // Windows given back (`spare`, dirty) are filled again to the same rows.
    let mut pool: Vec<Split> = epoch1.into_iter().map(|w| w.split).collect();
    let mut again = Vec::new();
    stream
        .windows(2, 128, None, &mut || pool.pop(), &mut |w| {
            again.push(w);
            true
        })
        .unwrap();
    assert_eq!(again.len(), epoch2.len());
    for (a, b) in again.iter().zip(&epoch2) {
        assert_eq!(rows_of(&a.split), rows_of(&b.split));
    }
    // The embedding was standardised straight from the Parquet values, the same bits as the
    // cells (`held`, the sample, is encoded from cells).
    assert!(stream.summary().vectors_direct);
    // The shard order changes from epoch to epoch (seeded): not every epoch starts alike.
    let firsts: Vec<Vec<RowBits>> = (1..=6)
        .map(|e| rows_of(&windows(stream.as_ref(), e, None)[0].split))
        .collect();
    assert!(firsts.iter().any(|f| *f != firsts[0]));
    // Stopping early: `each` returning false ends the pass.
    let mut seen = 0;
    stream
        .windows(1, 128, None, &mut || None, &mut |_| {
            seen += 1;
            seen < 2
        })
        .unwrap();
    assert_eq!(seen, 2);
}

/// The held-out rows follow (seed, file name, row): the shards moved to another directory give
/// the same validation split; another seed another one. A `fit_rows` below the training rows
/// fits on a sample of about that size, while every training row is still streamed.
#[test]
fn held_out_rows_follow_the_file_name_and_row_and_the_sample_is_bounded() {
    let d = tempfile::tempdir().unwrap();
    for dir in ["one", "two"] {
        std::fs::create_dir(d.path().join(dir)).unwrap();
        for (k, rows) in [800, 1200].into_iter().enumerate() {
            write_csv_shard(&d.path().join(dir).join(format!("p{k}.csv")), k, rows);
        }
    }
    let features = "categorical = [\"c\"]\nnumeric = [\"x\"]";
    let stream = "mode = \"always\"\nfit_rows = 300";
    let prep = |dir: &str, seed: u64| {
        let c = config(dir, features, stream);
        prepare(&c.data, &c.tasks, d.path(), seed).unwrap()
    };
    let (a, b) = (prep("one", 5), prep("two", 5));
    assert_eq!(rows_of(&a.valid), rows_of(&b.valid));
    assert_eq!(rows_of(&a.test), rows_of(&b.test));
    let other = prep("one", 6);
    assert_ne!(rows_of(&a.valid), rows_of(&other.valid));
    let s = a.streamed.clone().unwrap();
    // About 300 of the ≈ 1,400 training rows (binomial, ±5 sd).
    assert!(
        (a.train.n as f64 - 300.0).abs() < 5.0 * (300.0f64 * 0.79).sqrt(),
        "{}",
        a.train.n
    );
    assert_eq!(s.summary().fit_rows, a.train.n);
    assert_eq!(
        s.rows() + a.valid.n + a.test.n,
        2_000,
        "every row is in one split"
    );
    let total: usize = windows(s.as_ref(), 1, None).iter().map(|w| w.split.n).sum();
    assert!(!s.summary().vectors_direct, "CSV shards are read as cells");
    assert_eq!(total, s.rows());
}

#[test]
fn auto_keeps_a_small_table_in_memory() {
    // The defaults as parsed from an empty table and as `Default` gives them.
    assert_eq!(
        toml::from_str::<StreamSpec>("").unwrap(),
        StreamSpec::default()
    );
    let d = tempfile::tempdir().unwrap();
    write_csv_shard(&d.path().join("t.csv"), 0, 400);
    let features = "numeric = [\"x\"]";
    let auto = config("t.csv", features, "mode = \"auto\"");
    let p = prepare(&auto.data, &auto.tasks, d.path(), 1).unwrap();
    assert!(p.streamed.is_none());
    let mut plain = config("t.csv", features, "");
    plain.data.stream = None;
    let q = prepare(&plain.data, &plain.tasks, d.path(), 1).unwrap();
    assert_eq!(rows_of(&p.train), rows_of(&q.train));
    // Above the threshold (0 MiB) it streams.
    let tiny = config("t.csv", features, "mode = \"auto\"\nabove_mib = 0.0");
    let r = prepare(&tiny.data, &tiny.tasks, d.path(), 1).unwrap();
    assert!(r.streamed.is_some());
}

#[test]
fn streaming_errors_say_why() {
    /// What `prepare` refuses `c` with.
    fn error_of(c: &C, dir: &Path) -> String {
        prepare(&c.data, &c.tasks, dir, 1).unwrap_err().to_string()
    }
    let d = tempfile::tempdir().unwrap();
    write_csv_shard(&d.path().join("a.csv"), 0, 300);
    std::fs::write(d.path().join("b.csv"), "x,c,s\n1,a,f\n").unwrap();
    let features = "numeric = [\"x\"]";
    let c = config("*.csv", features, "mode = \"always\"");
    let e = error_of(&c, d.path());
    assert!(
        e.contains("b.csv") && e.contains("differ from those of the first shard"),
        "{e}"
    );
    // Derived columns are computed from one file's text.
    let mut c = config("a.csv", features, "mode = \"always\"");
    c.data.derived = toml::from_str::<C>(
        r#"
[data]
train = { path = "a.csv" }
[data.features]
[data.sensitive]
column = "s"
[[data.derived]]
name = "cs"
cross = ["c", "s"]
[[tasks]]
name = "t"
column = "y"
positive = { gt = 0.5 }
role = "source"
"#,
    )
    .unwrap()
    .data
    .derived;
    let e = error_of(&c, d.path());
    assert!(
        e.contains("[data.stream]") && e.contains("[[data.derived]]"),
        "{e}"
    );
    let c = config("a.csv", features, "mode = \"always\"\nshuffle_rows = 0");
    let e = error_of(&c, d.path());
    assert!(e.contains("shuffle_rows"), "{e}");
    // An unknown key is named by the parser.
    let e = toml::from_str::<C>(
        r#"
[data]
train = { path = "a.csv" }
[data.features]
[data.sensitive]
column = "s"
[data.stream]
shuffle = 5
[[tasks]]
name = "t"
column = "y"
positive = { gt = 0.5 }
role = "source"
"#,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("shuffle"), "{e}");
}

/// Vectors stored as f64 with missing values: rows with every value present take the whole-row
/// path, the others the element path; both give the cells' bits (imputed values and all).
#[test]
fn f64_vectors_with_missing_values_match_the_cells() {
    use arrow_array::builder::Float64Builder;
    let d = tempfile::tempdir().unwrap();
    for (k, rows) in [300, 400].into_iter().enumerate() {
        let base = k * 10_000;
        let mut emb = FixedSizeListBuilder::new(Float64Builder::new(), 3);
        for i in 0..rows {
            for j in 0..3 {
                // An element missing every 17th row; a whole list every 29th.
                if i % 17 == 3 && j == 1 {
                    emb.values().append_null();
                } else {
                    emb.values().append_value(noise(base + i, j) * 4.0 - 1.0);
                }
            }
            emb.append(i % 29 != 5);
        }
        let mut columns: Vec<(&str, ArrayRef)> = vec![("emb", Arc::new(emb.finish()))];
        columns.extend(group_and_task(base, rows));
        write_parquet(&d.path().join(format!("part-{k}.parquet")), columns);
    }
    let mut c = config(
        "*.parquet",
        "vectors = [\"emb\"]",
        "mode = \"always\"\nfit_rows = 1000000",
    );
    c.data.missing = MissingPolicy::Impute;
    let p = prepare(&c.data, &c.tasks, d.path(), 3).unwrap();
    let stream = p.streamed.clone().expect("streamed");
    assert!(stream.summary().vectors_direct);
    assert_eq!(stream.rows(), p.train.n);
    let mut streamed: Vec<RowBits> = windows(stream.as_ref(), 1, None)
        .iter()
        .flat_map(|w| rows_of(&w.split))
        .collect();
    let mut held = rows_of(&p.train);
    streamed.sort();
    held.sort();
    assert_eq!(streamed, held);
    // Imputed places (0 after standardising) are there.
    assert!(held.iter().any(|(x, _, _)| x.contains(&0.0f32.to_bits())));
}
