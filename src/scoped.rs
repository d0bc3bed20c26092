//! Scoped helper threads for one call: what the optional thread count (SPEC §6) runs on.
//! reckon keeps no pool; a call that may use `n` threads runs one share on the caller's thread
//! and starts `n - 1` scoped helpers, joined before it returns.
//!
//! A helper the OS refuses to start (thread limits, memory) is not an error: its share runs on
//! the caller's thread instead, so asking for threads never makes a call fail.

use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::thread::{Builder, Scope, ScopedJoinHandle};

/// Part `i` of `0..len` cut into `parts` nearly equal contiguous ranges.
pub(crate) fn part(len: usize, parts: usize, i: usize) -> Range<usize> {
    (len * i / parts)..(len * (i + 1) / parts)
}

/// Starts `job` on a scoped helper, or hands it back when the OS refuses a thread.
pub(crate) fn spawn_or_return<'scope, 'env, F, T>(
    s: &'scope Scope<'scope, 'env>,
    job: F,
) -> std::result::Result<ScopedJoinHandle<'scope, Option<T>>, F>
where
    F: FnOnce() -> T + Send + 'scope,
    T: Send + 'scope,
{
    // `spawn_scoped` drops its closure when it fails, so the job waits in a slot the closure
    // takes it from: after a failure it is still there to hand back.
    let slot = Arc::new(Mutex::new(Some(job)));
    let theirs = Arc::clone(&slot);
    let spawned = Builder::new().spawn_scoped(s, move || {
        let job = theirs.lock().map(|mut j| j.take()).unwrap_or(None);
        job.map(|job| job())
    });
    match spawned {
        Ok(handle) => Ok(handle),
        Err(_) => match slot.lock().map(|mut j| j.take()) {
            Ok(Some(job)) => Err(job),
            _ => unreachable!("a helper that never started took its job"),
        },
    }
}

/// Joins helpers in order, returning their results; a helper's panic (a bug) resumes on the
/// caller's thread, as it would have had the share run there.
pub(crate) fn join_all<T>(handles: Vec<ScopedJoinHandle<'_, Option<T>>>) -> Vec<T> {
    handles
        .into_iter()
        .filter_map(|h| match h.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_range_in_order() {
        for len in [0, 1, 5, 4096, 10_007] {
            for parts in 1..=7 {
                let mut next = 0;
                for i in 0..parts {
                    let r = part(len, parts, i);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, len);
            }
        }
    }

    #[test]
    fn helpers_run_and_return_in_order() {
        let got = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|i| match spawn_or_return(s, move || i * 10) {
                    Ok(h) => h,
                    Err(_) => panic!("could not start a thread"),
                })
                .collect();
            join_all(handles)
        });
        assert_eq!(got, vec![0, 10, 20, 30]);
    }
}
