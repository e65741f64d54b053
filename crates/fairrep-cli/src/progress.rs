//! indicatif progress bars for epochs and steps, drawn only when stderr is a terminal.

use fairrep_report::EpochRecord;
use fairrep_run::Observer;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// The training observer of `fairrep train`.
pub struct Progress {
    bar: Option<ProgressBar>,
    enabled: bool,
    loss: f64,
    penalty: f64,
}

impl Progress {
    /// Bars when stderr is a terminal, nothing otherwise.
    pub fn new() -> Self {
        Self {
            bar: None,
            enabled: std::io::stderr().is_terminal(),
            loss: 0.0,
            penalty: 0.0,
        }
    }

    /// Clears the current bar.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn epoch_start(&mut self, epoch: usize, epochs: usize, steps: usize) {
        self.finish();
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::new(steps as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} steps, {per_sec}, ETA {eta} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("{epoch}/{epochs}"));
        self.bar = Some(bar);
    }

    fn step(&mut self, task_loss: f64, penalty: Option<f64>) {
        // Exponential moving averages keep the displayed numbers readable.
        self.loss = 0.9 * self.loss + 0.1 * task_loss;
        if let Some(p) = penalty {
            self.penalty = 0.9 * self.penalty + 0.1 * p;
        }
        if let Some(b) = &self.bar {
            b.inc(1);
            if b.position() % 10 == 0 {
                b.set_message(match penalty {
                    Some(_) => format!("loss {:.4} penalty {:.5}", self.loss, self.penalty),
                    None => format!("loss {:.4}", self.loss),
                });
            }
        }
    }

    fn epoch_end(&mut self, _record: &EpochRecord) {
        self.finish();
    }
}
