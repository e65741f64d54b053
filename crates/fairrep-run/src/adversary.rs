//! The adversary of the adversarial penalty (LAFTR): an MLP `z ↦` one logit per group, with its
//! own Adam optimiser. On each batch it takes `steps` steps on the detached representation
//! (maximising its advantage, LAFTR's ℓ₁ objective, or minimising its balanced cross-entropy),
//! then gives the penalty `A(z)` through which the encoder is trained against it.

use crate::checkpoint::Checkpoint;
use crate::seeds::{Stream, derive_seed};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use fairrep_config::{AdversaryLoss, AdversarySection};
use fairrep_losses::{
    Condition, PenaltyValue, adversary_advantage, adversary_cross_entropy, conditioned,
};
use fairrep_model::{Encoder, EncoderConfig};
use std::path::Path;

/// The adversary and its optimiser.
pub struct Adversary {
    net: Encoder,
    optim: ModuleOptimizer,
    learning_rate: f64,
    steps: usize,
    loss: AdversaryLoss,
    groups: usize,
    condition: Condition,
}

/// `of(logits, groups)` of an adversary network on `z`, conditioned as the penalty says.
fn conditioned_on(
    net: &Encoder,
    z: burn::Tensor<2>,
    s: &[usize],
    y: Option<&[bool]>,
    (condition, groups): (Condition, usize),
    of: fn(burn::Tensor<2>, &[usize], usize) -> PenaltyValue,
) -> PenaltyValue {
    let logits = net.forward(z); // [b, G]
    conditioned(logits, s, y, condition, |l, s| of(l, s, groups))
}

impl Adversary {
    /// A fresh adversary for representations of size `representation`, on `device` (the
    /// training device, with autodiff).
    pub fn init(
        settings: &AdversarySection,
        representation: usize,
        groups: usize,
        condition: Condition,
        seed: u64,
        device: &Device,
    ) -> Self {
        let net = EncoderConfig::new(representation, settings.hidden.clone(), groups)
            .init(derive_seed(seed, Stream::Adversary), device);
        Self {
            net,
            optim: AdamConfig::new().init(),
            learning_rate: settings.learning_rate,
            steps: settings.steps,
            loss: settings.loss,
            groups,
            condition,
        }
    }

    /// `steps` adversary updates on the detached `z` (constant learning rate), then the
    /// penalty `A(z)` for the encoder.
    ///
    /// # Shapes
    /// - `z`: `[b, r]`
    pub fn step_and_penalty(
        &mut self,
        z: burn::Tensor<2>,
        s: &[usize],
        y: Option<&[bool]>,
    ) -> PenaltyValue {
        let how = (self.condition, self.groups);
        for _ in 0..self.steps {
            let zd = z.clone().detach(); // [b, r]
            let of = match self.loss {
                AdversaryLoss::L1 => adversary_advantage,
                AdversaryLoss::CrossEntropy => adversary_cross_entropy,
            };
            let out = conditioned_on(&self.net, zd, s, y, how, of);
            if out.pairs == 0 {
                break;
            }
            // It maximises its advantage, or minimises its cross-entropy.
            let loss = match self.loss {
                AdversaryLoss::L1 => out.value.neg(),
                AdversaryLoss::CrossEntropy => out.value,
            };
            let grads = GradientsParams::from_grads(loss.backward(), &self.net);
            self.net = self.optim.step(self.learning_rate, self.net.clone(), grads);
        }
        conditioned_on(&self.net, z, s, y, how, adversary_advantage)
    }

    /// The current adversary's advantage on a plain (untracked) representation: the
    /// adversarial penalty's value on the validation split.
    ///
    /// # Shapes
    /// - `z`: `[n, r]`
    pub fn advantage(&self, z: burn::Tensor<2>, s: &[usize], y: Option<&[bool]>) -> PenaltyValue {
        let net = self.net.valid();
        conditioned_on(
            &net,
            z,
            s,
            y,
            (self.condition, self.groups),
            adversary_advantage,
        )
    }

    /// Writes the adversary and its optimiser into a checkpoint directory.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        self.net
            .clone()
            .save_file(dir.join("adversary.bpk"))
            .map_err(|e| e.to_string())?;
        self.optim
            .save(dir.join("adversary_optim.bpk"))
            .map_err(|e| e.to_string())
    }

    /// Reads the adversary and its optimiser back from a checkpoint.
    pub fn load(&mut self, ck: &Checkpoint) -> Result<(), String> {
        self.net = self
            .net
            .clone()
            .try_load_file(ck.adversary())
            .map_err(|e| e.to_string())?;
        let optim = std::mem::replace(&mut self.optim, AdamConfig::new().init());
        self.optim = optim
            .load(ck.adversary_optim())
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}
