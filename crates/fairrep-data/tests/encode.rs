//! The encoder on small files whose right answer can be worked out by hand.

use fairrep_data::*;
use std::io::Write;
use std::path::Path;

const TRAIN: &str = "\
age,job,sex,income,hours
10,a,F,high,40
20,b,M,low,50
30,a,M,high,?
40,?,F,low,30
";
const TEST: &str = "\
age,job,sex,income,hours
50,c,F,high,45
?,a,M,low,40
";

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::File::create(dir.join(name))
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
}

/// The `[data]` and `[[tasks]]` of a config text.
fn parse(text: &str) -> (DataSpec, Vec<TaskSpec>) {
    #[derive(serde::Deserialize)]
    struct C {
        data: DataSpec,
        tasks: Vec<TaskSpec>,
    }
    let c: C = toml::from_str(text).unwrap();
    (c.data, c.tasks)
}

fn config(extra: &str) -> (DataSpec, Vec<TaskSpec>) {
    let text = format!(
        r#"
[data]
train = {{ path = "train.csv" }}
test = {{ path = "test.csv" }}
validation_fraction = 0.0
{extra}
[data.features]
categorical = ["job"]
numeric = ["age"]
[data.sensitive]
column = "sex"

[[tasks]]
name = "rich"
column = "income"
positive = {{ eq = "high" }}
role = "source"

[[tasks]]
name = "long"
column = "hours"
positive = {{ gt = 40 }}
role = "transfer"
"#
    );
    parse(&text)
}

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "train.csv", TRAIN);
    write(d.path(), "test.csv", TEST);
    d
}

#[test]
fn drop_rows_policy_fits_on_train_only() {
    let d = setup();
    let (spec, tasks) = config("");
    let p = prepare(&spec, &tasks, d.path(), 1).unwrap();
    // Rows 3 (hours ?) and 4 (job ?) of train and row 2 (age ?) of test are dropped.
    assert_eq!(p.dropped.train, 2);
    assert_eq!(p.dropped.test, 1);
    assert_eq!(p.train.n, 2);
    assert_eq!(p.features, vec!["job=a", "job=b", "age"]);
    assert_eq!(p.groups, vec!["F", "M"]);
    // age in train: 10, 20 -> mean 15, std 5.
    assert_eq!(p.train.row(0), &[1.0, 0.0, -1.0]);
    assert_eq!(p.train.row(1), &[0.0, 1.0, 1.0]);
    // Test: unseen category c -> all zeros; age 50 -> (50 - 15) / 5 = 7.
    assert_eq!(p.test.row(0), &[0.0, 0.0, 7.0]);
    assert_eq!(p.train.labels[0], vec![true, false]);
    assert_eq!(p.train.labels[1], vec![false, true]);
    assert_eq!(p.train.s, vec![0, 1]);
    assert_eq!(p.task_indices(Role::Transfer), vec![1]);
}

#[test]
fn impute_policy_keeps_feature_gaps_but_not_label_gaps() {
    let d = setup();
    let (spec, tasks) = config("missing = \"impute\"");
    let e = prepare(&spec, &tasks, d.path(), 1).unwrap_err().to_string();
    assert!(e.contains("line 4") && e.contains("hours"), "{e}");

    // Without the hours gap, imputation works: job ? becomes its own category.
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "train.csv", &TRAIN.replace("high,?", "high,41"));
    write(d.path(), "test.csv", TEST);
    let p = prepare(&spec, &tasks, d.path(), 1).unwrap();
    assert_eq!(p.train.n, 4);
    assert_eq!(p.features, vec!["job=<missing>", "job=a", "job=b", "age"]);
    // Test age ? takes the training mean (25) -> standardised 0.
    assert_eq!(p.test.row(1)[3], 0.0);
}

#[test]
fn error_policy_names_file_line_and_column() {
    let d = setup();
    let (spec, tasks) = config("missing = \"error\"");
    let e = prepare(&spec, &tasks, d.path(), 1).unwrap_err().to_string();
    assert!(
        e.contains("train.csv") && e.contains("line 4") && e.contains("`hours`"),
        "{e}"
    );
}

#[test]
fn schema_errors_name_the_culprit() {
    let d = setup();
    let (mut spec, tasks) = config("");
    spec.features.numeric.push("salary".into());
    let e = prepare(&spec, &tasks, d.path(), 1).unwrap_err().to_string();
    assert!(
        e.contains("`salary`") && e.contains("numeric feature"),
        "{e}"
    );

    let (mut spec, tasks) = config("");
    spec.features.numeric.push("hours".into());
    let e = prepare(&spec, &tasks, d.path(), 1).unwrap_err().to_string();
    assert!(e.contains("`hours`") && e.contains("task `long`"), "{e}");

    let (spec, mut tasks) = config("");
    tasks[1].positive = Some(Predicate::Gt(1000.0));
    let e = prepare(&spec, &tasks, d.path(), 1).unwrap_err().to_string();
    assert!(e.contains("`long`") && e.contains("never true"), "{e}");
}

