//! The config, resolved once into the settings the numerical crates take: the encoder and
//! heads ([`model_configs`]), the divergence penalty ([`group_penalty`]).

use crate::error::TrainError;
use fairrep_config::{Config, DivergenceSettings};
use fairrep_losses::{GroupDivergence, GroupPenalty, Mmd, Sinkhorn};
use fairrep_model::{EncoderConfig, MultitaskHeadsConfig};

/// The encoder and heads a config describes, for `features` input features and `sources`
/// source tasks (the data's when training, the fitted preprocessing's when applying a run).
pub fn model_configs(
    config: &Config,
    features: usize,
    sources: usize,
) -> (EncoderConfig, MultitaskHeadsConfig) {
    let m = &config.model;
    let encoder = EncoderConfig::new(features, m.hidden.clone(), m.representation)
        .with_activation(m.activation)
        .with_representation_activation(m.representation_activation)
        .with_dropout(m.dropout);
    let heads = MultitaskHeadsConfig::new(m.representation, sources);
    (encoder, heads)
}

/// The divergence of resolved settings.
pub fn divergence(settings: DivergenceSettings) -> GroupDivergence {
    match settings {
        DivergenceSettings::Mmd {
            kernel,
            estimator,
            bandwidth,
        } => GroupDivergence::Mmd(Mmd {
            kernel,
            estimator,
            bandwidth,
        }),
        DivergenceSettings::Sinkhorn {
            p,
            blur,
            scaling,
            debias,
            reach,
        } => GroupDivergence::Sinkhorn(Sinkhorn {
            p,
            blur,
            scaling,
            debias,
            reach,
            ..Sinkhorn::default()
        }),
    }
}

/// The divergence penalty of a config over `groups` groups (`None` for the adversarial
/// penalty). The config was validated, so a bad value here is a bug.
pub fn group_penalty(config: &Config, groups: usize) -> Result<Option<GroupPenalty>, TrainError> {
    let p = &config.penalty;
    let settings = p
        .divergence()
        .map_err(|(k, m)| TrainError::Internal(format!("{k} {m} (after validation)")))?;
    Ok(settings.map(|s| GroupPenalty {
        groups,
        divergence: divergence(s),
        condition: p.condition,
        scale: p.scale(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fairrep_config::{
        MMD_DEFAULTS, PAIR_DISTANCE_BLUR, PenaltyKind, PenaltySection, SINKHORN_DEFAULTS,
    };

    /// The config's defaults for the divergences are the numerical crate's.
    #[test]
    fn config_defaults_are_the_divergences_defaults() {
        let (m, s) = (Mmd::default(), Sinkhorn::default());
        assert_eq!(
            (MMD_DEFAULTS.kernel, MMD_DEFAULTS.estimator),
            (m.kernel, m.estimator)
        );
        let d = SINKHORN_DEFAULTS;
        assert_eq!(
            (d.p, d.blur, d.scaling, d.debias),
            (s.p, s.blur, s.scaling, s.debias)
        );
        let plain = |kind| {
            PenaltySection {
                kind,
                ..PenaltySection::default()
            }
            .divergence()
            .unwrap()
            .map(divergence)
        };
        assert_eq!(plain(PenaltyKind::Mmd), Some(GroupDivergence::Mmd(m)));
        // The penalty scales z by its RMS distance between rows, so its blur is the one tied
        // to that scale; every other option is GeomLoss's.
        assert_eq!(
            plain(PenaltyKind::Sinkhorn),
            Some(GroupDivergence::Sinkhorn(Sinkhorn {
                blur: PAIR_DISTANCE_BLUR,
                ..s.clone()
            }))
        );
        let scaled = |scale| {
            PenaltySection {
                kind: PenaltyKind::Sinkhorn,
                scale: Some(scale),
                ..PenaltySection::default()
            }
            .divergence()
            .unwrap()
            .map(divergence)
        };
        assert_eq!(
            scaled(fairrep_config::Scale::BatchRms),
            Some(GroupDivergence::Sinkhorn(s.clone()))
        );
        // Whitened z has unit RMS distance between rows too: the same blur.
        assert_eq!(
            scaled(fairrep_config::Scale::Whiten),
            Some(GroupDivergence::Sinkhorn(Sinkhorn {
                blur: PAIR_DISTANCE_BLUR,
                ..s
            }))
        );
        assert_eq!(plain(PenaltyKind::Adversarial), None);
    }
}
