//! Measuring the divergence between any two samples (`fairrep divergence`).

use crate::device::read_failed;
use crate::error::TrainError;
use burn::Tensor;
use burn::tensor::{DType, Device, TensorData};
use fairrep_config::{BandwidthSetting, PenaltyKind, PenaltySection};
use fairrep_losses::divergence::{Divergence, uniform_weights};
use fairrep_losses::{
    Bandwidth, ComputePath, Estimator, GroupDivergence, KernelKind, Mmd, Scale, Sinkhorn,
    scale_points,
};
use serde::Serialize;

/// Which divergence to measure, fully specified.
#[derive(Debug, Clone)]
pub enum Measure {
    /// MMD² (the usual statistic; GeomLoss reports half of it).
    Mmd(Mmd),
    /// Sinkhorn divergence (GeomLoss's conventions).
    Sinkhorn(Sinkhorn),
}

/// A divergence as a user asks for it — the options of `fairrep divergence`, the arguments of
/// Python's `fairrep.divergence` — checked by the config's own rules (the ranges, defaults and
/// "does not apply to this kind" of `[penalty]`) in [`DivergenceRequest::resolve`].
#[derive(Debug, Clone)]
pub struct DivergenceRequest {
    /// `Mmd` or `Sinkhorn` (`Adversarial` is refused).
    pub kind: PenaltyKind,
    /// MMD bandwidths (a sum of kernels); empty: the median heuristic.
    pub sigma: Vec<f64>,
    /// MMD kernel (default Gaussian).
    pub kernel: Option<KernelKind>,
    /// MMD estimator (default biased).
    pub estimator: Option<Estimator>,
    /// Sinkhorn blur, ε = blur^p (default 0.05).
    pub blur: Option<f64>,
    /// Sinkhorn ε-scaling ratio (default 0.5).
    pub scaling: Option<f64>,
    /// Sinkhorn cost exponent, 1 or 2 (default 2).
    pub p: Option<f64>,
    /// Reach of unbalanced transport (default balanced).
    pub reach: Option<f64>,
    /// The debiased Sinkhorn divergence (`false`: the raw entropic OT cost).
    pub debias: bool,
    /// How the caller scales the pooled points ([`MeasureOptions::scale`]): it sets the
    /// Sinkhorn blur's default (0.7 for `pair_distance` and `whiten`, as in `[penalty]`).
    pub scale: Scale,
    /// Iterate at the final ε until the potentials move less than this (Sinkhorn).
    pub tolerance: Option<f64>,
    /// At most this many iterations after the schedule (with a tolerance).
    pub max_iterations: usize,
}

impl DivergenceRequest {
    /// GeomLoss's defaults for `kind`.
    pub fn new(kind: PenaltyKind) -> Self {
        DivergenceRequest {
            kind,
            sigma: Vec::new(),
            kernel: None,
            estimator: None,
            blur: None,
            scaling: None,
            p: None,
            reach: None,
            debias: true,
            scale: Scale::None,
            tolerance: None,
            max_iterations: 10_000,
        }
    }

    /// The divergence, or `(key, message)` for an option that is out of range or does not apply
    /// to the kind: `key` is one of `kind`, `bandwidth`, `kernel`, `estimator`, `blur`,
    /// `scaling`, `p`, `reach`, `debias`, `tolerance`; the message names the kind as
    /// `kind = "mmd"`.
    pub fn resolve(&self) -> Result<Measure, (String, String)> {
        let kind = self.kind;
        if kind == PenaltyKind::Adversarial {
            return Err((
                "kind".into(),
                format!("kind = \"{kind}\" is not a divergence (mmd or sinkhorn)"),
            ));
        }
        let section = PenaltySection {
            kind,
            bandwidth: (!self.sigma.is_empty()).then(|| BandwidthSetting::Many(self.sigma.clone())),
            kernel: self.kernel,
            estimator: self.estimator,
            blur: self.blur,
            scaling: self.scaling,
            p: self.p,
            reach: self.reach,
            debias: (!self.debias).then_some(false),
            // Never the penalty kind's default scale: the points as given unless asked.
            scale: Some(self.scale),
            ..PenaltySection::default()
        };
        let settings = section
            .divergence()
            .map_err(|(key, message)| (key.trim_start_matches("penalty.").to_string(), message))?;
        if self.tolerance.is_some() && kind != PenaltyKind::Sinkhorn {
            return Err((
                "tolerance".into(),
                format!("does not apply to kind = \"{kind}\""),
            ));
        }
        if self.tolerance.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
            return Err(("tolerance".into(), "must be > 0".into()));
        }
        let Some(settings) = settings else {
            return Err(("kind".into(), format!("kind = \"{kind}\" has no settings")));
        };
        Ok(match crate::settings::divergence(settings) {
            GroupDivergence::Mmd(m) => Measure::Mmd(m),
            GroupDivergence::Sinkhorn(s) => Measure::Sinkhorn(Sinkhorn {
                tolerance: self.tolerance,
                max_iterations: self.max_iterations,
                ..s
            }),
        })
    }
}

