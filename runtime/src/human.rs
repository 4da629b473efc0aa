//! Times and durations as a person reads them: local dates, `3h 02m`.

/// `ms` since the Unix epoch as a local date and time with its zone
/// (`2026-12-04 10:02:11 CET`); the bare number if it is out of range.
pub fn local_time(ms: u64) -> String {
    let Ok(ms) = i64::try_from(ms) else {
        return format!("{ms} ms since the Unix epoch");
    };
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned_datetime(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        Err(_) => format!("{ms} ms since the Unix epoch"),
    }
}

/// The local date and time now, as [`local_time`] writes it.
pub fn local_now() -> String {
    jiff::ZonedDateTime::now()
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// `ms` since the Unix epoch as a local time of day (`10:02:11`).
pub fn local_clock(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(
            || "??:??:??".to_owned(),
            |t| {
                t.to_zoned_datetime(jiff::tz::TimeZone::system())
                    .strftime("%H:%M:%S")
                    .to_string()
            },
        )
}

/// A duration given in ms, to the precision that matters at its size:
/// `450 ms`, `12.3 s`, `4m 05s`, `3h 02m`, `12d 4h`.
pub fn duration_ms(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m {:02}s", s / 60, s % 60),
        3_600_000..86_400_000 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(duration_ms(450), "450 ms");
        assert_eq!(duration_ms(12_345), "12.3 s");
        assert_eq!(duration_ms(245_000), "4m 05s");
        assert_eq!(duration_ms(3 * 3_600_000 + 120_000), "3h 02m");
        assert_eq!(duration_ms(12 * 86_400_000 + 4 * 3_600_000), "12d 4h");
    }

    #[test]
    fn a_time_is_a_date_not_a_count_of_milliseconds() {
        let t = local_time(1_796_106_510_247);
        assert!(t.starts_with("2026-12-"), "{t}");
        assert!(!t.contains("Unix epoch"), "{t}");
        assert!(local_time(u64::MAX).contains("Unix epoch"));
    }
}
