//! Health after boot: a fixed-size window of recent inference latencies and its p99 against
//! the target's budget. A model that met its budget at boot can miss it at noon, when the
//! board is hot and throttled.
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
}

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
}

/// Keeps the last [`HEALTH_WINDOW`] latencies.
#[derive(Debug)]
pub struct HealthMonitor {
    window: Mutex<(HistoryBuf<f32, HEALTH_WINDOW>, u64)>,
    budget_ms: Option<f32>,
}

/// Below this many samples a p99 means nothing.
const MIN_SAMPLES: usize = 10;

impl HealthMonitor {
    /// A monitor comparing p99 with `budget_ms`.
    pub fn new(budget_ms: Option<f32>) -> HealthMonitor {
        HealthMonitor { window: Mutex::new((HistoryBuf::new(), 0)), budget_ms }
    }

    /// Records one inference latency.
    pub fn record(&self, latency: Duration) {
        let mut w = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        w.0.write(latency.as_secs_f32() * 1e3);
        w.1 += 1;
    }

    /// The current health.
    pub fn health(&self) -> Health {
        let mut sorted = [0.0f32; HEALTH_WINDOW];
        let (n, served) = {
            let w = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let slice = w.0.as_slice();
            sorted[..slice.len()].copy_from_slice(slice);
            (slice.len(), w.1)
        };
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
            _ => HealthStatus::Ok,
        };
        Health { status, samples: n, p50_ms: p50, p99_ms: p99, budget_ms: self.budget_ms, served }
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
