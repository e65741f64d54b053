//! Checkpoints of a training run: after every epoch, `checkpoints/epoch-NNNN/` in the run
//! directory holds the model (`model.bpk`), Adam's state (`optim.bpk`) and `state.json` (epoch,
//! global step, the batch-order generator's position). A checkpoint is written into a hidden
//! temporary directory and renamed into place, so a crash or `kill -9` leaves either a complete
//! checkpoint or none; the last `keep` checkpoints are kept, and `checkpoints/best/` holds the
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
        self.write_as(&format!("epoch-{:04}", state.epoch), state, save)?;
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
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        save(&tmp).map_err(|message| TrainError::Save {
            path: tmp.clone(),
            message,
        })?;
        let json = serde_json::to_string_pretty(state)
            .map_err(|e| TrainError::Internal(format!("checkpoint state: {e}")))?;
        std::fs::write(tmp.join("state.json"), json).map_err(io(&tmp))?;
        let dir = self.root.join(name);
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
        dirs.sort();
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
        let failed = ck.write(&state(2), |_| Err("disk full".into()));
        assert!(failed.is_err());
        assert_eq!(ck.latest().unwrap().state.epoch, 1);
        // A corrupt state file is an error that names it.
        std::fs::write(ck.root.join("epoch-0001/state.json"), "{").unwrap();
        let e = ck.latest().unwrap_err().to_string();
        assert!(e.contains("state.json"), "{e}");
    }
}
