//! Failures of the compute device (GPU memory, driver), told apart from bugs.
//!
//! burn and CubeCL report most device failures as errors of a read back to the host
//! (`try_into_vec_as`), which [`read_failed`] turns into [`TrainError::Device`]; some surface as
//! panics inside burn ("due to async execution not all errors are able to be caught", CubeCL's
//! own words). [`classify`] recognises both by CubeCL's and wgpu's messages, so the command line
//! can answer either with exit 1 and a hint instead of a crash. Matching text is fragile, so a
//! test reads the sources of the exact CubeCL and wgpu versions in Cargo.lock (cargo's
//! registry) and fails when a marker is no longer there: an upgrade that rewords a message
//! fails the tests instead of turning device failures into crashes; `tests/e2e.rs` provokes a
//! real out-of-memory on wgpu and checks the exit code and message.

use crate::error::TrainError;

/// What went wrong on the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceFailure {
    /// An allocation the device cannot serve (`bytes` asked, when the message says).
    OutOfMemory {
        /// The size of the allocation in bytes.
        bytes: Option<u64>,
    },
    /// Any other failure of the device or its driver (a kernel that does not compile, a lost
    /// device).
    Other,
}

/// CubeCL's and wgpu's messages for an allocation that failed, each followed by the size.
const OOM_MARKERS: [&str; 6] = [
    "can't allocate buffer of size: ",
    "out of device memory allocating ",
    "Can't allocate ",
    "No room for ",
    "BufferTooBig { size: ",
    "OutOfMemory { size: ",
];

/// Words that only a device or driver failure puts in a message.
const DEVICE_MARKERS: [&str; 8] = [
    "Out of Memory",
    "out of memory",
    "OutOfMemory",
    "wgpu error",
    "Device lost",
    "DeviceLost",
    "Shader",
    "WGSL",
];

