//! Checkpoints of a training run: after every epoch, `checkpoints/epoch-NNNN/` in the run
//! directory holds the model (`model.bpk`), Adam's state (`optim.bpk`) and `state.json` (epoch,
//! global step, the batch-order generator's position); with `training.checkpoint_every_steps`
//! or `_seconds`, `checkpoints/epoch-NNNN-step-SSSSSSSSSS/` within epoch NNNN too (its state
//! says how far the epoch went). A checkpoint is written into a hidden temporary directory and
//! renamed into place, so a crash, a `kill -9` or a full disk leaves either a complete
//! checkpoint or none (a failed write removes its temporary directory and names the previous
//! checkpoint, intact); the last `keep` checkpoints are kept, and `checkpoints/best/` holds the
//! epoch with the best validation objective.

use crate::error::{TrainError, io};
pub use fairrep_report::CheckpointState;
use std::path::{Path, PathBuf};

/// A checkpoint directory on disk.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Its directory.
    pub dir: PathBuf,
    /// Its state.
    pub state: CheckpointState,
}

impl Checkpoint {
    /// The model file.
    pub fn model(&self) -> PathBuf {
        self.dir.join("model.bpk")
    }

    /// The optimizer file.
    pub fn optim(&self) -> PathBuf {
        self.dir.join("optim.bpk")
    }

    /// The adversary of an adversarial-penalty run (`adversary.bpk`).
    pub fn adversary(&self) -> PathBuf {
        self.dir.join("adversary.bpk")
    }

    /// The adversary's Adam state (`adversary_optim.bpk`).
    pub fn adversary_optim(&self) -> PathBuf {
        self.dir.join("adversary_optim.bpk")
    }
}

/// Where a checkpoint directory comes in a run: `epoch-E-step-S` (within epoch E, after step
/// S) before `epoch-E` (the end of epoch E).
fn order_key(dir: &Path) -> (usize, bool, usize) {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let rest = name.trim_start_matches("epoch-");
    let (epoch, step) = match rest.split_once("-step-") {
        Some((e, s)) => (e, Some(s)),
        None => (rest, None),
    };
    (
        epoch.parse().unwrap_or(0),
        step.is_none(),
        step.and_then(|s| s.parse().ok()).unwrap_or(0),
    )
}

/// The checkpoints of a run directory.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    /// `<run>/checkpoints`.
    pub root: PathBuf,
    /// How many to keep.
    pub keep: usize,
}

