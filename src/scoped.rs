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

/// Runs `job(first)` on the caller's thread and `job(share)` for each of `rest` on a scoped
/// helper (inline when the OS refuses a thread), all joined before returning; results come back
/// in share order: the caller's, then `rest`'s. With `rest` empty nothing is started and
/// nothing allocated, so one-thread calls pay nothing for this path.
pub(crate) fn run_shares<S, R, F>(first: S, rest: Vec<S>, job: F) -> (R, Vec<R>)
where
    S: Send,
    R: Send,
    F: Fn(S) -> R + Sync,
{
    if rest.is_empty() {
        return (job(first), Vec::new());
    }
    let job = &job;
    std::thread::scope(|s| {
        // Each helper's share: still running, or already run inline.
        let started: Vec<_> = rest
            .into_iter()
            .map(|share| spawn_or_return(s, move || job(share)).map_err(|job| job()))
            .collect();
        let mine = job(first);
        let theirs = started
            .into_iter()
            .map(|share| match share {
                Ok(handle) => match handle.join() {
                    Ok(Some(r)) => r,
                    Ok(None) => unreachable!("a started helper always runs its job"),
                    // A panic is a bug; it resumes on the caller, as if the share ran there.
                    Err(panic) => std::panic::resume_unwind(panic),
                },
                Err(done) => done,
            })
            .collect();
        (mine, theirs)
    })
}

/// Starts `job` on a scoped helper, or hands it back when the OS refuses a thread.
fn spawn_or_return<'scope, 'env, F, T>(
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
    fn shares_run_and_return_in_order() {
        let caller = std::thread::current().id();
        let (mine, theirs) =
            run_shares(0, vec![1, 2, 3], |i| (i * 10, std::thread::current().id()));
        assert_eq!(
            mine,
            (0, caller),
            "the first share runs on the caller's thread"
        );
        assert_eq!(
            theirs.iter().map(|t| t.0).collect::<Vec<_>>(),
            vec![10, 20, 30]
        );
        assert!(theirs.iter().all(|t| t.1 != caller));
        assert_eq!(run_shares(5, Vec::new(), |i| i + 1), (6, Vec::new()));
    }
}
