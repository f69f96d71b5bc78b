//! The `kaspix_esn._native` extension module (built by maturin with the `python` feature).

mod arrays;
mod reservoir;

use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::InputError;

impl From<InputError> for PyErr {
    fn from(error: InputError) -> Self {
        PyValueError::new_err(error.0)
    }
}

/// `n_units` leak rates spaced logarithmically from `low` to `high` (inclusive), a bank of
/// time scales from 1/high to 1/low samples. The default of `Reservoir`.
#[pyfunction]
#[pyo3(signature = (n_units, low = 0.01, high = 1.0))] // crate::init::DEFAULT_LEAK_RANGE
fn log_leak_rates(
    py: Python<'_>,
    n_units: i64,
    low: f64,
    high: f64,
) -> PyResult<Bound<'_, PyArray1<f64>>> {
    let n = arrays::positive_count(n_units, "n_units")?;
    Ok(PyArray1::from_vec(
        py,
        crate::init::log_leak_rates(n, low, high)?,
    ))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<reservoir::Reservoir>()?;
    m.add_function(wrap_pyfunction!(log_leak_rates, m)?)?;
    m.add("TANH_F32_MAX_ERROR", crate::real::TANH_F32_MAX_ERROR)?;
    m.add("TANH_F64_MAX_ERROR", crate::real::TANH_F64_MAX_ERROR)?;
    m.add(
        "TANH_F64_MAX_REL_ERROR",
        crate::real::TANH_F64_MAX_REL_ERROR,
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
