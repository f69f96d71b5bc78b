//! Checked conversions between Python objects and the slices the core works on. Every
//! failure is a `TypeError` (wrong kind of object or dtype) or `ValueError` (wrong shape or
//! value) whose message says how to fix the call.

use numpy::{
    AllowTypeChange, Element, PyArray2, PyArrayDyn, PyArrayLikeDyn, PyArrayMethods,
    PyReadwriteArray2, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::real::Real;

/// The float type of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F64,
}

/// The float type of `obj`, which must be a float32 or float64 `numpy.ndarray`.
pub fn float_dtype(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Dtype> {
    if obj.cast::<PyArrayDyn<f64>>().is_ok() {
        return Ok(Dtype::F64);
    }
    if obj.cast::<PyArrayDyn<f32>>().is_ok() {
        return Ok(Dtype::F32);
    }
    Err(match obj.cast::<PyUntypedArray>() {
        Ok(array) => PyTypeError::new_err(format!(
            "{what} has dtype {}, expected float32 or float64; convert it with .astype(np.float32) or .astype(np.float64)",
            array.dtype()
        )),
        Err(_) => PyTypeError::new_err(format!(
            "{what} must be a numpy.ndarray of float32 or float64, got {}; convert it with np.asarray(..., dtype=np.float64)",
            obj.get_type().name()?
        )),
    })
}

/// Number of time steps of `signal`: shape (T,) for a one-input reservoir or (T, n_inputs),
/// C-contiguous. An empty signal passes here and is refused by the core.
pub fn signal_steps<T: numpy::Element>(
    signal: &Bound<'_, PyArrayDyn<T>>,
    n_inputs: usize,
    what: &str,
) -> PyResult<usize> {
    let shape = signal.shape();
    let steps = match *shape {
        [t] if n_inputs == 1 => t,
        [_] => {
            return Err(PyValueError::new_err(format!(
                "{what} is 1-D but the reservoir has {n_inputs} input channels; pass shape (T, {n_inputs})"
            )));
        }
        [t, c] if c == n_inputs => t,
        [_, c] => {
            return Err(PyValueError::new_err(format!(
                "{what} has {c} channels (shape {shape:?}) but the reservoir has {n_inputs}; pass shape (T, {n_inputs})"
            )));
        }
        _ => {
            return Err(PyValueError::new_err(format!(
                "{what} must be 1-D (T,) or 2-D (T, channels), got {} dimensions (shape {shape:?})",
                shape.len()
            )));
        }
    };
    if !signal.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{what} is not C-contiguous (a strided slice or a transposed view); pass np.ascontiguousarray({what})"
        )));
    }
    Ok(steps)
}

/// Any array-like of numbers as float64 values (C order) and its shape.
pub fn float64_array(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<(Vec<usize>, Vec<f64>)> {
    let array: PyArrayLikeDyn<'_, f64, AllowTypeChange> = obj.extract().map_err(|e| {
        PyTypeError::new_err(format!("{what} must be an array-like of real numbers: {e}"))
    })?;
    let view = array.as_array();
    Ok((view.shape().to_vec(), view.iter().copied().collect()))
}

/// A 1-D array-like of numbers of length `len` as float64 values.
pub fn float64_vector(obj: &Bound<'_, PyAny>, len: usize, what: &str) -> PyResult<Vec<f64>> {
    let (shape, values) = float64_array(obj, what)?;
    if shape != [len] {
        return Err(PyValueError::new_err(format!(
            "{what} must have shape ({len},), got {shape:?}"
        )));
    }
    Ok(values)
}

/// An initial state of `n_units` values in float type `T`.
pub fn initial_state<T: Real>(
    obj: Option<&Bound<'_, PyAny>>,
    n_units: usize,
) -> PyResult<Option<Vec<T>>> {
    obj.map(|o| {
        Ok(float64_vector(o, n_units, "initial_state")?
            .into_iter()
            .map(T::from_f64)
            .collect())
    })
    .transpose()
}

/// `value` as a count >= 1.
pub fn positive_count(value: i64, what: &str) -> PyResult<usize> {
    usize::try_from(value)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| PyValueError::new_err(format!("{what} must be at least 1, got {value}")))
}

/// Where `steps` x `n_units` states go: `out` when given (a C-contiguous, writeable 2-D array of
/// dtype `T` and that shape), else a new zeroed array.
pub fn output_array<'py, T: Element>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    steps: usize,
    n_units: usize,
    what: &str,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    let Some(out) = out else {
        return Ok(PyArray2::<T>::zeros(py, [steps, n_units], false));
    };
    let array = out.cast::<PyArray2<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a 2-D numpy.ndarray of dtype {} (the signal's), shape ({steps}, {n_units})",
            numpy::dtype::<T>(py)
        ))
    })?;
    if array.shape() != [steps, n_units] {
        return Err(PyValueError::new_err(format!(
            "{what} has shape {:?}, expected ({steps}, {n_units}) (time steps, units)",
            array.shape()
        )));
    }
    if !array.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{what} is not C-contiguous; pass an array made by np.empty"
        )));
    }
    Ok(array.clone())
}

/// Write access to an output array: refused when it is read-only or shares memory with
/// another argument of the same call.
pub fn writer<'py, T: Element>(
    array: &Bound<'py, PyArray2<T>>,
    what: &str,
) -> PyResult<PyReadwriteArray2<'py, T>> {
    array.try_readwrite().map_err(|e| {
        PyValueError::new_err(format!(
            "{what} cannot be written ({e}); pass a writeable array that shares no memory with the signals or other outputs"
        ))
    })
}
