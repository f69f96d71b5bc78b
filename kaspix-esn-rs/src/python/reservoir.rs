//! The `Reservoir` Python class.

use numpy::{
    Element, PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::arrays::{
    Dtype, float_dtype, float64_array, float64_vector, initial_state, output_array, positive_count,
    signal_steps, writer,
};
use crate::batch::{Job, run_batch};
use crate::init::{DEFAULT_LEAK_RANGE, LeakRates, ReservoirConfig};
use crate::kernel::Kernel;
use crate::real::Real;
use crate::weights::Weights;

/// A leaky-integrator echo-state reservoir:
/// ``x[t] = (1 - a) * x[t-1] + a * tanh(W @ x[t-1] + W_in @ u[t] + b)``.
///
/// ``leak_rates`` is None (``log_leak_rates(n_units)``: logarithmically spaced from 0.01 to 1,
/// a bank of time scales), one float for every unit, or one value per unit. W has a fraction
/// ``sparsity`` of zero entries and standard-normal nonzero entries, scaled by power iteration
/// to ``spectral_radius``; W_in and b are uniform in ``[-input_scaling, input_scaling]`` and
/// ``[-bias_scaling, bias_scaling]``. The same ``seed`` gives the same weights everywhere.
/// The object is immutable and safe to share between threads.
#[pyclass(module = "kaspix_esn", frozen)]
pub struct Reservoir {
    weights: Weights,
    f64_kernel: Kernel<f64>,
    f32_kernel: Kernel<f32>,
}

#[pymethods]
impl Reservoir {
    #[new]
    #[pyo3(signature = (
        n_units = 64, *, leak_rates = None, spectral_radius = 0.9, sparsity = 0.9,
        input_scaling = 1.0, bias_scaling = 0.1, n_inputs = 1, seed = 0
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        n_units: i64,
        leak_rates: Option<&Bound<'_, PyAny>>,
        spectral_radius: f64,
        sparsity: f64,
        input_scaling: f64,
        bias_scaling: f64,
        n_inputs: i64,
        seed: i128,
    ) -> PyResult<Self> {
        let n_units = positive_count(n_units, "n_units")?;
        let config = ReservoirConfig {
            n_units,
            n_inputs: positive_count(n_inputs, "n_inputs")?,
            leak_rates: leak_rates_arg(leak_rates, n_units)?,
            spectral_radius,
            sparsity,
            input_scaling,
            bias_scaling,
            seed: u64::try_from(seed).map_err(|_| {
                PyValueError::new_err(format!("seed must be an integer in [0, 2**64), got {seed}"))
            })?,
        };
        Ok(Self::from(config.build()?))
    }

    /// A reservoir with the given matrices: ``w`` (N, N), ``w_in`` (N, C) or (N,) for one
    /// input, ``bias`` (N,) or None for zeros, ``leak_rates`` as in the constructor.
    #[staticmethod]
    #[pyo3(signature = (w, w_in, bias = None, leak_rates = None))]
    fn from_weights(
        w: &Bound<'_, PyAny>,
        w_in: &Bound<'_, PyAny>,
        bias: Option<&Bound<'_, PyAny>>,
        leak_rates: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let (w_shape, w) = float64_array(w, "w")?;
        let n = match *w_shape {
            [rows, cols] if rows == cols && rows > 0 => rows,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "w must be a square, non-empty (N, N) matrix, got shape {w_shape:?}"
                )));
            }
        };
        let (w_in_shape, w_in) = float64_array(w_in, "w_in")?;
        let n_inputs = match *w_in_shape {
            [rows] if rows == n => 1,
            [rows, cols] if rows == n && cols > 0 => cols,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "w_in must have shape ({n}, n_inputs) or ({n},) to match w, got {w_in_shape:?}"
                )));
            }
        };
        let bias = match bias {
            Some(b) => float64_vector(b, n, "bias")?,
            None => vec![0.0; n],
        };
        let leak_rates = match leak_rates_arg(leak_rates, n)? {
            LeakRates::LogSpaced(lo, hi) => crate::init::log_leak_rates(n, lo, hi)?,
            LeakRates::Constant(a) => vec![a; n],
            LeakRates::PerUnit(rates) => rates,
        };
        Ok(Self::from(Weights::new(
            n, n_inputs, w, w_in, bias, leak_rates,
        )?))
    }

    /// Number of units N.
    #[getter]
    fn n_units(&self) -> usize {
        self.weights.n_units()
    }

    /// Number of input channels C.
    #[getter]
    fn n_inputs(&self) -> usize {
        self.weights.n_inputs()
    }

    /// Copies of the float64 weights: a dict with ``w`` (N, N), ``w_in`` (N, C), ``bias`` (N,)
    /// and ``leak_rates`` (N,), the keyword arguments of ``from_weights`` and of
    /// ``kaspix_esn.reference.run_reference``.
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (n, c) = (self.weights.n_units(), self.weights.n_inputs());
        let dict = PyDict::new(py);
        dict.set_item(
            "w",
            PyArray1::from_slice(py, self.weights.w()).reshape([n, n])?,
        )?;
        dict.set_item(
            "w_in",
            PyArray1::from_slice(py, self.weights.w_in()).reshape([n, c])?,
        )?;
        dict.set_item("bias", PyArray1::from_slice(py, self.weights.bias()))?;
        dict.set_item(
            "leak_rates",
            PyArray1::from_slice(py, self.weights.leak_rates()),
        )?;
        Ok(dict)
    }

    /// Runs the reservoir over ``signal`` (T,) or (T, C), a C-contiguous float32 or float64
    /// array without NaN or inf, from ``initial_state`` (N values; zeros by default). Returns
    /// the (T, N) states in the signal's dtype, written into ``out`` when given (a C-contiguous
    /// (T, N) array of that dtype, reused across calls to skip allocating). float64 uses a
    /// vectorised tanh within ``TANH_F64_MAX_ERROR`` (1.5 ulps) of the exact one; float32 a
    /// rational approximation within ``TANH_F32_MAX_ERROR``. The GIL is released while it runs.
    #[pyo3(signature = (signal, initial_state = None, out = None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        signal: &Bound<'py, PyAny>,
        initial_state: Option<&Bound<'py, PyAny>>,
        out: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match float_dtype(signal, "signal")? {
            Dtype::F64 => {
                run_one(py, &self.f64_kernel, signal.cast()?, initial_state, out)?.into_any()
            }
            Dtype::F32 => {
                run_one(py, &self.f32_kernel, signal.cast()?, initial_state, out)?.into_any()
            }
        })
    }

    /// Runs independent sequences (a sequence of arrays as in ``run``, all of one dtype, lengths
    /// may differ) on ``n_threads`` threads (default: the number of CPUs), each from a zero
    /// state. Returns a list of (T_i, N) state arrays, the arrays of ``out`` when given (one per
    /// signal, as in ``run``). The GIL is released while it runs.
    #[pyo3(signature = (signals, n_threads = None, out = None))]
    fn run_batch<'py>(
        &self,
        py: Python<'py>,
        signals: &Bound<'py, PyAny>,
        n_threads: Option<i64>,
        out: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let threads = match n_threads {
            Some(n) => positive_count(n, "n_threads")?,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if signals.cast::<PyUntypedArray>().is_ok_and(|a| a.ndim() < 2) {
            return Err(PyTypeError::new_err(
                "signals must be a sequence of signal arrays (a list, or a 2-D/3-D array); for one signal use run()",
            ));
        }
        let items: Vec<Bound<'py, PyAny>> = signals
            .try_iter()
            .map_err(|_| {
                PyTypeError::new_err("signals must be a sequence of numpy arrays, e.g. a list")
            })?
            .collect::<PyResult<_>>()?;
        let outs: Option<Vec<Bound<'py, PyAny>>> = out
            .map(|o| {
                o.try_iter()
                    .map_err(|_| {
                        PyTypeError::new_err(
                            "out must be a sequence of numpy arrays, one per signal",
                        )
                    })?
                    .collect::<PyResult<_>>()
            })
            .transpose()?;
        if let Some(outs) = &outs {
            if outs.len() != items.len() {
                return Err(PyValueError::new_err(format!(
                    "out has {} arrays for {} signals; pass one per signal",
                    outs.len(),
                    items.len()
                )));
            }
        }
        let Some(first) = items.first() else {
            return Ok(Vec::new());
        };
        let dtype = float_dtype(first, "signals[0]")?;
        for (i, item) in items.iter().enumerate().skip(1) {
            if float_dtype(item, &format!("signals[{i}]"))? != dtype {
                return Err(PyTypeError::new_err(format!(
                    "signals[{i}] has a different dtype from signals[0]; all signals of a batch must share one dtype"
                )));
            }
        }
        Ok(match dtype {
            Dtype::F64 => run_many(py, &self.f64_kernel, &items, outs.as_deref(), threads)?
                .into_iter()
                .map(Bound::into_any)
                .collect(),
            Dtype::F32 => run_many(py, &self.f32_kernel, &items, outs.as_deref(), threads)?
                .into_iter()
                .map(Bound::into_any)
                .collect(),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Reservoir(n_units={}, n_inputs={})",
            self.weights.n_units(),
            self.weights.n_inputs()
        )
    }
}

