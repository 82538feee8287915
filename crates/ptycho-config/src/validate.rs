//! Small rule helpers shared by the `validate` methods of every configuration type.
//!
//! Each helper returns a [`ConfigError::Invalid`] naming the qualified field, the value found and
//! the rule, so the caller only states the rule once.

use crate::error::{ConfigError, Result};

/// `value > 0` for counts.
pub fn positive_count(field: &str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(ConfigError::invalid(
            field,
            value,
            "must be a positive whole number (at least 1)",
        ));
    }
    Ok(())
}

/// Optional count: when set, `> 0`.
pub fn positive_count_opt(field: &str, value: Option<usize>) -> Result<()> {
    match value {
        Some(value) => positive_count(field, value),
        None => Ok(()),
    }
}

/// Finite and `> 0`.
pub fn positive_real(field: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value > 0.0) {
        return Err(ConfigError::invalid(
            field,
            fmt_real(value),
            "must be a finite number greater than 0",
        ));
    }
    Ok(())
}

/// Finite and `>= 0`.
pub fn non_negative_real(field: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(ConfigError::invalid(
            field,
            fmt_real(value),
            "must be a finite number of at least 0",
        ));
    }
    Ok(())
}

/// Finite and within `[low, high]` (both inclusive).
pub fn real_in(field: &str, value: f64, low: f64, high: f64) -> Result<()> {
    if !(value.is_finite() && (low..=high).contains(&value)) {
        return Err(ConfigError::invalid(
            field,
            fmt_real(value),
            format!("must lie between {} and {}", fmt_real(low), fmt_real(high)),
        ));
    }
    Ok(())
}

/// Finite and within `[low, high)`.
pub fn real_in_half_open(field: &str, value: f64, low: f64, high: f64) -> Result<()> {
    if !(value.is_finite() && value >= low && value < high) {
        return Err(ConfigError::invalid(
            field,
            fmt_real(value),
            format!(
                "must be at least {} and below {}",
                fmt_real(low),
                fmt_real(high)
            ),
        ));
    }
    Ok(())
}

/// Formats a float the way Python's `repr` does for the values users write (`0.5`, `1.0`,
/// `1000000000.0`), so messages echo what the user typed.
pub fn fmt_real(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e16 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}
