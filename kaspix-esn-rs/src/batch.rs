//! Independent sequences run on several threads.

use std::sync::Mutex;

use crate::error::{InputError, Result};
use crate::kernel::Kernel;
use crate::real::Real;

/// One sequence of a batch: its signal (T x C), optional initial state (N) and output (T x N).
#[derive(Debug)]
pub struct Job<'a, T> {
    /// Input, T steps x C channels, row-major.
    pub signal: &'a [T],
    /// State before the first step; zeros when `None`.
    pub initial_state: Option<&'a [T]>,
    /// Where the T x N states go.
    pub out: &'a mut [T],
}

/// Runs every job through `kernel` on up to `n_threads` threads (each thread takes the next
/// unstarted job, so sequences of different lengths balance). Every job is checked before any
/// runs, so an error leaves no output half-written.
pub fn run_batch<T: Real>(
    kernel: &Kernel<T>,
    jobs: Vec<Job<'_, T>>,
    n_threads: usize,
) -> Result<()> {
    if n_threads == 0 {
        return Err(InputError::new("n_threads must be at least 1"));
    }
    for (i, job) in jobs.iter().enumerate() {
        kernel
            .check(job.signal, job.initial_state, job.out.len())
            .map_err(|e| InputError(format!("signal {i}: {e}")))?;
    }
    let threads = n_threads.min(jobs.len());
    if threads <= 1 {
        jobs.into_iter()
            .for_each(|job| kernel.run_checked(job.signal, job.initial_state, job.out));
        return Ok(());
    }
    let queue = Mutex::new(jobs.into_iter());
    let next = || {
        queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .next()
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(job) = next() {
                    kernel.run_checked(job.signal, job.initial_state, job.out);
                }
            });
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::ReservoirConfig;

    #[test]
    fn batch_equals_one_by_one_for_any_thread_count() {
        let w = ReservoirConfig {
            n_units: 16,
            ..Default::default()
        }
        .build()
        .unwrap();
        let k = Kernel::<f64>::new(&w);
        let signals: Vec<Vec<f64>> = (1..=5)
            .map(|s| {
                (0..s * 37)
                    .map(|t| (t as f64 * 0.1 * s as f64).sin())
                    .collect()
            })
            .collect();
        let single: Vec<Vec<f64>> = signals
            .iter()
            .map(|s| {
                let mut out = vec![0.0; s.len() * 16];
                k.run(s, None, &mut out).unwrap();
                out
            })
            .collect();
        for threads in [1, 2, 3, 8] {
            let mut outs: Vec<Vec<f64>> = signals.iter().map(|s| vec![0.0; s.len() * 16]).collect();
            let jobs = signals
                .iter()
                .zip(outs.iter_mut())
                .map(|(s, o)| Job {
                    signal: s,
                    initial_state: None,
                    out: o,
                })
                .collect();
            run_batch(&k, jobs, threads).unwrap();
            assert_eq!(outs, single, "threads={threads}");
        }
    }

    #[test]
    fn a_bad_job_fails_the_batch_before_anything_runs() {
        let w = ReservoirConfig {
            n_units: 4,
            ..Default::default()
        }
        .build()
        .unwrap();
        let k = Kernel::<f32>::new(&w);
        let (good, bad) = (vec![0.5f32; 3], vec![f32::NAN; 3]);
        let (mut o1, mut o2) = (vec![7.0f32; 12], vec![7.0f32; 12]);
        let jobs = vec![
            Job {
                signal: &good,
                initial_state: None,
                out: &mut o1,
            },
            Job {
                signal: &bad,
                initial_state: None,
                out: &mut o2,
            },
        ];
        let err = run_batch(&k, jobs, 2).unwrap_err().0;
        assert!(err.starts_with("signal 1: signal contains NaN"), "{err}");
        assert!(o1.iter().all(|&v| v == 7.0));
        assert!(
            run_batch(&k, Vec::new(), 0)
                .unwrap_err()
                .0
                .contains("n_threads")
        );
    }
}
