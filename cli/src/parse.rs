//! Parsers for flag values: durations with units, probabilities.

use std::ops::RangeInclusive;
use std::time::Duration;

/// Parses `250ms`, `1.5s`, `2m`, `100us`: a number and a unit, exact to the
/// microsecond, the same way scenario files are read.
pub fn duration(s: &str) -> Result<Duration, String> {
    ringleader_sim::units::parse_duration(s)
}

/// Parses a clock drift bound, `1%`, `0.05%` or `500ppm`, into parts per million
/// (below 50 %), the way scenario files read `max_drift`.
pub fn drift(s: &str) -> Result<u32, String> {
    ringleader_sim::units::parse_drift(s)
}

/// Parses a probability between 0 and 1.
pub fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability between 0 and 1"))
    }
}

/// Parses a latency range `MIN..MAX`, e.g. `200us..2ms`, or a single fixed latency.
pub fn latency(s: &str) -> Result<(Duration, Duration), String> {
    ringleader_sim::units::parse_latency(s)
}

/// Parses an election algorithm: bully, ring or quorum.
pub fn algorithm(s: &str) -> Result<ringleader_core::Algorithm, String> {
    s.parse()
}

/// Parses a durability: power or process.
pub fn durability(s: &str) -> Result<ringleader_core::durable::Durability, String> {
    s.parse()
}

/// Parses a rank rule: id, oldest or address.
pub fn rank(s: &str) -> Result<ringleader_core::RankBy, String> {
    s.parse()
}

/// Parses a size in bytes: a whole number and a unit, `32MiB`, `512KiB`,
/// `1GiB` (powers of 1024; `K`, `M`, `G` alone too), `64MB` (powers of 1000),
/// or plain bytes (`4096`, `4096B`).
pub fn bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a size: expected e.g. 32MiB, 512KiB or 4096"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "'{other}' in '{s}' is not a unit of size (B, KiB, MiB, GiB, KB, MB, GB)"
            ))
        }
    };
    n.checked_mul(scale)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// Parses a retention: entries (`1000000`), an age (`30d`, `12h`, `90m`,
/// `45s`) or a size (`10GiB`, `500MB`).
pub fn retain(s: &str) -> Result<ringleader_runtime::logfile::Retain, String> {
    use ringleader_runtime::logfile::Retain;
    let t = s.trim();
    if let Ok(n) = t.parse::<u64>() {
        return if n > 0 {
            Ok(Retain::Entries(n))
        } else {
            Err("--retain 0 would keep nothing".into())
        };
    }
    if t.to_ascii_lowercase().ends_with('b') || t.ends_with('K') || t.ends_with('G') {
        return bytes(t).map(|b| Retain::Bytes(b as u64));
    }
    let days_or_hours = |suffix: char, secs: u64| {
        t.strip_suffix(suffix)
            .and_then(|n| n.parse::<u64>().ok())
            .map(|n| std::time::Duration::from_secs(n.saturating_mul(secs)))
    };
    let age = days_or_hours('d', 86_400)
        .or_else(|| days_or_hours('h', 3_600))
        .map_or_else(|| duration(t), Ok)
        .map_err(|_| {
            format!("'{s}' is not a retention: expected entries (1000000), an age (30d, 12h, 90m) or a size (10GiB)")
        })?;
    if age.is_zero() {
        return Err("--retain 0s would keep nothing".into());
    }
    Ok(Retain::Age(age))
}

/// Parses a server address: `127.0.0.1:7102`, `[::1]:7102`, or a host
/// name with a port (`localhost:7102`, resolved once, the first address).
pub fn server(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = s.trim().parse() {
        return Ok(addr);
    }
    if !s.contains(':') {
        return Err(format!(
            "'{s}' has no port: write HOST:PORT, e.g. 127.0.0.1:7102"
        ));
    }
    s.trim()
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{s}': {e}"))?
        .next()
        .ok_or_else(|| format!("'{s}' resolves to no address"))
}

/// Where `--http` serves: an address, or nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Http {
    /// No status page.
    Off,
    /// At this address.
    At(std::net::SocketAddr),
}

/// Parses `--http`: `off`, or an address (`127.0.0.1:8101`, `0.0.0.0:8101`,
/// `localhost:8101`).
pub fn http(s: &str) -> Result<Http, String> {
    if s.trim().eq_ignore_ascii_case("off") {
        return Ok(Http::Off);
    }
    server(s).map(Http::At)
}

/// Parses a positive whole number.
pub fn count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{s}' is not a positive whole number")),
    }
}

/// Parses `A..B` (both included), or one seed.
pub fn seeds(s: &str) -> Result<RangeInclusive<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .map(|(a, b)| (a, b.trim_start_matches('=')))
        .unwrap_or((s, s));
    let num = |x: &str| {
        x.trim()
            .parse::<u64>()
            .map_err(|_| format!("'{x}' is not a seed in '{s}' (write A..B, e.g. 1..1000)"))
    };
    let (a, b) = (num(a)?, num(b)?);
    if a > b {
        return Err(format!("seed range '{s}' runs backwards"));
    }
    Ok(a..=b)
}

