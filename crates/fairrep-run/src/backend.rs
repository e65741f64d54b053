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
    /// The device of this backend: an error when the build or the machine has none (a backend
    /// left out of this build, no wgpu adapter).
    pub fn device(self) -> Result<Device, TrainError> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            // burn-ndarray is deprecated in favour of flex, but supported in 0.22.
            Backend::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Device::enumerate(burn::tensor::DeviceType::Wgpu)
                .into_vec()
                .into_iter()
                .next()
                .ok_or(TrainError::NoDevice {
                    backend: "wgpu",
                    hint: "no wgpu adapter (GPU or Vulkan/GL driver) was found; on Linux without a \
                           GPU install Mesa's software Vulkan driver (apt-get install \
                           mesa-vulkan-drivers libvulkan1), or use a CPU backend (--backend flex)",
                }),
            #[allow(unreachable_patterns)] // every backend is built with --features ndarray,wgpu
            other => Err(TrainError::NoDevice {
                backend: other.name(),
                hint: other.not_built_hint(),
            }),
        }
    }

    /// Whether this build has the backend (the ndarray and wgpu backends are cargo features).
    pub fn is_built(self) -> bool {
        match self {
            Backend::Flex => true,
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// The backends this build has, by name.
    pub fn built() -> Vec<&'static str> {
        [Backend::Flex, Backend::Ndarray, Backend::Wgpu]
            .into_iter()
            .filter(|b| b.is_built())
            .map(Backend::name)
            .collect()
    }

    /// The backend's name on the command line and in the config.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray",
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
        }
    }

    /// What to do when this build lacks the backend.
    fn not_built_hint(self) -> &'static str {
        match self {
            Backend::Wgpu => {
                "this fairrep was built without the wgpu backend (a cargo feature, off by default \
                 to keep the first build short); rebuild with `cargo build --release --features \
                 wgpu` (or `cargo install --path crates/fairrep-cli --features wgpu`), or use \
                 --backend flex"
            }
            _ => {
                "this fairrep was built without the ndarray backend (a cargo feature, off by \
                 default; burn deprecates it in favour of flex); rebuild with `cargo build \
                 --release --features ndarray`, or use --backend flex, which runs the same host \
                 kernels"
            }
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
    use super::Backend;

    #[test]
    fn a_backend_left_out_of_the_build_is_a_clear_error() {
        for b in [Backend::Flex, Backend::Ndarray, Backend::Wgpu] {
            assert_eq!(Backend::built().contains(&b.name()), b.is_built());
            if !b.is_built() {
                let e = b.device().unwrap_err().to_string();
                assert!(
                    e.contains("built without") && e.contains("--features"),
                    "{e}"
                );
            }
        }
        // The hints name the feature to build with.
        assert!(Backend::Wgpu.not_built_hint().contains("--features wgpu"));
        assert!(
            Backend::Ndarray
                .not_built_hint()
                .contains("--features ndarray")
        );
    }

    #[test]
    fn burn_version_is_the_workspace_pin() {
        let manifest = include_str!("../../../Cargo.toml");
        let pin = format!("burn = {{ version = \"={}\"", super::BURN_VERSION);
        assert!(manifest.contains(&pin), "Cargo.toml does not pin {pin}");
    }
}
