//! One module per command: its options (a clap `Args` struct, whose doc comment is the one-line
//! summary `fairrep --help` shows and the long text, with an example, of `fairrep COMMAND
//! --help`) and its `run`.

pub mod audit;
pub mod audit_predictions;
pub mod barycenter;
pub mod certify;
pub mod config;
pub mod divergence;
pub mod encode;
pub mod eval;
pub mod export;
pub mod predict;
pub mod report;
pub mod sweep;
pub mod train;
pub mod transfer;
