//! Fixed-duration load from concurrent workers, and latency percentiles.

use std::future::Future;
use std::time::{Duration, Instant};

/// Runs `workers` copies of `work` (given its worker index and the
/// deadline; it returns how many operations it completed) and answers the
/// total rate in operations per second.
pub async fn ops_per_sec<F, Fut>(workers: usize, duration: Duration, work: F) -> anyhow::Result<f64>
where
    F: Fn(usize, Instant) -> Fut,
    Fut: Future<Output = anyhow::Result<u64>> + Send + 'static,
{
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..workers)
        .map(|i| tokio::spawn(work(i, deadline)))
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// p50, p99 and p99.9 of some latencies, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

impl Percentiles {
    pub fn of(mut samples: Vec<Duration>) -> Option<Percentiles> {
        if samples.is_empty() {
            return None;
        }
        samples.sort();
        let at = |q: f64| {
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[i].as_secs_f64() * 1000.0
        };
        Some(Percentiles {
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
        })
    }
}

/// The median of some numbers (the lower middle for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// Runs `measure(target, round)` `runs` times on each of `targets`
/// targets, rotating which goes first each round so machine drift hits all
/// alike; answers each target's figures in run order.
pub async fn alternate(
    targets: usize,
    runs: usize,
    mut measure: impl AsyncFnMut(usize, usize) -> anyhow::Result<f64>,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let mut samples = vec![Vec::new(); targets];
    for round in 0..runs {
        for k in 0..targets {
            let target = (k + round) % targets;
            samples[target].push(measure(target, round).await?);
        }
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
        let ms: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        let p = Percentiles::of(ms).unwrap();
        assert_eq!((p.p50, p.p99, p.p999), (500.0, 990.0, 999.0));
        assert!(Percentiles::of(Vec::new()).is_none());
    }
}
