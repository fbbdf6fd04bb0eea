//! Two halves of one batch on two cores, through one helper thread that stays.
//!
//! A new thread per batch cost 80 µs here, and any sleeping thread 45 µs to wake on an idle
//! core: a tenth of a 10,000-row request, paid twice (parsing, then scoring). So one helper
//! thread is started once and, after each half it runs, waits awake for a moment before it
//! sleeps; [`warm_up`] wakes it early, when a large body starts to arrive.
//!
//! [`join`] never waits for the helper to start: if the helper has not taken the second half
//! when the caller has finished the first, the caller takes it back and runs it too. So a
//! busy or missing helper costs time, never an answer.

use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long the helper stays awake after a half it ran: the scoring half follows the
/// parsing half within this.
const AWAKE_AFTER_WORK: Duration = Duration::from_micros(300);

/// How long [`warm_up`] keeps it awake waiting for work: a large body arrives within this on
/// a healthy connection; a slow one only costs the wake-up again.
const AWAKE_AFTER_WARM_UP: Duration = Duration::from_millis(3);

/// A half handed to the helper. It lives on the caller's stack; the caller does not return
/// before it has either taken it back from [`Helper::slot`] (so the helper never saw it) or
/// seen `done` (the helper's last touch of it).
struct Job {
    run: unsafe fn(*const Job),
    done: AtomicBool,
}

struct Helper {
    /// The half on offer, or null.
    slot: AtomicPtr<Job>,
    /// Set by [`warm_up`]: the helper stays awake a while longer.
    warm: AtomicBool,
    thread: Thread,
}

/// The helper, started on first use; `None` with one core, or when no thread could be had.
fn helper() -> Option<&'static Helper> {
    static HELPER: OnceLock<Option<Helper>> = OnceLock::new();
    HELPER
        .get_or_init(|| {
            if crate::model::cores() < 2 {
                return None;
            }
            let thread = thread::Builder::new()
                .name("batch-helper".into())
                .spawn(serve)
                .ok()?;
            Some(Helper {
                slot: AtomicPtr::new(ptr::null_mut()),
                warm: AtomicBool::new(false),
                thread: thread.thread().clone(),
            })
        })
        .as_ref()
}

/// The helper's loop: run what is offered; stay awake a while after work or a warm-up;
/// then sleep until woken.
fn serve() {
    // Waits, if need be, for the thread that spawned this one to finish `helper()`.
    let Some(helper) = helper() else { return };
    let mut awake_until = Instant::now();
    loop {
        if !helper.slot.load(Ordering::Acquire).is_null() {
            let job = helper.slot.swap(ptr::null_mut(), Ordering::AcqRel);
            if !job.is_null() {
                // SAFETY: taken from the slot, so the caller waits for `done` before its
                // stack frame (where the job lives) goes away.
                unsafe { ((*job).run)(job) };
                awake_until = Instant::now() + AWAKE_AFTER_WORK;
                continue;
            }
        }
        // Read before written, so an idle turn leaves the line the callers use unwritten.
        if helper.warm.load(Ordering::Relaxed) && helper.warm.swap(false, Ordering::Relaxed) {
            awake_until = Instant::now() + AWAKE_AFTER_WARM_UP;
        }
        if Instant::now() < awake_until {
            // Awake, but yielding: a web worker on this core runs first.
            thread::yield_now();
        } else {
            thread::park();
        }
    }
}

/// Wakes the helper so a [`join`] soon after finds it awake: the web app calls this when a
/// body large enough to be parsed in two halves starts to arrive.
pub fn warm_up() {
    if let Some(h) = helper() {
        h.warm.store(true, Ordering::Relaxed);
        h.thread.unpark();
    }
}

/// The second half's closure, its result, and the job header the helper sees.
#[repr(C)]
struct Packet<B, RB> {
    /// First, so a `*const Job` is a `*const Packet`.
    job: Job,
    work: UnsafeCell<Option<B>>,
    result: UnsafeCell<Option<thread::Result<RB>>>,
}

/// Runs the packet's closure and marks it done; `done` is the last write to it.
///
/// # Safety
/// `job` points at the `job` of a live `Packet<B, RB>` that only this call touches until
/// `done` is set.
unsafe fn run_packet<B: FnOnce() -> RB, RB>(job: *const Job) {
    let packet = job.cast::<Packet<B, RB>>();
    // SAFETY: per the contract, nothing else touches the packet until `done`.
    unsafe {
        if let Some(work) = (*(*packet).work.get()).take() {
            *(*packet).result.get() = Some(catch_unwind(AssertUnwindSafe(work)));
        }
        (*packet).job.done.store(true, Ordering::Release);
    }
}

