//! The one place that decides which implementation of a divergence runs: the fused CPU kernels
//! of [`crate::host`], the fused GPU kernels of `crate::fused`, or the portable tensor ops
//! every backend has. [`crate::mmd::Mmd`] and [`crate::sinkhorn::Sinkhorn`] say which kernels
//! exist for their settings ([`Kernels`]); [`ComputePath::choose`] adds what the tensor is (its
//! device, dtype and shape).

use burn::Tensor;
use burn::tensor::DType;

/// Which fused kernels a divergence has for its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    /// The fused CPU kernels (ndarray and flex, f32 and f64).
    pub host: bool,
    /// The fused GPU kernels (a CubeCL device, f32, `d ≤ fused::kernels::MAX_DIM`).
    pub gpu: bool,
}

/// The implementation a computation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComputePath {
    /// The fused GPU kernels (feature `fused`).
    Fused,
    /// The fused CPU kernels in f32.
    HostF32,
    /// The fused CPU kernels in f64.
    HostF64,
    /// burn's tensor ops: dense `n × m` matrices, any backend and dtype.
    Portable,
}

impl ComputePath {
    /// The path for inputs like `x` (the first cloud; the second shares its device and dtype)
    /// when the divergence has `kernels`.
    pub fn choose(x: &Tensor<2>, kernels: Kernels) -> ComputePath {
        #[cfg(feature = "fused")]
        if kernels.gpu && crate::fused::uses_fused(x) {
            return ComputePath::Fused;
        }
        if kernels.host && crate::host::is_host(&x.device()) {
            return match x.dtype() {
                DType::F32 => ComputePath::HostF32,
                DType::F64 => ComputePath::HostF64,
                _ => ComputePath::Portable,
            };
        }
        ComputePath::Portable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn the_cpu_backends_take_the_host_kernels_in_their_dtype() {
        let all = Kernels {
            host: true,
            gpu: true,
        };
        let none = Kernels {
            host: false,
            gpu: false,
        };
        let device = Device::flex();
        let x32 = Tensor::<2>::zeros([3, 2], (&device, DType::F32));
        let x64 = Tensor::<2>::zeros([3, 2], (&device, DType::F64));
        assert_eq!(ComputePath::choose(&x32, all), ComputePath::HostF32);
        assert_eq!(ComputePath::choose(&x64, all), ComputePath::HostF64);
        assert_eq!(ComputePath::choose(&x64, none), ComputePath::Portable);
        let tracked = Tensor::<2>::zeros([3, 2], (&device.clone().autodiff(), DType::F32));
        assert_eq!(ComputePath::choose(&tracked, all), ComputePath::HostF32);
    }
}