/// Parses a shard, `K/N`: the K-th (from 1) of N shares of the seeds.
pub fn shard(s: &str) -> Result<ringleader_sim::sweep::Shard, String> {
    let bad = || format!("'{s}' is not a shard (write K/N with 1 <= K <= N <= 1000000, e.g. 3/16)");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || k > n || n > 1_000_000 {
        return Err(bad());
    }
    Ok(ringleader_sim::sweep::Shard {
        index: k - 1,
        of: n,
    })
}

/// Parses a fault profile: none, light or heavy.
pub fn fault_profile(s: &str) -> Result<ringleader_sim::FaultProfile, String> {
    s.parse()
}

/// Parses messages per second, 0 to 10000.
pub fn rate(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of messages per second"))?;
    if r.is_finite() && (0.0..=10_000.0).contains(&r) {
        Ok(r)
    } else {
        Err(format!(
            "rate must be between 0 and 10000 messages per second, got {s}"
        ))
    }
}

/// A comma-separated list of node ids (one flag value, not repeated flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ids(pub Vec<ringleader_core::NodeId>);

/// Parses a comma-separated list of node ids, e.g. `1,2,3`.
pub fn ids(s: &str) -> Result<Ids, String> {
    s.split(',')
        .map(|part| match part.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(ringleader_core::NodeId(n)),
            _ => Err(format!("'{part}' is not a node id (a whole number from 1)")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drifts_are_percentages_or_ppm_below_half() {
        assert_eq!(drift("1%"), Ok(10_000));
        assert_eq!(drift("0.05%"), Ok(500));
        assert_eq!(drift("500ppm"), Ok(500));
        assert_eq!(drift("0ppm"), Ok(0));
        assert!(drift("50%").is_err());
        assert!(drift("-1%").is_err());
        assert!(drift("1").unwrap_err().contains("percentage"));
        assert!(drift("x%").is_err());
    }

    #[test]
    fn durations_need_a_known_unit() {
        assert_eq!(duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("100us"), Ok(Duration::from_micros(100)));
        assert!(duration("60").unwrap_err().contains("no unit"));
        assert!(duration("5x").unwrap_err().contains("unknown unit"));
        assert!(duration("ms").is_err());
        assert!(duration("1.2.3s").is_err());
        assert!(duration("99999999999h").is_err());
    }

    #[test]
    fn retentions_read_as_entries_ages_or_sizes() {
        use ringleader_runtime::logfile::Retain;
        use std::time::Duration;
        assert_eq!(retain("1000000"), Ok(Retain::Entries(1_000_000)));
        assert_eq!(
            retain("30d"),
            Ok(Retain::Age(Duration::from_secs(30 * 86_400)))
        );
        assert_eq!(
            retain("12h"),
            Ok(Retain::Age(Duration::from_secs(12 * 3_600)))
        );
        assert_eq!(retain("90m"), Ok(Retain::Age(Duration::from_secs(90 * 60))));
        assert_eq!(retain("10GiB"), Ok(Retain::Bytes(10 << 30)));
        assert_eq!(retain("500MB"), Ok(Retain::Bytes(500_000_000)));
        assert!(retain("0").is_err());
        assert!(retain("lots").unwrap_err().contains("not a retention"));
    }

    #[test]
    fn servers_take_addresses_and_host_names() {
        assert_eq!(
            server("127.0.0.1:7102"),
            Ok("127.0.0.1:7102".parse().unwrap())
        );
        let local = server("localhost:7102").unwrap();
        assert!(local.ip().is_loopback() && local.port() == 7102, "{local}");
        assert!(server("localhost").unwrap_err().contains("no port"));
        assert!(server("no-such-host.invalid:7102")
            .unwrap_err()
            .contains("cannot resolve"));
    }

    #[test]
    fn sizes_read_with_units() {
        assert_eq!(bytes("4096"), Ok(4096));
        assert_eq!(bytes("32MiB"), Ok(32 << 20));
        assert_eq!(bytes("512kib"), Ok(512 << 10));
        assert_eq!(bytes("2G"), Ok(2 << 30));
        assert_eq!(bytes("64MB"), Ok(64_000_000));
        assert!(bytes("12 parsecs").unwrap_err().contains("unit of size"));
        assert!(bytes("MiB").unwrap_err().contains("not a size"));
        assert!(bytes("99999999999999999999").is_err());
    }

    #[test]
    fn probabilities_and_latencies_are_checked() {
        assert_eq!(probability("0.05"), Ok(0.05));
        assert!(probability("1.5").is_err());
        assert!(probability("-0.1").is_err());
        assert!(probability("NaN").is_err());
        assert_eq!(
            latency("200us..2ms"),
            Ok((Duration::from_micros(200), Duration::from_millis(2)))
        );
        assert_eq!(
            latency("1ms"),
            Ok((Duration::from_millis(1), Duration::from_millis(1)))
        );
        assert!(latency("2ms..1ms").is_err());
    }
}
