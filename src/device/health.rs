//! Health after boot: a fixed-size window of recent inference latencies and its p99 against
//! the target's budget, and of whether each frame was inside the operating envelope. A model
//! that met its budget at boot can miss it at noon, when the board is hot and throttled; a
//! camera proven on clear frames can spend the night in fog.
//!
//! Recording a latency writes into a `heapless::HistoryBuf` behind a mutex and computing the
//! health sorts a stack copy: nothing on the serving path allocates.

use std::sync::Mutex;
use std::time::Duration;

use heapless::HistoryBuf;
use serde::Serialize;

use crate::latency::nearest_rank;

/// Latencies kept in the window.
pub const HEALTH_WINDOW: usize = 128;

/// Whether recent latencies are within budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// p99 over the window is within the budget (or no budget is set).
    Ok,
    /// p99 over the window exceeds the budget.
    OverBudget,
    /// Fewer than 10 latencies recorded yet.
    NoData,
    /// Latency is within budget, but more of the window's frames than the suite allows
    /// (`outside_alarm`) were outside the operating envelope.
    OutsideEnvelope,
}

/// Default share of a window's frames outside the envelope past which health raises
/// [`HealthStatus::OutsideEnvelope`] (a suite's `outside_alarm` sets it).
pub const DEFAULT_OUTSIDE_ALARM: f32 = 0.25;

/// A snapshot of the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Health {
    /// Verdict on the window.
    pub status: HealthStatus,
    /// Latencies in the window.
    pub samples: usize,
    /// Median over the window (ms).
    pub p50_ms: f32,
    /// 99th percentile over the window (ms).
    pub p99_ms: f32,
    /// The target's p99 budget (ms), if the suite sets one.
    pub budget_ms: Option<f32>,
    /// Inferences served since start.
    pub served: u64,
    /// Share of the window's frames outside the operating envelope (`None` without one).
    pub outside_share: Option<f32>,
}

/// Keeps the last [`HEALTH_WINDOW`] latencies.
#[derive(Debug)]
pub struct HealthMonitor {
    window: Mutex<Window>,
    budget_ms: Option<f32>,
    outside_alarm: f32,
}

#[derive(Debug)]
struct Window {
    latencies: HistoryBuf<f32, HEALTH_WINDOW>,
    /// Per frame: outside the envelope (`None`: the model has no envelope).
    outside: HistoryBuf<Option<bool>, HEALTH_WINDOW>,
    served: u64,
}

/// Below this many samples a p99 means nothing.
const MIN_SAMPLES: usize = 10;

impl HealthMonitor {
    /// A monitor comparing p99 with `budget_ms`, alarming past the default outside share.
    pub fn new(budget_ms: Option<f32>) -> HealthMonitor {
        HealthMonitor::with_alarm(budget_ms, DEFAULT_OUTSIDE_ALARM)
    }

    /// A monitor alarming when more than `outside_alarm` of the window was outside the
    /// envelope.
    pub fn with_alarm(budget_ms: Option<f32>, outside_alarm: f32) -> HealthMonitor {
        let window = Window { latencies: HistoryBuf::new(), outside: HistoryBuf::new(), served: 0 };
        HealthMonitor { window: Mutex::new(window), budget_ms, outside_alarm }
    }

    /// Records one inference latency.
    pub fn record(&self, latency: Duration) {
        self.record_frame(latency, None);
    }

    /// Records one inference: its latency and whether the frame was outside the envelope
    /// (`None` without an envelope).
    pub fn record_frame(&self, latency: Duration, outside: Option<bool>) {
        let mut w = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        w.latencies.write(latency.as_secs_f32() * 1e3);
        w.outside.write(outside);
        w.served += 1;
    }

    /// The current health.
    pub fn health(&self) -> Health {
        let mut sorted = [0.0f32; HEALTH_WINDOW];
        let (n, served, judged, outside) = {
            let w = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let slice = w.latencies.as_slice();
            sorted[..slice.len()].copy_from_slice(slice);
            let judged = w.outside.iter().filter(|o| o.is_some()).count();
            let outside = w.outside.iter().filter(|o| **o == Some(true)).count();
            (slice.len(), w.served, judged, outside)
        };
        let outside_share = (judged > 0).then(|| outside as f32 / judged as f32);
        let sorted = &mut sorted[..n];
        sorted.sort_unstable_by(f32::total_cmp);
        let (p50, p99) = if n == 0 {
            (0.0, 0.0)
        } else {
            (nearest_rank(sorted, 0.5), nearest_rank(sorted, 0.99))
        };
        let status = match self.budget_ms {
            _ if n < MIN_SAMPLES => HealthStatus::NoData,
            Some(b) if p99 > b => HealthStatus::OverBudget,
            _ if outside_share.is_some_and(|s| s > self.outside_alarm) => {
                HealthStatus::OutsideEnvelope
            }
            _ => HealthStatus::Ok,
        };
        Health {
            status,
            samples: n,
            p50_ms: p50,
            p99_ms: p99,
            budget_ms: self.budget_ms,
            served,
            outside_share,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_over_budget_when_slow_latencies_arrive() {
        let m = HealthMonitor::new(Some(20.0));
        assert_eq!(m.health().status, HealthStatus::NoData);
        for _ in 0..100 {
            m.record(Duration::from_millis(8));
        }
        let h = m.health();
        assert_eq!((h.status, h.samples, h.p99_ms), (HealthStatus::Ok, 100, 8.0));
        // A throttled board: a few slow frames push p99 past the budget.
        for _ in 0..5 {
            m.record(Duration::from_millis(35));
        }
        let h = m.health();
        assert_eq!(h.status, HealthStatus::OverBudget);
        assert_eq!(h.p99_ms, 35.0);
        assert_eq!(h.served, 105);
        // The window forgets: once fast frames fill it again, health recovers.
        for _ in 0..HEALTH_WINDOW {
            m.record(Duration::from_millis(8));
        }
        assert_eq!(m.health().status, HealthStatus::Ok);
    }

    #[test]
    fn frames_outside_the_envelope_raise_an_alarm_past_the_share() {
        let m = HealthMonitor::with_alarm(Some(20.0), 0.25);
        for i in 0..40 {
            m.record_frame(Duration::from_millis(8), Some(i % 5 == 0));
        }
        let h = m.health();
        assert_eq!((h.status, h.outside_share), (HealthStatus::Ok, Some(0.2)));
        // Fog rolls in: most frames leave the envelope.
        for _ in 0..40 {
            m.record_frame(Duration::from_millis(8), Some(true));
        }
        let h = m.health();
        assert_eq!(h.status, HealthStatus::OutsideEnvelope);
        assert_eq!(h.outside_share, Some(0.6));
        // Latency over budget is reported first.
        for _ in 0..5 {
            m.record_frame(Duration::from_millis(35), Some(true));
        }
        assert_eq!(m.health().status, HealthStatus::OverBudget);
        // Without an envelope there is no share.
        let m = HealthMonitor::new(None);
        m.record(Duration::from_millis(1));
        assert_eq!(m.health().outside_share, None);
    }

    #[test]
    fn without_a_budget_it_only_reports() {
        let m = HealthMonitor::new(None);
        for i in 0..20 {
            m.record(Duration::from_millis(i));
        }
        let h = m.health();
        assert_eq!(h.status, HealthStatus::Ok);
        assert_eq!(h.p50_ms, 9.0);
    }
}