/// A row-major matrix of samples.
#[derive(Debug, Clone)]
pub struct Samples {
    /// Values, `[n, d]` row-major.
    pub values: Vec<f64>,
    /// Rows.
    pub n: usize,
    /// Columns.
    pub d: usize,
}

/// Extra facts of a Sinkhorn measurement.
#[derive(Debug, Clone, Serialize)]
pub struct SinkhornFacts {
    /// Final temperature ε = blur^p.
    pub eps: f64,
    /// Length of the ε-schedule that was run.
    pub schedule_iterations: usize,
    /// Iterations at the final ε after the schedule (tolerance mode).
    pub extra_iterations: usize,
    /// Whether the tolerance was met (true without a tolerance).
    pub converged: bool,
    /// The diameter that started the schedule.
    pub diameter: f64,
    /// The dual potential on `x` (debiased: `f_ba − f_aa`, GeomLoss's convention).
    #[serde(skip)]
    pub f: Vec<f64>,
    /// The dual potential on `y` (debiased: `g_ab − g_bb`).
    #[serde(skip)]
    pub g: Vec<f64>,
    /// The transport plan of OT_ε(α, β), `[n, m]` row-major (when asked for).
    #[serde(skip)]
    pub plan: Option<Vec<f64>>,
}

/// The result printed by `fairrep divergence`.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// `"mmd"` or `"sinkhorn"`.
    pub kind: String,
    /// The divergence.
    pub value: f64,
    /// Frobenius norm of the gradient of `value` with respect to `X`.
    pub grad_norm_x: f64,
    /// The gradient of `value` with respect to `X`, `[n, d]` row-major.
    #[serde(skip)]
    pub grad_x: Vec<f64>,
    /// What `value` is, in words.
    pub convention: String,
    /// How the pooled points were scaled before the divergence (`none`: as given).
    pub scale: Scale,
    /// Where it was computed: `"fused-gpu"` (the fused CubeCL kernels), `"fused-cpu-f32"` /
    /// `"fused-cpu-f64"` (the fused CPU kernels) or `"portable"` (burn's tensor ops, dense
    /// `n × m` matrices).
    pub path: &'static str,
    /// Rows of X.
    pub n: usize,
    /// Rows of Y.
    pub m: usize,
    /// Dimension.
    pub d: usize,
    /// The MMD bandwidths used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sigmas: Vec<f64>,
    /// Sinkhorn details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sinkhorn: Option<SinkhornFacts>,
}

/// The name of a compute path in [`Measurement::path`].
fn path_name(path: ComputePath) -> &'static str {
    match path {
        ComputePath::Fused => "fused-gpu",
        ComputePath::HostF32 => "fused-cpu-f32",
        ComputePath::HostF64 => "fused-cpu-f64",
        ComputePath::Portable => "portable",
    }
}

/// How [`measure`] computes.
#[derive(Debug, Clone, Copy)]
pub struct MeasureOptions {
    /// The floating-point precision.
    pub dtype: DType,
    /// Also return the transport plan (Sinkhorn only; `n·m` values).
    pub want_plan: bool,
    /// Run on burn's tensor ops (dense `n × m` matrices) even where fused kernels exist.
    pub portable: bool,
    /// The pooled points are scaled as the penalty scales a batch (differentiated through)
    /// before the divergence; [`Scale::None`] measures them as given (GeomLoss's convention).
    pub scale: Scale,
}

