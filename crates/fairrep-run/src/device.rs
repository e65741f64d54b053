//! Failures of the compute device (GPU memory, driver), told apart from bugs.
//!
//! burn and CubeCL report most device failures as errors of a read back to the host
//! (`try_into_vec_as`), which [`read_failed`] turns into [`TrainError::Device`]; some surface as
//! panics inside burn ("due to async execution not all errors are able to be caught", CubeCL's
//! own words). [`classify`] recognises both by CubeCL's and wgpu's messages, so the command line
//! can answer either with exit 1 and a hint instead of a crash.

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
