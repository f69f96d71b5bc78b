//! kaspix-esn-rs: a leaky-integrator echo-state reservoir.
//!
//! `x[t] = (1 - a) * x[t-1] + a * tanh(W x[t-1] + W_in u[t] + b)` with per-unit leak rates `a`.
//! The numerical core is plain Rust ([`ReservoirConfig`] draws [`Weights`], [`Kernel`] runs
//! them, [`run_batch`] runs many sequences on threads); the `python` feature adds the pyo3
//! bindings that maturin builds into `kaspix_esn._native`.

pub mod aligned;
pub mod batch;
pub mod error;
pub mod init;
pub mod kernel;
pub mod real;
pub mod rng;
pub mod sparse;
pub mod spectral;
pub mod weights;

#[cfg(feature = "python")]
mod python;

pub use batch::{Job, run_batch};
pub use error::InputError;
pub use init::{LeakRates, ReservoirConfig, log_leak_rates};
pub use kernel::Kernel;
pub use real::{
    Real, TANH_F32_MAX_ERROR, TANH_F64_MAX_ERROR, TANH_F64_MAX_REL_ERROR, tanh_f32, tanh_f64,
    tanh_f64_fused,
};
pub use weights::Weights;