/// The device failure a message describes, if it describes one.
pub fn classify(message: &str) -> Option<DeviceFailure> {
    for marker in OOM_MARKERS {
        if let Some(at) = message.find(marker) {
            let digits: String = message[at + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            return Some(DeviceFailure::OutOfMemory {
                bytes: digits.parse().ok(),
            });
        }
    }
    if message.contains("Out of Memory")
        || message.contains("out of memory")
        || message.contains("OutOfMemory")
    {
        return Some(DeviceFailure::OutOfMemory { bytes: None });
    }
    DEVICE_MARKERS
        .iter()
        .any(|m| message.contains(m))
        .then_some(DeviceFailure::Other)
}

/// The error for a device failure while doing `what`, with what to change.
pub fn device_error(what: &str, failure: &DeviceFailure, message: &str) -> TrainError {
    let first_line = message
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let (problem, hint) = match failure {
        DeviceFailure::OutOfMemory { bytes } => (
            match bytes {
                Some(b) => format!(
                    "the device has no memory for an allocation of {b} bytes ({:.2} GiB)",
                    *b as f64 / f64::from(1u32 << 30)
                ),
                None => "the device ran out of memory".to_string(),
            },
            "use --dtype f32 (half the memory), a smaller batch (training.batch_size) or fewer \
             points, or a CPU backend (--backend flex)",
        ),
        DeviceFailure::Other => (
            format!("the device failed: {first_line}"),
            "try a CPU backend (--backend flex), or --dtype f32 on wgpu",
        ),
    };
    TrainError::Device {
        what: what.to_string(),
        problem,
        hint,
    }
}

/// The error for a failed read of a tensor back to the host while doing `what`: a device
/// failure when the message says so, else an internal error.
pub fn read_failed(what: &str, error: impl std::fmt::Display) -> TrainError {
    let message = error.to_string();
    match classify(&message) {
        Some(failure) => device_error(what, &failure, &message),
        None => TrainError::Internal(format!("{what}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Where each marker comes from: the crate (at its version in Cargo.lock) whose source
    /// must contain the needle. A marker is text burn, CubeCL or wgpu put in a panic; if an
    /// upgrade rewords it, this test fails at the upgrade instead of the device boundary
    /// silently turning device failures into crashes.
    const ORIGINS: [(&str, &str, &str); 9] = [
        (
            OOM_MARKERS[0],
            "cubecl-runtime",
            "can't allocate buffer of size: ",
        ),
        (
            OOM_MARKERS[1],
            "cubecl-runtime",
            "out of device memory allocating ",
        ),
        (OOM_MARKERS[2], "cubecl-runtime", "Can't allocate "),
        (OOM_MARKERS[3], "cubecl-runtime", "No room for "),
        (OOM_MARKERS[4], "cubecl-runtime", "BufferTooBig {"),
        (OOM_MARKERS[5], "cubecl-runtime", "OutOfMemory {"),
        (DEVICE_MARKERS[3], "cubecl-wgpu", "wgpu error"),
        (DEVICE_MARKERS[4], "wgpu-hal", "Device lost"),
        (DEVICE_MARKERS[5], "wgpu", "DeviceLost"),
    ];

    /// The source directory of `krate` at its Cargo.lock version in cargo's registry.
    fn source_of(krate: &str) -> std::path::PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("Cargo.lock");
        let version = lock
            .split("[[package]]")
            .find_map(|p| {
                let name = p.lines().find_map(|l| l.strip_prefix("name = "))?;
                (name.trim_matches('"') == krate)
                    .then(|| p.lines().find_map(|l| l.strip_prefix("version = ")))
                    .flatten()
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| panic!("{krate} is not in Cargo.lock"));
        let home = std::env::var_os("CARGO_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
            .expect("CARGO_HOME or HOME");
        let registry = home.join("registry/src");
        std::fs::read_dir(&registry)
            .unwrap_or_else(|e| panic!("{}: {e}", registry.display()))
            .filter_map(|e| e.ok())
            .map(|e| e.path().join(format!("{krate}-{version}")))
            .find(|p| p.is_dir())
            .unwrap_or_else(|| panic!("no {krate}-{version} under {}", registry.display()))
    }

    fn contains(dir: &Path, needle: &str) -> bool {
        std::fs::read_dir(dir)
            .expect("a source directory")
            .any(|e| {
                let p = e.expect("an entry").path();
                if p.is_dir() {
                    contains(&p, needle)
                } else {
                    p.extension().is_some_and(|x| x == "rs")
                        && std::fs::read_to_string(&p).is_ok_and(|t| t.contains(needle))
                }
            })
    }

    #[test]
    fn every_marker_is_still_in_the_pinned_sources() {
        for (marker, krate, needle) in ORIGINS {
            let dir = source_of(krate);
            assert!(
                contains(&dir, needle),
                "`{needle}` (marker `{marker}`) is no longer in {}: the device boundary would \
                 take that failure for a bug; update device.rs's markers",
                dir.display()
            );
        }
    }

    #[test]
    fn cubecl_and_wgpu_messages_are_recognised() {
        let too_big =
            "reading back to the host: can't allocate buffer of size: 2147483648\n  0: bt";
        assert_eq!(
            classify(too_big),
            Some(DeviceFailure::OutOfMemory {
                bytes: Some(2_147_483_648)
            })
        );
        let debug = "called `Result::unwrap()` on an `Err` value: BufferTooBig { size: 4096, .. }";
        assert_eq!(
            classify(debug),
            Some(DeviceFailure::OutOfMemory { bytes: Some(4096) })
        );
        assert_eq!(
            classify("wgpu error: Validation Error\n\nCaused by: ..."),
            Some(DeviceFailure::Other)
        );
        assert_eq!(classify("index out of bounds: the len is 3"), None);
        assert_eq!(classify("attempt to subtract with overflow"), None);
    }

    #[test]
    fn the_error_names_the_size_and_what_to_change() {
        let e = read_failed(
            "reading the divergence back to the host",
            "can't allocate buffer of size: 2147483648\nbacktrace",
        );
        let text = e.to_string();
        assert!(text.contains("2147483648 bytes (2.00 GiB)"), "{text}");
        assert!(text.contains("--dtype f32"), "{text}");
        assert!(text.contains("--backend flex"), "{text}");
        assert!(!text.contains("backtrace"), "{text}");
        assert!(!e.is_user_error());
        let bug = read_failed("reading", "Expected 1 tensor element(s), but got 2");
        assert!(matches!(bug, TrainError::Internal(_)));
    }
}
