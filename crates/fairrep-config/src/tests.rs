//! Tests of parsing, validation and overrides.

use super::*;
use std::path::Path;

const MINIMAL: &str = r#"
[data]
train = { path = "a.csv" }
test = { path = "b.csv" }
[data.features]
numeric = ["x"]
[data.sensitive]
column = "s"
[[tasks]]
name = "t"
column = "y"
positive = { eq = 1 }
role = "source"
"#;

fn parse(extra: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, format!("{MINIMAL}\n{extra}")).unwrap();
    Config::load(&p)
}

#[test]
fn defaults_fill_every_section() {
    let c = parse("").unwrap();
    assert_eq!(c.seed, 0);
    assert_eq!(c.penalty.lambda, 0.0);
    assert_eq!(
        c.penalty.divergence().unwrap(),
        Some(DivergenceSettings::Mmd {
            kernel: KernelKind::Gaussian,
            estimator: Estimator::Biased,
            bandwidth: Bandwidth::Median,
        })
    );
    assert_eq!(c.training, TrainingSection::default());
    assert_eq!(c.model, ModelSection::default());
    assert_eq!(c.data.validation_fraction, 0.1);
}

fn bw(c: &Config) -> Bandwidth {
    match c.penalty.divergence().unwrap() {
        Some(DivergenceSettings::Mmd { bandwidth, .. }) => bandwidth,
        other => panic!("{other:?}"),
    }
}

#[test]
fn bandwidth_forms() {
    let c = parse("[penalty]\nbandwidth = 2.0").unwrap();
    assert_eq!(bw(&c), Bandwidth::Fixed(vec![2.0]));
    let c = parse("[penalty]\nbandwidth = [0.5, 1.0]").unwrap();
    assert_eq!(bw(&c), Bandwidth::Fixed(vec![0.5, 1.0]));
    let e = parse("[penalty]\nbandwidth = \"mean\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("penalty.bandwidth") && e.contains("mean"), "{e}");
    let e = parse("[penalty]\nbandwidth = -1.0")
        .unwrap_err()
        .to_string();
    assert!(e.contains("penalty.bandwidth"), "{e}");
}

#[test]
fn out_of_range_values_name_their_key() {
    for (extra, key) in [
        ("[penalty]\nlambda = -0.5", "penalty.lambda"),
        ("[training]\nbatch_size = 1", "training.batch_size"),
        ("[training]\nepochs = 0", "training.epochs"),
        ("[training]\nlearning_rate = 0.0", "training.learning_rate"),
        ("[model]\ndropout = 1.0", "model.dropout"),
        ("[model]\nrepresentation = 0", "model.representation"),
        ("[model]\nhidden = [8, 0]", "model.hidden"),
        ("[transfer]\nthreshold = 2.0", "transfer.threshold"),
    ] {
        let e = parse(extra).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains("c.toml"), "{extra}: {e}");
    }
}

