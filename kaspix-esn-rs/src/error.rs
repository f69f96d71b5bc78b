//! The one error type of the numerical core.

use std::fmt;

/// A value, shape or setting passed by the caller is wrong. The message says what is wrong and
/// how to fix it; the Python bindings raise it as `ValueError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl InputError {
    /// An error carrying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Shorthand for results of the core.
pub type Result<T> = std::result::Result<T, InputError>;

/// `Err` unless every value of `values` is finite; `what` names them in the message.
pub fn ensure_finite(values: &[f64], what: &str) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(InputError(format!(
            "{what} contains a non-finite value ({}) at flat index {i}; replace NaN/inf values first",
            values[i]
        ))),
    }
}
