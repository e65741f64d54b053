//! Usage errors and the exit code of an error.

use fairrep_run::TrainError;
use fairrep_study::StudyError;

/// A usage error (exit code 2): an option's value or a combination of options that cannot be
/// used, said in a sentence.
pub fn usage(message: String) -> anyhow::Error {
    TrainError::Usage(message).into()
}

/// Whether an error is the user's input (exit code 2) rather than a failure while running
/// (exit code 1).
pub fn is_user_error(e: &anyhow::Error) -> bool {
    if let Some(e) = e.downcast_ref::<TrainError>() {
        return e.is_user_error();
    }
    if let Some(e) = e.downcast_ref::<StudyError>() {
        return e.is_user_error();
    }
    e.downcast_ref::<fairrep_report::ReadError>().is_some()
}