#[test]
fn unknown_keys_and_bad_types_name_key_and_line() {
    let e = parse("[training]\nepoch = 3").unwrap_err().to_string();
    assert!(e.contains("epoch") && e.contains("line"), "{e}");
    let e = parse("[model]\nactivation = \"swish\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("swish") && e.contains("line"), "{e}");
    let e = parse("seed = \"one\"").unwrap_err().to_string();
    assert!(e.contains("line"), "{e}");
}

#[test]
fn sinkhorn_options_and_foreign_keys() {
    let c = parse("[penalty]\nkind = \"sinkhorn\"\nblur = 0.1\nscaling = 0.9\np = 1").unwrap();
    match c.penalty.divergence().unwrap() {
        Some(DivergenceSettings::Sinkhorn {
            blur,
            scaling,
            p,
            debias,
            ..
        }) => {
            assert_eq!((blur, scaling, p, debias), (0.1, 0.9, Power::P1, true))
        }
        other => panic!("{other:?}"),
    }
    for (extra, key) in [
        ("kind = \"sinkhorn\"\nbandwidth = 1.0", "penalty.bandwidth"),
        ("kind = \"mmd\"\nblur = 1.0", "penalty.blur"),
        ("kind = \"sinkhorn\"\nscaling = 1.0", "penalty.scaling"),
        ("kind = \"sinkhorn\"\np = 3", "penalty.p"),
        ("kind = \"sinkhorn\"\nreach = 0.0", "penalty.reach"),
        (
            "condition = \"equal_opportunity\"",
            "penalty.condition_task",
        ),
        (
            "condition = \"equal_opportunity\"\ncondition_task = \"nope\"",
            "penalty.condition_task",
        ),
        ("condition_task = \"t\"", "penalty.condition_task"),
    ] {
        let e = parse(&format!("[penalty]\n{extra}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{extra}: {e}");
    }
    let c = parse("[penalty]\ncondition = \"equalized_odds\"\ncondition_task = \"t\"").unwrap();
    assert_eq!(c.penalty.condition, Condition::EqualizedOdds);
}

#[test]
fn a_source_task_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(
        &p,
        MINIMAL.replace("role = \"source\"", "role = \"transfer\""),
    )
    .unwrap();
    let e = Config::load(&p).unwrap_err().to_string();
    assert!(e.contains("tasks") && e.contains("source"), "{e}");
}

fn with_sets(sets: &[&str]) -> Result<Config, ConfigError> {
    let o: Vec<Override> = sets.iter().map(|t| t.parse().unwrap()).collect();
    Config::parse_with(MINIMAL, Path::new("c.toml"), &o)
}

#[test]
fn set_overrides_keys_tables_and_list_entries() {
    let c = with_sets(&[
        "penalty.lambda=0.5",
        "model.hidden=[32, 16]",
        "tasks.0.name=renamed",
        "penalty.kind=sinkhorn",
        "penalty.blur = 0.2",
        "seed=7",
    ])
    .unwrap();
    assert_eq!(c.penalty.lambda, 0.5);
    assert_eq!(c.model.hidden, vec![32, 16]);
    assert_eq!(c.tasks[0].name, "renamed");
    assert_eq!(c.penalty.kind, PenaltyKind::Sinkhorn);
    assert_eq!(c.penalty.blur, Some(0.2));
    assert_eq!(c.seed, 7);
    // A bare word is a string.
    let c = with_sets(&["data.sensitive.column=sex"]).unwrap();
    assert_eq!(c.data.sensitive.column, "sex");
}

#[test]
fn unknown_keys_get_a_suggestion() {
    let m = with_suggestion("unknown field `lamda`, expected one of `kind`, `lambda`, `p`");
    assert!(m.ends_with("did you mean `lambda`?"), "{m}");
    let m = with_suggestion("unknown field `zzzzzz`, expected one of `kind`, `lambda`");
    assert!(!m.contains("did you mean"), "{m}");
    let e = with_sets(&["penalty.knid=mmd"]).unwrap_err().to_string();
    assert!(e.contains("did you mean `kind`?"), "{e}");
}

#[test]
fn switching_the_penalty_kind_drops_the_other_kinds_options() {
    let c = with_sets(&[
        "penalty.bandwidth=2.0",
        "penalty.kind=sinkhorn",
        "penalty.blur=0.3",
    ])
    .unwrap();
    assert_eq!(c.penalty.kind, PenaltyKind::Sinkhorn);
    assert_eq!((c.penalty.bandwidth, c.penalty.blur), (None, Some(0.3)));
    let c = with_sets(&[
        "penalty.kind=sinkhorn",
        "penalty.blur=0.3",
        "penalty.kind=mmd",
    ])
    .unwrap();
    assert_eq!((c.penalty.kind, c.penalty.blur), (PenaltyKind::Mmd, None));
}

#[test]
fn the_adversarial_penalty_takes_only_its_own_options() {
    let c = parse("[penalty]\nkind = \"adversarial\"\nlambda = 1.0").unwrap();
    assert_eq!(c.penalty.divergence().unwrap(), None);
    let a = c.penalty.adversary().unwrap().unwrap();
    assert_eq!(
        (a.hidden, a.steps, a.loss),
        (vec![32, 32], 10, AdversaryLoss::CrossEntropy)
    );
    let c = parse(
        "[penalty]\nkind = \"adversarial\"\n[penalty.adversary]\nhidden = []\nsteps = 3\n\
         loss = \"cross_entropy\"\nlearning_rate = 0.01",
    )
    .unwrap();
    let a = c.penalty.resolved().adversary.unwrap();
    assert_eq!(
        (a.hidden.len(), a.steps, a.loss, a.learning_rate),
        (0, 3, AdversaryLoss::CrossEntropy, 0.01)
    );
    assert!(
        parse("[penalty]\nkind = \"mmd\"")
            .unwrap()
            .penalty
            .adversary()
            .unwrap()
            .is_none()
    );
    for (extra, key) in [
        (
            "[penalty]\nkind = \"adversarial\"\nbandwidth = 1.0",
            "penalty.bandwidth",
        ),
        (
            "[penalty]\nkind = \"adversarial\"\nscale = \"batch_rms\"",
            "penalty.scale",
        ),
        (
            "[penalty]\nkind = \"sinkhorn\"\n[penalty.adversary]\nsteps = 2",
            "penalty.adversary",
        ),
        (
            "[penalty]\nkind = \"adversarial\"\n[penalty.adversary]\nsteps = 0",
            "penalty.adversary.steps",
        ),
        (
            "[penalty]\nkind = \"adversarial\"\n[penalty.adversary]\nhidden = [4, 0]",
            "penalty.adversary.hidden",
        ),
        (
            "[penalty]\nkind = \"adversarial\"\n[penalty.adversary]\nlearning_rate = -1.0",
            "penalty.adversary.learning_rate",
        ),
    ] {
        let e = parse(extra).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains("c.toml"), "{extra}: {e}");
    }
    let e = parse("[penalty]\nkind = \"adversarial\"\n[penalty.adversary]\nstep = 2")
        .unwrap_err()
        .to_string();
    assert!(e.contains("step") && e.contains("line"), "{e}");
    // Switching kinds by override drops the other kinds' options.
    let c = with_sets(&["penalty.bandwidth=2.0", "penalty.kind=adversarial"]).unwrap();
    assert_eq!(
        (c.penalty.kind, c.penalty.bandwidth),
        (PenaltyKind::Adversarial, None)
    );
    let c = with_sets(&[
        "penalty.kind=adversarial",
        "penalty.adversary.steps=2",
        "penalty.kind=mmd",
    ])
    .unwrap();
    assert_eq!(c.penalty.adversary, None);
}

