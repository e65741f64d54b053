//! `fairrep certify` (and `[certify] enabled = true` after training): encodes a trained run's
//! three splits and hands them to `fairrep-certify`, which chooses the partition of z into cells
//! on the training and validation splits, bounds the fairness of every classifier of the cells
//! on the test split and measures the head families fitted on the cells. Writes
//! `certificate.json` and `partition.json` into the run directory.

use crate::backend::Backend;
use crate::error::TrainError;
use crate::model::FairModel;
use crate::rundir::{LoadedRun, write_json};
use burn::tensor::Device;
use fairrep_certify::{Certificate, Input, Partition, Settings, SplitData, TaskInfo};
use fairrep_config::CertifySection;
use fairrep_data::{Prepared, Role, Split, TaskKind};
use fairrep_report::files;
use std::path::Path;

/// The settings of a `[certify]` section, with the run's seed.
pub fn settings(section: &CertifySection, seed: u64) -> Settings {
    Settings {
        cells: section.cells,
        min_leaf: section.min_leaf,
        fairness_weight: section.fairness_weight,
        delta: section.delta,
        target: section.target,
        method: match section.method.as_str() {
            "fare" => Some(fairrep_certify::Method::Fare),
            "direct" => Some(fairrep_certify::Method::Direct),
            _ => None,
        },
        seed,
    }
}

/// Certifies the run in `run` (see the module's documentation).
pub fn certify_run(
    run: &Path,
    backend: Backend,
    settings: &Settings,
) -> Result<(Partition, Certificate), TrainError> {
    settings.check().map_err(|source| TrainError::Certify {
        run: run.to_path_buf(),
        source,
    })?;
    let loaded = LoadedRun::load(run, backend)?;
    certify_model(
        run,
        &loaded.data,
        &loaded.model,
        &loaded.device,
        loaded.config.model.representation,
        settings,
    )
}

/// Every task's targets of a split.
fn targets(s: &Split) -> Vec<&[f32]> {
    s.targets.iter().map(|t| &t[..]).collect()
}

/// A split's arrays for `fairrep-certify`.
fn split_data<'a>(z: &'a [f32], s: &'a Split, targets: &'a [&'a [f32]]) -> SplitData<'a> {
    SplitData {
        z,
        group: &s.s,
        targets,
    }
}

/// Certifies a trained model on its prepared data and writes the two files into `run`.
pub fn certify_model(
    run: &Path,
    data: &Prepared,
    model: &FairModel,
    device: &Device,
    dim: usize,
    settings: &Settings,
) -> Result<(Partition, Certificate), TrainError> {
    let z: Vec<Vec<f32>> = [&data.train, &data.valid, &data.test]
        .iter()
        .map(|s| model.encode_split(s, device))
        .collect();
    let tasks: Vec<TaskInfo> = data
        .tasks
        .iter()
        .map(|t| TaskInfo {
            name: t.name.clone(),
            source: t.role == Role::Source,
            binary: t.kind == TaskKind::Binary,
        })
        .collect();
    let (t_train, t_valid, t_test) = (
        targets(&data.train),
        targets(&data.valid),
        targets(&data.test),
    );
    let input = Input {
        dim,
        groups: &data.groups,
        tasks: &tasks,
        train: split_data(&z[0], &data.train, &t_train),
        valid: split_data(&z[1], &data.valid, &t_valid),
        test: split_data(&z[2], &data.test, &t_test),
    };
    let (partition, certificate) =
        fairrep_certify::certify(&input, settings).map_err(|source| TrainError::Certify {
            run: run.to_path_buf(),
            source,
        })?;
    write_json(&run.join(files::PARTITION), &partition)?;
    write_json(&run.join(files::CERTIFICATE), &certificate)?;
    Ok((partition, certificate))
}