/// Runs `a` here and `b` on the helper if it takes it in time, else here after `a`; returns
/// both results. Either closure's panic is passed on once both are finished.
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB + Send,
    RB: Send,
{
    // Both halves run whatever happens to the other, so a panic is passed on only when
    // neither half is still running.
    let run_here = |a: A, b: B| {
        let ra = catch_unwind(AssertUnwindSafe(a));
        (ra, Some(catch_unwind(AssertUnwindSafe(b))))
    };
    let (ra, rb) = match helper() {
        None => run_here(a, b),
        Some(helper) => offer(helper, a, b, run_here),
    };
    match (ra, rb) {
        (Ok(ra), Some(Ok(rb))) => (ra, rb),
        (Err(panic), _) | (_, Some(Err(panic))) => resume_unwind(panic),
        (Ok(_), None) => unreachable_packet(),
    }
}

/// [`join`] with a helper: `b` is offered to it while `a` runs here.
fn offer<A, B, RA, RB>(
    helper: &Helper,
    a: A,
    b: B,
    run_here: impl FnOnce(A, B) -> (thread::Result<RA>, Option<thread::Result<RB>>),
) -> (thread::Result<RA>, Option<thread::Result<RB>>)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB + Send,
    RB: Send,
{
    let packet = Packet {
        job: Job {
            run: run_packet::<B, RB>,
            done: AtomicBool::new(false),
        },
        work: UnsafeCell::new(Some(b)),
        result: UnsafeCell::new(None),
    };
    // From the whole packet, which the helper reaches through this pointer.
    let job = ptr::from_ref(&packet).cast::<Job>().cast_mut();
    // Another batch has the helper: this one runs both halves on its own core.
    if helper
        .slot
        .compare_exchange(ptr::null_mut(), job, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return match packet.work.into_inner() {
            Some(b) => run_here(a, b),
            None => unreachable_packet(),
        };
    }
    helper.thread.unpark();
    // Nothing below may unwind before the packet is back or done: the helper may hold it.
    let ra = catch_unwind(AssertUnwindSafe(a));
    let rb = if helper
        .slot
        .compare_exchange(job, ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        // Taken back before the helper saw it: run here.
        // SAFETY: the helper never had the pointer, and nobody else has the packet.
        let b = unsafe { (*packet.work.get()).take() };
        b.map(|b| catch_unwind(AssertUnwindSafe(b)))
    } else {
        // The helper has it: it is running now, about as long as `a` took.
        let mut spins = 0u32;
        while !packet.job.done.load(Ordering::Acquire) {
            if spins < 1 << 12 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                thread::yield_now();
            }
        }
        // SAFETY: `done` is set, so the helper is finished with the packet.
        unsafe { (*packet.result.get()).take() }
    };
    (ra, rb)
}

/// A packet's work is run exactly once, by the helper or the caller, so it and its result
/// are always there.
#[cold]
fn unreachable_packet() -> ! {
    unreachable!("a half of a batch was run twice or never")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_halves_run_once_and_return_their_results() {
        for n in 0..2_000u64 {
            let data: Vec<u64> = (0..n).collect();
            let (left, right) = data.split_at(data.len() / 2);
            let (a, b) = join(|| left.iter().sum::<u64>(), || right.iter().sum::<u64>());
            assert_eq!(a + b, n * n.saturating_sub(1) / 2);
        }
    }

    #[test]
    fn the_second_half_may_borrow_and_write_the_callers_data() {
        let mut out = vec![0u32; 1000];
        let (first, second) = out.split_at_mut(500);
        join(
            || first.iter_mut().for_each(|v| *v = 1),
            || second.iter_mut().for_each(|v| *v = 2),
        );
        assert!(out[..500].iter().all(|v| *v == 1) && out[500..].iter().all(|v| *v == 2));
    }

    #[test]
    fn concurrent_joins_all_finish_whoever_has_the_helper() {
        thread::scope(|s| {
            for t in 0..4u64 {
                s.spawn(move || {
                    for i in 0..500u64 {
                        warm_up();
                        let (a, b) = join(|| t * i, || t + i);
                        assert_eq!((a, b), (t * i, t + i));
                    }
                });
            }
        });
    }

    #[test]
    fn a_warm_up_wakes_the_helper() {
        warm_up();
        // One core has no helper to wake.
        let Some(helper) = helper() else { return };
        let end = Instant::now() + Duration::from_secs(10);
        // The helper clears the flag when it sees it, awake.
        while helper.warm.load(Ordering::Relaxed) {
            assert!(Instant::now() < end, "the helper did not wake");
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_panic_in_either_half_reaches_the_caller_after_both_finish() {
        for second in [false, true] {
            let finished = AtomicBool::new(false);
            let caught = catch_unwind(AssertUnwindSafe(|| {
                join(
                    || {
                        if !second {
                            panic!("first");
                        }
                    },
                    || {
                        if second {
                            panic!("second");
                        }
                        finished.store(true, Ordering::Release);
                    },
                )
            }));
            let message = caught.unwrap_err();
            let message = message.downcast_ref::<&str>().copied();
            assert_eq!(message, Some(if second { "second" } else { "first" }));
            if !second {
                assert!(finished.load(Ordering::Acquire), "the other half still ran");
            }
        }
        // The helper still serves after a panic.
        assert_eq!(join(|| 1, || 2), (1, 2));
    }
}