impl From<Weights> for Reservoir {
    fn from(weights: Weights) -> Self {
        Self {
            f64_kernel: Kernel::new(&weights),
            f32_kernel: Kernel::new(&weights),
            weights,
        }
    }
}

/// The `leak_rates` argument: None, one number, or one value per unit.
fn leak_rates_arg(obj: Option<&Bound<'_, PyAny>>, n_units: usize) -> PyResult<LeakRates> {
    let Some(obj) = obj else {
        return Ok(LeakRates::LogSpaced(
            DEFAULT_LEAK_RANGE.0,
            DEFAULT_LEAK_RANGE.1,
        ));
    };
    if obj.cast::<PyUntypedArray>().is_err() {
        if let Ok(value) = obj.extract::<f64>() {
            return Ok(LeakRates::Constant(value));
        }
    }
    Ok(LeakRates::PerUnit(float64_vector(
        obj,
        n_units,
        "leak_rates",
    )?))
}

/// One signal through `kernel`, into `out` or a new (T, N) array.
fn run_one<'py, T: Real + Element>(
    py: Python<'py>,
    kernel: &Kernel<T>,
    signal: &Bound<'py, PyArrayDyn<T>>,
    initial_state_obj: Option<&Bound<'py, PyAny>>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    let steps = signal_steps(signal, kernel.n_inputs(), "signal")?;
    let x0 = initial_state::<T>(initial_state_obj, kernel.n_units())?;
    let output = output_array::<T>(py, out, steps, kernel.n_units(), "out")?;
    let input = signal.try_readonly()?;
    let input = input.as_slice()?;
    let mut states = writer(&output, "out")?;
    let states_slice = states.as_slice_mut()?;
    py.detach(|| kernel.run(input, x0.as_deref(), states_slice))?;
    drop(states);
    Ok(output)
}

