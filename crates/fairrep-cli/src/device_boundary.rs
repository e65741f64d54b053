//! The one place a panic is caught: a failure of the compute device that burn or CubeCL
//! reports by panicking (CubeCL: "due to async execution not all errors are able to be
//! caught, so some IO errors will still panic"). Such a panic becomes exit 1 with
//! [`fairrep_run::device`]'s message and hint; any other panic is a bug and stays one (the
//! default message, exit 101), so the tests and the fuzzer see it.

use fairrep_run::device::{classify, device_error as error_of};
use std::any::Any;

/// The text of a panic's payload (`panic!` with a literal or a formatted message).
fn message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// Installs a panic hook that stays silent for device failures (the error is printed once,
/// by `main`, without a backtrace) and prints everything else as Rust does.
pub fn install() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if message(info.payload()).and_then(classify).is_none() {
            default(info);
        }
    }));
}

/// The error for a caught panic that is a device failure; `None` for a bug.
pub fn device_error(payload: &Box<dyn Any + Send>) -> Option<anyhow::Error> {
    let text = message(payload.as_ref())?;
    let failure = classify(text)?;
    Some(error_of("the compute device failed", &failure, text).into())
}
