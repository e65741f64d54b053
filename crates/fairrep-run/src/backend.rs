//! The compute backend of a run, chosen at run time.

use crate::error::TrainError;
use burn::tensor::Device;

/// The burn version this build uses (the workspace pins it).
pub const BURN_VERSION: &str = "0.22.1";

/// The compute backend of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn's ndarray CPU backend (the divergences run on fused CPU kernels).
    Ndarray,
    /// burn's flex CPU backend (pure Rust: gemm, SIMD, rayon; the divergences run on the same
    /// fused CPU kernels).
    Flex,
    /// burn's wgpu backend (Vulkan, Metal, DirectX or OpenGL, through CubeCL): a GPU, or Mesa's
    /// lavapipe software Vulkan driver on a machine without one.
    Wgpu,
}

impl Backend {
    /// The device of this backend: an error when the build or the machine has none (no wgpu
    /// adapter).
    #[allow(deprecated)] // burn-ndarray is deprecated in favour of flex, but supported in 0.22.
    pub fn device(self) -> Result<Device, TrainError> {
        match self {
            Backend::Ndarray => Ok(Device::ndarray()),
            Backend::Flex => Ok(Device::flex()),
            Backend::Wgpu => Device::enumerate(burn::tensor::DeviceType::Wgpu)
                .into_vec()
                .into_iter()
                .next()
                .ok_or(TrainError::NoDevice {
                    backend: "wgpu",
                    hint: "no wgpu adapter (GPU or Vulkan/GL driver) was found; on Linux without a \
                           GPU install Mesa's software Vulkan driver (apt-get install \
                           mesa-vulkan-drivers libvulkan1), or use a CPU backend (--backend flex or ndarray)",
                }),
        }
    }

    /// A short description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray (CPU)",
            Backend::Flex => "flex (CPU)",
            Backend::Wgpu => "wgpu",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn burn_version_is_the_workspace_pin() {
        let manifest = include_str!("../../../Cargo.toml");
        let pin = format!("burn = {{ version = \"={}\"", super::BURN_VERSION);
        assert!(manifest.contains(&pin), "Cargo.toml does not pin {pin}");
    }
}
