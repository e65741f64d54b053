//! [`FusedOps`] on `Autodiff`: the forward pass on the inner backend, and hand-written backward
//! passes made of the same fused kernels.

use super::FusedOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use burn::tensor::Shape;
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};

/// `g[:, None] * t`: scales the rows of `t` `[n, d]` by `g` `[n]`.
fn scale_rows<B: Backend>(t: FloatTensor<B>, g: FloatTensor<B>) -> FloatTensor<B> {
    let shape = t.shape();
    let column = B::float_reshape(g, Shape::new([shape[0], 1]));
    B::float_mul(t, B::float_expand(column, shape))
}

#[derive(Debug)]
struct GaussianSumsBackward;

impl<B: Backend + FusedOps> Backward<B, 3> for GaussianSumsBackward {
    /// `(u, v, w, gammas)`.
    type State = (
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
    );

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (u, v, w, gammas) = ops.state;
        let [node_u, node_v, node_w] = ops.parents;
        let g = grads.consume::<B>(&ops.node); // [n]
        // ∂(Σ_i g_i s_i)/∂u_i = g_i ∂s_i/∂u_i.
        if let Some(node) = node_u {
            let gu = B::gaussian_sums_grad(u.clone(), v.clone(), w.clone(), gammas.clone());
            grads.register::<B>(node.id, scale_rows::<B>(gu, g.clone()));
        }
        // By symmetry of the kernel, ∂/∂v_j = w_j · (the same sum with the roles of u and v,
        // and of w and g, exchanged).
        if let Some(node) = node_v {
            let gv = B::gaussian_sums_grad(v.clone(), u.clone(), g.clone(), gammas.clone());
            grads.register::<B>(node.id, scale_rows::<B>(gv, w));
        }
        // ∂/∂w_j = Σ_i g_i k(u_i, v_j).
        if let Some(node) = node_w {
            grads.register::<B>(node.id, B::gaussian_sums(v, u, g, gammas));
        }
    }
}

#[derive(Debug)]
struct SoftminBackward;

impl<B: Backend + FusedOps> Backward<B, 1> for SoftminBackward {
    /// `(u, v, h, f, eps, p1)`.
    type State = (
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        f32,
        bool,
    );

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (u, v, h, f, eps, p1) = ops.state;
        let [node_u] = ops.parents;
        let g = grads.consume::<B>(&ops.node); // [n]
        if let Some(node) = node_u {
            let gu = B::lse_softmin_grad(u, v, h, f, eps, p1);
            grads.register::<B>(node.id, scale_rows::<B>(gu, g));
        }
    }
}

impl<B: Backend + FusedOps, C: CheckpointStrategy> FusedOps for Autodiff<B, C> {
    fn gaussian_sums(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        w: FloatTensor<Self>,
        gammas: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let nodes = [u.node(), v.node(), w.node()];
        let (u, v, w, gammas) = (
            u.into_primitive(),
            v.into_primitive(),
            w.into_primitive(),
            gammas.into_primitive(),
        );
        let out = B::gaussian_sums(u.clone(), v.clone(), w.clone(), gammas.clone());
        match GaussianSumsBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((u, v, w, gammas), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn gaussian_sums_grad(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        w: FloatTensor<Self>,
        gammas: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        FloatTensor::<Self>::new(B::gaussian_sums_grad(
            u.into_primitive(),
            v.into_primitive(),
            w.into_primitive(),
            gammas.into_primitive(),
        ))
    }

    fn lse_softmin(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        h: FloatTensor<Self>,
        eps: f32,
        p1: bool,
    ) -> FloatTensor<Self> {
        let nodes = [u.node()];
        let (u, v, h) = (u.into_primitive(), v.into_primitive(), h.into_primitive());
        let f = B::lse_softmin(u.clone(), v.clone(), h.clone(), eps, p1);
        match SoftminBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((u, v, h, f.clone(), eps, p1), f),
            OpsKind::UnTracked(prep) => prep.finish(f),
        }
    }

    fn lse_softmin_grad(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        h: FloatTensor<Self>,
        f: FloatTensor<Self>,
        eps: f32,
        p1: bool,
    ) -> FloatTensor<Self> {
        FloatTensor::<Self>::new(B::lse_softmin_grad(
            u.into_primitive(),
            v.into_primitive(),
            h.into_primitive(),
            f.into_primitive(),
            eps,
            p1,
        ))
    }
}