/// Measures `D(X, Y)` with uniform weights on `device`, as `options` say, with the gradient
/// w.r.t. X.
///
/// A failure of the device (out of memory, a driver error) is a [`TrainError::Device`].
pub fn measure(
    x: &Samples,
    y: &Samples,
    how: &Measure,
    device: &Device,
    options: MeasureOptions,
) -> Result<Measurement, TrainError> {
    let MeasureOptions {
        dtype,
        want_plan,
        portable,
        scale,
    } = options;
    let ad = device.clone().autodiff();
    let x_leaf =
        Tensor::<2>::from_data(TensorData::new(x.values.clone(), [x.n, x.d]), (&ad, dtype))
            .require_grad(); // [n, d]
    let yt = Tensor::<2>::from_data(TensorData::new(y.values.clone(), [y.n, y.d]), (&ad, dtype));
    // The pooled points scaled together (one spread for both samples, as in a batch).
    let (xt, yt) = match scale {
        Scale::None => (x_leaf.clone(), yt),
        _ => {
            let pooled = scale_points(Tensor::cat(vec![x_leaf.clone(), yt], 0), scale); // [n + m, d]
            (
                pooled.clone().slice([0..x.n, 0..x.d]),
                pooled.slice([x.n..x.n + y.n, 0..x.d]),
            )
        }
    };
    let host = |t: Tensor<1>, what: &str| {
        t.try_into_vec_as::<f64>()
            .map_err(|e| read_failed(&format!("reading {what} back to the host"), e))
    };
    let path = match how {
        _ if portable => ComputePath::Portable,
        Measure::Mmd(mmd) => ComputePath::choose(&xt, mmd.kernels()),
        Measure::Sinkhorn(_) => ComputePath::choose(&xt, Sinkhorn::kernels(&yt)),
    };
    let (value, sigmas, sinkhorn) = match how {
        Measure::Mmd(mmd) => {
            // The bandwidths once (the median heuristic reads pairwise distances), then fixed.
            let sigmas = mmd.sigmas(&xt, &yt);
            let fixed = Mmd {
                bandwidth: Bandwidth::Fixed(sigmas.clone()),
                ..mmd.clone()
            };
            let value = if portable {
                let (a, b) = (uniform_weights(&xt), uniform_weights(&yt));
                fixed.value_portable(xt.clone(), a, yt.clone(), b)
            } else {
                fixed.uniform(xt.clone(), yt.clone())
            };
            (value, sigmas, None)
        }
        Measure::Sinkhorn(sk) => {
            let (a, b) = (uniform_weights(&xt), uniform_weights(&yt));
            let diameter = sk
                .diameter
                .unwrap_or_else(|| Sinkhorn::max_diameter(&xt, &yt));
            let sol = if portable {
                sk.solve_portable(xt.clone(), a.clone(), yt.clone(), b.clone())
            } else {
                sk.solve(xt.clone(), a.clone(), yt.clone(), b.clone())
            };
            let (f, g) = match (&sol.f_aa, &sol.g_bb) {
                (Some(faa), Some(gbb)) => {
                    (sol.f.clone() - faa.clone(), sol.g.clone() - gbb.clone())
                }
                _ => (sol.f.clone(), sol.g.clone()),
            };
            let plan = match want_plan {
                true => Some(host(
                    sol.plan(sk.p, &xt, &a, &yt, &b).reshape([x.n * y.n]),
                    "the transport plan",
                )?),
                false => None,
            };
            let facts = SinkhornFacts {
                eps: sol.eps,
                schedule_iterations: sol.schedule.len(),
                extra_iterations: sol.extra_iterations,
                converged: sol.converged,
                diameter,
                f: host(f.detach(), "the potential f")?,
                g: host(g.detach(), "the potential g")?,
                plan,
            };
            (sol.value, vec![], Some(facts))
        }
    };
    let value_host = host(value.clone().detach(), "the divergence")?;
    let grads = value.backward();
    let grad_x = match x_leaf.grad(&grads) {
        Some(g) => host(g.reshape([x.n * x.d]), "the gradient")?,
        None => vec![0.0; x.n * x.d],
    };
    let grad_norm_x = grad_x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let (kind, convention) = match how {
        Measure::Mmd(m) => (
            "mmd",
            format!(
                "MMD² = E k(x,x') + E k(y,y') − 2 E k(x,y), {:?} estimator, {:?} kernel (GeomLoss's SamplesLoss returns half of this)",
                m.estimator, m.kernel
            ),
        ),
        Measure::Sinkhorn(s) => (
            "sinkhorn",
            format!(
                "{} with cost |x−y|^{}/{}, eps = blur^p = {}, GeomLoss's ε-schedule (scaling {}){}",
                if s.debias {
                    "debiased S_eps = OT_eps(a,b) − ½OT_eps(a,a) − ½OT_eps(b,b)"
                } else {
                    "entropic OT_eps(a,b)"
                },
                s.p.p(),
                s.p.p(),
                s.blur.powf(s.p.p()),
                s.scaling,
                match s.tolerance {
                    Some(t) => format!(", then iterated to tolerance {t}"),
                    None => String::new(),
                }
            ),
        ),
    };
    Ok(Measurement {
        kind: kind.to_string(),
        value: value_host[0],
        grad_norm_x,
        grad_x,
        convention,
        scale,
        path: path_name(path),
        n: x.n,
        m: y.n,
        d: x.d,
        sigmas,
        sinkhorn,
    })
}
