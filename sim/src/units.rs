//! Durations and node names as people write them in scenario files and flags:
//! exact to the microsecond both ways, so a written schedule replays the same run.

use ringleader_core::NodeId;
use std::time::Duration;

/// Longest duration accepted anywhere: far beyond any simulated run, small enough
/// that microseconds never overflow.
const MAX_MICROS: u128 = 1_000_000 * 1_000_000_000;

/// Parses `250ms`, `1.5s`, `2m`, `100us`, `0.000001s`: a number and a unit, exactly
/// (no float rounding), so a time written by [`format_duration`] reads back equal.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("'{s}' has no unit: write e.g. 500ms, 60s or 2m"))?;
    let (num, unit) = s.split_at(split);
    let micros_per_unit: u128 = match unit {
        "us" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{s}' (use us, ms, s, m or h)"
            ))
        }
    };
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if whole.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(format!("'{s}' does not start with a number"));
    }
    let too_long = || format!("'{s}' is too long");
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_long())?
    };
    let mut micros = whole.checked_mul(micros_per_unit).ok_or_else(too_long)?;
    // The fraction, digit by digit: each one a tenth of the one before.
    let mut scale = micros_per_unit;
    for d in frac.chars() {
        let digit = u128::from(d.to_digit(10).unwrap_or(0));
        if !scale.is_multiple_of(10) {
            if digit != 0 {
                return Err(format!("'{s}' is finer than a microsecond"));
            }
            continue;
        }
        scale /= 10;
        micros += digit * scale;
    }
    if micros > MAX_MICROS {
        return Err(too_long());
    }
    Ok(Duration::from_micros(micros as u64))
}

/// Writes a duration in the largest unit that keeps it exact: `5s`, `1.25s`,
/// `250ms`, `1234us`.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        "0s".to_owned()
    } else if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us >= 1_000_000 {
        let frac = format!("{:06}", us % 1_000_000);
        format!("{}.{}s", us / 1_000_000, frac.trim_end_matches('0'))
    } else if us.is_multiple_of(1_000) {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}us")
    }
}

/// Parses a one-way latency, a range `MIN..MAX` (`200us..2ms`) or one fixed value.
pub fn parse_latency(s: &str) -> Result<(Duration, Duration), String> {
    let (lo, hi) = match s.split_once("..") {
        Some((lo, hi)) => (parse_duration(lo)?, parse_duration(hi)?),
        None => {
            let d = parse_duration(s)?;
            (d, d)
        }
    };
    if lo > hi {
        return Err(format!("latency range '{}' runs backwards", s.trim()));
    }
    Ok((lo, hi))
}

/// Parses a node name, `n3` or `3`.
pub fn parse_node(s: &str) -> Result<NodeId, String> {
    let s = s.trim();
    let digits = s.strip_prefix('n').unwrap_or(s);
    match digits.parse::<u32>() {
        Ok(n) if n > 0 => Ok(NodeId(n)),
        _ => Err(format!("'{s}' is not a node (write n1, n2, ...)")),
    }
}

/// Parses a client name, `c2` or `2`.
pub fn parse_client(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let digits = s.strip_prefix('c').unwrap_or(s);
    match digits.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{s}' is not a client (write c1, c2, ...)")),
    }
}

/// Parses a clock drift bound, `1%`, `0.05%` or `500ppm`, into parts per million
/// (below 50 %).
pub fn parse_drift(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix('%') {
        (n, 10_000.0)
    } else if let Some(n) = t.strip_suffix("ppm") {
        (n, 1.0)
    } else {
        return Err(format!(
            "'{s}' is not a drift: write a percentage (1%) or parts per million (500ppm)"
        ));
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a drift: '{number}' is not a number"))?;
    let ppm = value * scale;
    if !(0.0..500_000.0).contains(&ppm) {
        return Err(format!(
            "'{s}': a drift bound must be at least 0 and below 50%"
        ));
    }
    Ok(ppm.round() as u32)
}

/// Writes a drift bound in parts per million the way [`parse_drift`] reads it.
pub fn format_drift(ppm: u32) -> String {
    format!("{ppm}ppm")
}

/// A TOML string, escaped as the `toml` crate escapes it.
pub fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_back_exactly() {
        for us in [
            0u64, 1, 999, 1_000, 250_000, 1_000_000, 1_250_000, 12_000_250, 61_000_001,
        ] {
            let d = Duration::from_micros(us);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{us}us");
        }
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration(".5ms"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("0.3s"), Ok(Duration::from_millis(300)));
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert!(parse_duration("5 parsecs").unwrap_err().contains("unit"));
        assert!(parse_duration("1.5us").unwrap_err().contains("microsecond"));
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration("99999999999999999999999s")
            .unwrap_err()
            .contains("too long"));
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(parse_node("n3"), Ok(NodeId(3)));
        assert_eq!(parse_node("3"), Ok(NodeId(3)));
        assert!(parse_node("n0").is_err());
        assert!(parse_node("x").is_err());
        assert_eq!(parse_client("c2"), Ok(2));
    }
}