#[test]
fn text_in_numeric_column_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "train.csv", &TRAIN.replace("20,b", "twenty,b"));
    write(d.path(), "test.csv", TEST);
    let (spec, tasks) = config("");
    let e = prepare(&spec, &tasks, d.path(), 1).unwrap_err().to_string();
    assert!(
        e.contains("line 3") && e.contains("`age`") && e.contains("twenty"),
        "{e}"
    );
}

#[test]
fn validation_split_is_seeded() {
    let d = setup();
    let (mut spec, tasks) = config("missing = \"impute\"");
    let body = (0..100)
        .map(|i| {
            format!(
                "{i},a,{},{},{}\n",
                ["F", "M"][i % 2],
                ["high", "low"][i % 3 % 2],
                30 + i % 20
            )
        })
        .collect::<String>();
    write(
        d.path(),
        "train.csv",
        &format!("age,job,sex,income,hours\n{body}"),
    );
    spec.validation_fraction = 0.2;
    let a = prepare(&spec, &tasks, d.path(), 7).unwrap();
    let b = prepare(&spec, &tasks, d.path(), 7).unwrap();
    let c = prepare(&spec, &tasks, d.path(), 8).unwrap();
    assert_eq!(a.valid.n, 20);
    assert_eq!(a.train.n, 80);
    assert_eq!(a.valid.x, b.valid.x);
    assert_ne!(a.valid.x, c.valid.x);
}

#[test]
fn single_group_is_rejected() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "train.csv", &TRAIN.replace(",M,", ",F,"));
    write(d.path(), "test.csv", TEST);
    let (spec, tasks) = config("");
    let e = prepare(&spec, &tasks, d.path(), 1).unwrap_err().to_string();
    assert!(e.contains("single group"), "{e}");
}

/// `[data.sensitive] columns`: the intersection of two columns, one group per combination
/// present; `[[data.derived]] any`: a task defined over indicator columns.
#[test]
fn intersectional_groups_and_derived_tasks() {
    let d = tempfile::tempdir().unwrap();
    let rows = "\
age,sex,race,a65,a75,income
10,F,B,0,0,high
20,M,W,1,0,low
30,M,B,0,1,high
40,F,W,0,0,low
50,F,B,0,1,low
60,M,W,0,0,high
";
    write(d.path(), "train.csv", rows);
    write(d.path(), "test.csv", rows);
    let text = r#"
[data]
train = { path = "train.csv" }
test = { path = "test.csv" }
validation_fraction = 0.0
[data.features]
numeric = ["age"]
[data.sensitive]
columns = ["sex", "race"]
[[data.derived]]
name = "old"
any = ["a65", "a75"]
[[tasks]]
name = "rich"
column = "income"
positive = { eq = "high" }
role = "source"
[[tasks]]
name = "old"
column = "old"
positive = { eq = "1" }
role = "transfer"
"#;
    let (spec, tasks) = parse(text);
    let p = prepare(&spec, &tasks, d.path(), 1).unwrap();
    assert_eq!(p.groups, ["F × B", "F × W", "M × B", "M × W"]);
    assert_eq!(p.test.s, [0, 3, 2, 1, 0, 3]);
    assert_eq!(p.test.labels[1], [false, true, true, false, true, false]);
    assert_eq!(p.preprocessing.sensitive.column, "sex × race");
    assert_eq!(p.preprocessing.derived.len(), 2);

    // A derived column is not a feature; `column` and `columns` together are refused.
    let as_feature = text.replace("numeric = [\"age\"]", "numeric = [\"age\", \"old\"]");
    let (spec, tasks) = parse(&as_feature);
    let e = prepare(&spec, &tasks, d.path(), 1).unwrap_err().to_string();
    assert!(e.contains("derived column `old`"), "{e}");
    let both = text.replace("columns = [", "column = \"sex\"\ncolumns = [");
    let (spec, tasks) = parse(&both);
    let e = prepare(&spec, &tasks, d.path(), 1).unwrap_err().to_string();
    assert!(e.contains("both `column` and `columns`"), "{e}");
}