#[test]
fn the_mlp_transfer_head_is_configured_and_checked() {
    let c = parse("[transfer]\nhead = \"mlp\"").unwrap();
    assert_eq!(c.transfer.mlp_settings(), Some(MlpHeadSection::default()));
    let c = parse("[transfer]\nhead = \"mlp\"\n[transfer.mlp]\nhidden = 8\nepochs = 2").unwrap();
    let m = c.transfer.mlp_settings().unwrap();
    assert_eq!((m.hidden, m.epochs, m.batch_size), (8, 2, 256));
    assert_eq!(parse("").unwrap().transfer.mlp_settings(), None);
    for (extra, key) in [
        ("[transfer]\n[transfer.mlp]\nhidden = 8", "transfer.mlp"),
        ("[transfer]\nhead = \"mlp\"\nferm = true", "transfer.ferm"),
        (
            "[transfer]\nhead = \"mlp\"\n[transfer.mlp]\nhidden = 0",
            "transfer.mlp.hidden",
        ),
        (
            "[transfer]\nhead = \"mlp\"\n[transfer.mlp]\nepochs = 0",
            "transfer.mlp.epochs",
        ),
        (
            "[transfer]\nhead = \"mlp\"\n[transfer.mlp]\nbatch_size = 0",
            "transfer.mlp.batch_size",
        ),
        (
            "[transfer]\nhead = \"mlp\"\n[transfer.mlp]\nlearning_rate = 0.0",
            "transfer.mlp.learning_rate",
        ),
    ] {
        let e = parse(extra).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains("c.toml"), "{extra}: {e}");
    }
    let e = parse("[transfer]\nhead = \"forest\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("forest") && e.contains("line"), "{e}");
}

#[test]
fn a_bad_override_is_named() {
    let msg = |sets: &[&str]| with_sets(sets).unwrap_err().to_string();
    let m = msg(&["penalty.lambda=1", "penalty.lamda=1"]);
    assert!(
        m.contains("--set penalty.lamda=1") && m.contains("lamda"),
        "{m}"
    );
    let m = msg(&["training.epochs=many"]);
    assert!(m.contains("--set training.epochs=many"), "{m}");
    let m = msg(&["tasks.3.name=x"]);
    assert!(m.contains("no index 3"), "{m}");
    let m = msg(&["tasks.name=x"]);
    assert!(m.contains("index it by number"), "{m}");
    let m = msg(&["data.train.path.x=1"]);
    assert!(m.contains("not a table"), "{m}");
    let m = msg(&["penalty.lambda=-1"]);
    assert!(
        m.contains("penalty.lambda") && m.contains("--set penalty.lambda=-1"),
        "{m}"
    );
    assert!("novalue".parse::<Override>().is_err());
    assert!("a..b=1".parse::<Override>().is_err());
}

