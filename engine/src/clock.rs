//! Call deadlines as the host gives them: nanoseconds on CLOCK_MONOTONIC,
//! the clock of the host's `std::chrono::steady_clock` and of Rust's
//! `Instant` on Linux. The host reads the clock once per call, to time it;
//! the deadline comes from that reading, and the engine reads the clock
//! again only where a deadline is used (an outgoing HTTP request, an async
//! call being started).

use std::time::{Duration, Instant};

/// Now on CLOCK_MONOTONIC, in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to write; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(now.tv_nsec as u64)
}

/// The time left until `deadline_ns` (0: no deadline, None).
pub fn left(deadline_ns: u64) -> Option<Duration> {
    (deadline_ns > 0).then(|| Duration::from_nanos(deadline_ns.saturating_sub(monotonic_ns())))
}

/// `deadline_ns` as an `Instant` (0: None).
pub fn instant(deadline_ns: u64) -> Option<Instant> {
    left(deadline_ns).map(|l| Instant::now() + l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_a_second_away_has_about_a_second_left() {
        let l = left(monotonic_ns() + 1_000_000_000).unwrap();
        assert!(l <= Duration::from_secs(1) && l > Duration::from_millis(900), "{l:?}");
        let at = instant(monotonic_ns() + 1_000_000_000).unwrap();
        let until = at.saturating_duration_since(Instant::now());
        assert!(until <= Duration::from_secs(1) && until > Duration::from_millis(900), "{until:?}");
    }

    #[test]
    fn a_passed_deadline_has_nothing_left_and_none_is_unbounded() {
        assert_eq!(left(1), Some(Duration::ZERO));
        assert_eq!(left(0), None);
        assert_eq!(instant(0), None);
    }
}
