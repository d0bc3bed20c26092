//! Per-stage latency samples and their p50/p99.

use std::io::Write;
use std::time::{Duration, Instant};

/// Samples per named stage, in the order stages were first timed.
#[derive(Default)]
pub struct Latencies {
    stages: Vec<(String, Vec<Duration>)>,
}

impl Latencies {
    /// Runs `f`, recording its wall time under `stage`.
    pub fn time<T>(&mut self, stage: &str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        let took = start.elapsed();
        match self.stages.iter_mut().find(|(name, _)| name == stage) {
            Some((_, samples)) => samples.push(took),
            None => self.stages.push((stage.to_string(), vec![took])),
        }
        out
    }

    /// One line per stage: samples, p50, p99.
    pub fn report(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "  {:<44} {:>7} {:>11} {:>11}",
            "stage", "calls", "p50", "p99"
        )?;
        for (name, samples) in &mut self.stages {
            samples.sort();
            let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
            writeln!(
                out,
                "  {:<44} {:>7} {:>11} {:>11}",
                name,
                samples.len(),
                fmt(pick(0.5)),
                fmt(pick(0.99))
            )?;
        }
        Ok(())
    }
}

/// A duration in the unit that keeps three significant digits readable.
pub fn fmt(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}