/// The sets that select the kind a key belongs to (Sinkhorn's options, the adversary's, the
/// MLP head's), before the key itself is set.
fn context_of(key: &str) -> Vec<String> {
    let sinkhorn = [
        "penalty.blur",
        "penalty.scaling",
        "penalty.p",
        "penalty.debias",
    ];
    if sinkhorn.contains(&key) {
        vec!["penalty.kind=sinkhorn".into()]
    } else if key.starts_with("penalty.adversary.") {
        vec!["penalty.kind=adversarial".into()]
    } else if key.starts_with("transfer.mlp.") {
        vec!["transfer.head=mlp".into()]
    } else if key == "data.stream.mode" {
        // `[data.stream]` present (another of its keys at its default), so that only the key
        // differs.
        vec!["data.stream.fit_rows=100000".into()]
    } else if key.starts_with("data.stream.") {
        vec!["data.stream.mode=\"auto\"".into()]
    } else {
        vec![]
    }
}

/// The config as a run resolves it (every option of its penalty kind written out), for
/// comparing two parses.
fn resolved(c: Config) -> Config {
    let mut c = c.with_absolute_paths(Path::new("/"));
    c.transfer.mlp = c.transfer.mlp_settings();
    c
}

/// Every explained default is the real one: setting a key to the default `--explain` shows
/// gives the same resolved config as leaving it out. (`--explain` reads the defaults from the
/// parser's own; this fails if a key is explained under a name the parser does not have, or if
/// the document and the parser disagree.)
#[test]
fn every_explained_default_is_the_parsers_default() {
    let mut checked = 0;
    for k in KEYS.iter().filter(|k| k.default == Shown::Default) {
        let value = default_of(k.key).unwrap_or_else(|| panic!("{}: no default found", k.key));
        let key = k.key.replace(".N.", ".0.");
        // The minimal config's one feature is its own: an empty list would leave none.
        if key == "data.features.numeric" {
            continue;
        }
        let context = context_of(&key);
        let base: Vec<&str> = context.iter().map(String::as_str).collect();
        let setting = format!("{key}={value}");
        let mut with = base.clone();
        with.push(&setting);
        let (without, with) = (with_sets(&base), with_sets(&with));
        let without = resolved(without.unwrap_or_else(|e| panic!("{key}: {e}")));
        let with = resolved(with.unwrap_or_else(|e| panic!("{setting}: {e}")));
        assert_eq!(with, without, "{setting} is not the default");
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} keys checked");
    let text = explain();
    assert!(text.contains("training.batch_size") && !text.contains("default: ?"));
}

/// Every key of the schema (every field of the defaults document) is explained.
#[test]
fn every_key_is_explained() {
    let explained: Vec<&str> = KEYS.iter().map(|k| k.key).collect();
    for leaf in explain::documented_leaves() {
        assert!(
            explained
                .iter()
                .any(|k| leaf == *k || leaf.starts_with(&format!("{k}."))),
            "config key `{leaf}` is missing from `fairrep config --explain`"
        );
    }
}

#[test]
fn learning_rate_schedules() {
    let mut t = TrainingSection {
        learning_rate: 0.1,
        ..TrainingSection::default()
    };
    assert_eq!(t.learning_rate_at(1, 100), 0.1);
    assert_eq!(t.learning_rate_at(100, 100), 0.1);
    t.lr_schedule = LrSchedule::Cosine;
    t.min_learning_rate = 0.02;
    assert!((t.learning_rate_at(1, 100) - 0.1).abs() < 1e-15);
    // Halfway through the decay: the mean of the two ends.
    assert!((t.learning_rate_at(51, 100) - 0.06).abs() < 1e-12);
    assert!((t.learning_rate_at(101, 100) - 0.02).abs() < 1e-12);
    t.warmup_steps = 10;
    assert!((t.learning_rate_at(5, 110) - 0.05).abs() < 1e-15);
    assert!((t.learning_rate_at(10, 110) - 0.1).abs() < 1e-15);
    assert!((t.learning_rate_at(11, 110) - 0.1).abs() < 1e-15);
    assert!((t.learning_rate_at(61, 110) - 0.06).abs() < 1e-12);
    let e = with_sets(&["training.min_learning_rate=1.0"]).unwrap_err();
    assert!(e.to_string().contains("training.min_learning_rate"), "{e}");
    let e = with_sets(&["training.early_stopping_patience=0"]).unwrap_err();
    assert!(e.to_string().contains("early_stopping_patience"), "{e}");
    let e = with_sets(&["training.grad_clip_norm=-1"]).unwrap_err();
    assert!(e.to_string().contains("grad_clip_norm"), "{e}");
}