/// Many signals through `kernel` on `threads` threads, into the arrays of `outs` or new
/// (T_i, N) arrays.
fn run_many<'py, T: Real + Element>(
    py: Python<'py>,
    kernel: &Kernel<T>,
    items: &[Bound<'py, PyAny>],
    outs: Option<&[Bound<'py, PyAny>]>,
    threads: usize,
) -> PyResult<Vec<Bound<'py, PyArray2<T>>>> {
    let arrays: Vec<&Bound<'py, PyArrayDyn<T>>> =
        items.iter().map(|o| o.cast()).collect::<Result<_, _>>()?;
    let mut steps = Vec::with_capacity(arrays.len());
    for (i, array) in arrays.iter().enumerate() {
        steps.push(signal_steps(
            array,
            kernel.n_inputs(),
            &format!("signals[{i}]"),
        )?);
    }
    let readers = arrays
        .iter()
        .map(|a| a.try_readonly())
        .collect::<Result<Vec<_>, _>>()?;
    let outputs = steps
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            output_array::<T>(
                py,
                outs.map(|o| &o[i]),
                t,
                kernel.n_units(),
                &format!("out[{i}]"),
            )
        })
        .collect::<PyResult<Vec<_>>>()?;
    let mut writers = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| writer(o, &format!("out[{i}]")))
        .collect::<PyResult<Vec<_>>>()?;
    let mut jobs = Vec::with_capacity(readers.len());
    for (reader, writer) in readers.iter().zip(writers.iter_mut()) {
        jobs.push(Job {
            signal: reader.as_slice()?,
            initial_state: None,
            out: writer.as_slice_mut()?,
        });
    }
    py.detach(|| run_batch(kernel, jobs, threads))?;
    drop(writers);
    Ok(outputs)
}