/// `[data.sensitive] groups` as numeric ranges: `{ name = "young", lt = 15 }`.
fn range_config(groups: &str) -> (DataSpec, Vec<TaskSpec>) {
    let text = format!(
        r#"
[data]
train = {{ path = "train.csv" }}
test = {{ path = "test.csv" }}
validation_fraction = 0.0
[data.features]
categorical = ["job"]
[data.sensitive]
column = "age"
groups = {groups}

[[tasks]]
name = "rich"
column = "income"
positive = {{ eq = "high" }}
role = "source"
"#
    );
    parse(&text)
}

#[test]
fn groups_may_be_numeric_ranges() {
    let d = setup();
    let (spec, tasks) =
        range_config(r#"[{ name = "young", lt = 15 }, { name = "older", ge = 15, le = 1000 }]"#);
    let p = prepare(&spec, &tasks, d.path(), 1).unwrap();
    assert_eq!(p.groups, vec!["young", "older"]);
    // Train keeps ages 10, 20 and 30 (hours is not used here: only the row with job `?` is
    // dropped); test keeps 50 (the other row's age is `?`).
    assert_eq!(p.train.s, vec![0, 1, 1]);
    assert_eq!(p.test.s, vec![1]);
    // The fitted groups keep the ranges (predict and encode read them back).
    assert!(p.preprocessing.sensitive.groups[1].contains("50"));
    assert!(!p.preprocessing.sensitive.groups[1].contains("1000.5"));
    assert!(!p.preprocessing.sensitive.groups[0].contains("ten"));

    // An age in no group: named with its line.
    let (spec, tasks) = range_config(r#"[{ name = "young", lt = 15 }, { name = "old", ge = 25 }]"#);
    let e = prepare(&spec, &tasks, d.path(), 1).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("`20`"), "{e}");

    // Values and a range in one group, an empty range, neither: named.
    for (groups, needle) in [
        (
            r#"[{ name = "a", values = ["10"], lt = 15 }, { name = "b", ge = 15 }]"#,
            "both values and a range",
        ),
        (
            r#"[{ name = "a", ge = 30, lt = 20 }, { name = "b", ge = 15 }]"#,
            "its range is empty",
        ),
        (
            r#"[{ name = "a" }, { name = "b", ge = 15 }]"#,
            "no values and no range",
        ),
    ] {
        let (spec, tasks) = range_config(groups);
        let e = prepare(&spec, &tasks, d.path(), 1).unwrap_err().to_string();
        assert!(e.contains(needle), "{groups}: {e}");
    }
}

/// A numeric feature's numbers written otherwise (`10.0`, `2e1`, `030`, `+40`) encode to the
/// same bits as in their shortest form: such a column is read by value, so what is fitted and
/// encoded is the number, never a level per distinct text. Text in it is still named by its
/// line and column.
#[test]
fn numbers_written_otherwise_encode_to_the_same_bits() {
    let d = setup();
    let (mut spec, tasks) = config("");
    spec.validation_fraction = 0.25;
    let body = |other: bool| {
        (0..40)
            .map(|i| {
                let age = if other {
                    match i % 4 {
                        0 => format!("{i}.0"),
                        1 => format!("{}e-1", i * 10),
                        2 => format!("0{i}"),
                        _ => format!("+{i}.500"),
                    }
                } else if i % 4 == 3 {
                    format!("{i}.5")
                } else {
                    i.to_string()
                };
                let income = ["high", "low"][i % 5 % 2];
                format!(
                    "{age},{},{},{income},{}\n",
                    ["a", "b"][i % 2],
                    ["F", "M"][i % 3 % 2],
                    30 + i
                )
            })
            .collect::<String>()
    };
    let header = "age,job,sex,income,hours\n";
    write(d.path(), "train.csv", &format!("{header}{}", body(false)));
    let plain = prepare(&spec, &tasks, d.path(), 3).unwrap();
    write(d.path(), "train.csv", &format!("{header}{}", body(true)));
    let other = prepare(&spec, &tasks, d.path(), 3).unwrap();
    assert_eq!(plain.features, other.features);
    assert_eq!(plain.encoders, other.encoders);
    for (a, b) in [
        (&*plain.train, &*other.train),
        (&plain.valid, &other.valid),
        (&plain.test, &other.test),
    ] {
        let bits = |s: &Split| s.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b));
        assert_eq!(a.s, b.s);
    }
    write(
        d.path(),
        "train.csv",
        &format!("{header}{}", body(true).replace("\n02,", "\n2x,")),
    );
    let e = prepare(&spec, &tasks, d.path(), 3).unwrap_err().to_string();
    assert!(
        e.contains("line 4") && e.contains("`age`") && e.contains("2x"),
        "{e}"
    );
}