fn corrupt(path: &Path, message: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

impl Checkpoints {
    /// The checkpoints of the run directory `run`.
    pub fn new(run: &Path, keep: usize) -> Self {
        Self {
            root: run.join("checkpoints"),
            keep: keep.max(1),
        }
    }

    /// Writes a checkpoint: `save` fills a temporary directory (model and optimizer files),
    /// then `state.json` is added and the directory renamed into place; older checkpoints beyond
    /// `keep` are removed.
    pub fn write(
        &self,
        state: &CheckpointState,
        save: impl FnOnce(&Path) -> Result<(), String>,
    ) -> Result<(), TrainError> {
        let name = match &state.in_epoch {
            // Sorts after the previous epoch's checkpoint and before this epoch's own.
            Some(_) => format!("epoch-{:04}-step-{:010}", state.epoch + 1, state.step),
            // (`list` orders it before `epoch-NNNN`, the end of the same epoch.)
            None => format!("epoch-{:04}", state.epoch),
        };
        self.write_as(&name, state, save)?;
        let all = self.list()?;
        for old in all.iter().take(all.len().saturating_sub(self.keep)) {
            std::fs::remove_dir_all(old).map_err(io(old))?;
        }
        Ok(())
    }

    /// Writes the checkpoint of the best validation objective so far, `checkpoints/best/`
    /// (never pruned; not used by `--resume`). The new one is complete in a temporary
    /// directory before the old one is removed and it is renamed into place, so a crash leaves
    /// the old one, the new one, or — between the removal and the rename — only the complete
    /// temporary directory `checkpoints/.tmp-best`.
    pub fn write_best(
        &self,
        state: &CheckpointState,
        save: impl FnOnce(&Path) -> Result<(), String>,
    ) -> Result<(), TrainError> {
        self.write_as("best", state, save)
    }

    fn write_as(
        &self,
        name: &str,
        state: &CheckpointState,
        save: impl FnOnce(&Path) -> Result<(), String>,
    ) -> Result<(), TrainError> {
        let tmp = self.root.join(format!(".tmp-{name}"));
        let dir = self.root.join(name);
        let json = serde_json::to_string_pretty(state)
            .map_err(|e| TrainError::Internal(format!("checkpoint state: {e}")))?;
        let written = (|| -> Result<(), String> {
            if tmp.exists() {
                std::fs::remove_dir_all(&tmp).map_err(|e| e.to_string())?;
            }
            std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
            save(&tmp)?;
            std::fs::write(tmp.join("state.json"), json).map_err(|e| e.to_string())
        })();
        if let Err(cause) = written {
            // Half a checkpoint is no checkpoint: free what it took (a full disk).
            let _ = std::fs::remove_dir_all(&tmp);
            let previous = match self.list().ok().and_then(|mut l| l.pop()) {
                Some(p) => format!(
                    "The previous checkpoint, {}, is intact: once there is room, --resume \
                     continues from it",
                    p.display()
                ),
                None => "No earlier checkpoint exists".to_string(),
            };
            return Err(TrainError::CheckpointWrite {
                path: dir,
                cause,
                previous,
            });
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        std::fs::rename(&tmp, &dir).map_err(io(&dir))
    }

    /// The complete checkpoint directories, oldest first.
    fn list(&self) -> Result<Vec<PathBuf>, TrainError> {
        if !self.root.exists() {
            return Ok(Vec::new());
        }
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .map_err(io(&self.root))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("epoch-"))
            })
            .collect();
        dirs.sort_by_key(|p| order_key(p));
        Ok(dirs)
    }

    /// The latest checkpoint, read and checked (its files exist, its state parses).
    pub fn latest(&self) -> Result<Checkpoint, TrainError> {
        let dir = self.list()?.pop().ok_or_else(|| {
            corrupt(
                &self.root,
                "no checkpoint to resume from (none was written: the run stopped before its \
                 first epoch ended, or it is not a fairrep run directory)",
            )
        })?;
        let state_path = dir.join("state.json");
        let text = std::fs::read_to_string(&state_path).map_err(|e| corrupt(&state_path, e))?;
        let state: CheckpointState =
            serde_json::from_str(&text).map_err(|e| corrupt(&state_path, e))?;
        let ck = Checkpoint { dir, state };
        for f in [ck.model(), ck.optim()] {
            if !f.is_file() {
                return Err(corrupt(&f, "missing"));
            }
        }
        Ok(ck)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(epoch: usize) -> CheckpointState {
        CheckpointState {
            epoch,
            step: 10 * epoch,
            rng_word_pos: 1 << 70,
            best_objective: Some(0.5),
            since_best: 1,
            in_epoch: None,
        }
    }

    fn touch(dir: &Path) -> Result<(), String> {
        for f in ["model.bpk", "optim.bpk"] {
            std::fs::write(dir.join(f), b"x").map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    #[test]
    fn keeps_the_last_k_and_reads_the_latest() {
        let tmp = tempfile::tempdir().unwrap();
        let ck = Checkpoints::new(tmp.path(), 2);
        assert!(ck.latest().is_err());
        for e in 1..=4 {
            ck.write(&state(e), touch).unwrap();
        }
        let names: Vec<String> = ck
            .list()
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["epoch-0003", "epoch-0004"]);
        assert_eq!(ck.latest().unwrap().state, state(4));
        // The best checkpoint sits beside them and is neither pruned nor resumed from.
        ck.write_best(&state(2), touch).unwrap();
        ck.write(&state(5), touch).unwrap();
        assert!(ck.root.join("best/state.json").is_file());
        assert_eq!(ck.latest().unwrap().state, state(5));
    }

    #[test]
    fn an_interrupted_write_leaves_the_previous_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let ck = Checkpoints::new(tmp.path(), 3);
        ck.write(&state(1), touch).unwrap();
        let failed = ck.write(&state(2), |_| Err("No space left on device".into()));
        let e = failed.unwrap_err().to_string();
        assert!(
            e.contains("epoch-0002") && e.contains("No space left"),
            "{e}"
        );
        assert!(e.contains("epoch-0001, is intact"), "{e}");
        assert!(!ck.root.join(".tmp-epoch-0002").exists());
        assert_eq!(ck.latest().unwrap().state.epoch, 1);
        // A checkpoint within epoch 2 sorts between epoch 1's and epoch 2's.
        let within = CheckpointState {
            in_epoch: Some(fairrep_report::checkpoint::EpochProgress {
                batches: 3,
                ..Default::default()
            }),
            ..state(1)
        };
        ck.write(&within, touch).unwrap();
        assert_eq!(ck.latest().unwrap().state, within);
        ck.write(&state(2), touch).unwrap();
        assert_eq!(ck.latest().unwrap().state, state(2));
        // A corrupt state file is an error that names it.
        std::fs::write(ck.root.join("epoch-0002/state.json"), "{").unwrap();
        let e = ck.latest().unwrap_err().to_string();
        assert!(e.contains("state.json"), "{e}");
    }
}
