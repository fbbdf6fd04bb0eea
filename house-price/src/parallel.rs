//! Two halves of one batch on two cores, through helper threads that stay.
//!
//! A new thread per batch cost 80 µs here, and any sleeping thread 45 µs to wake on an idle
//! core: a tenth of a 10,000-row request, paid twice (parsing, then scoring). So helper
//! threads are started once and, after each half they run, wait awake for a moment before
//! they sleep, so the next half of the same request finds them awake.
//!
//! There is one helper per core, each kept to its core, and a half goes to a helper on
//! another core than the caller's. A single free-roaming helper was, in a third of the
//! requests, queued behind the caller on the caller's own core while the other core idled:
//! the scheduler did not move either within the half millisecond a half takes.
//!
//! [`join`] never waits for a helper to start: if the helper has not taken the second half
//! when the caller has finished the first, the caller takes it back and runs it too. So a
//! busy or missing helper costs time, never an answer.

use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long a helper stays awake after a half it ran: the scoring half follows the parsing
/// half within this.
const AWAKE_AFTER_WORK: Duration = Duration::from_micros(300);

/// A half handed to a helper. It lives on the caller's stack; the caller does not return
/// before it has either taken it back from [`Helper::slot`] (so the helper never saw it) or
/// seen `done` (the helper's last touch of it).
struct Job {
    run: unsafe fn(*const Job),
    done: AtomicBool,
}

struct Helper {
    /// The half on offer, or null.
    slot: AtomicPtr<Job>,
    /// The core it is meant to be kept to, when cores can be chosen.
    cpu: Option<usize>,
    /// Whether the system let it be kept there.
    kept: AtomicBool,
    thread: Thread,
}

/// The helpers, started on first use: one per core the process may use, or one that roams
/// where cores cannot be chosen; none with one core, or when no thread could be had.
fn helpers() -> &'static [Helper] {
    static HELPERS: OnceLock<Vec<Helper>> = OnceLock::new();
    HELPERS.get_or_init(|| {
        if crate::model::cores() < 2 {
            return Vec::new();
        }
        let cpus: Vec<Option<usize>> = match cpu::allowed() {
            Some(cpus) if cpus.len() >= 2 => cpus.into_iter().map(Some).collect(),
            _ => vec![None],
        };
        cpus.into_iter()
            .filter_map(|cpu| {
                let thread = thread::Builder::new()
                    .name("batch-helper".into())
                    .spawn(serve)
                    .ok()?;
                Some(Helper {
                    slot: AtomicPtr::new(ptr::null_mut()),
                    cpu,
                    kept: AtomicBool::new(false),
                    thread: thread.thread().clone(),
                })
            })
            .collect()
    })
}

/// A helper's loop: run what is offered; stay awake a while after work; then sleep until
/// woken.
fn serve() {
    // Waits, if need be, for the thread that spawned this one to finish `helpers()`, then
    // serves the entry that has its own handle.
    let me = thread::current().id();
    let Some(helper) = helpers().iter().find(|h| h.thread.id() == me) else {
        return;
    };
    if let Some(core) = helper.cpu {
        // Kept to its core if the system lets it; otherwise it roams, which is slower, not
        // wrong.
        helper.kept.store(cpu::keep_to(core), Ordering::Release);
    }
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
        if Instant::now() < awake_until {
            // Awake, but yielding: a web worker on this core runs first.
            thread::yield_now();
        } else {
            thread::park();
        }
    }
}

/// Which cores the process may use and which one a thread is on (Linux); elsewhere nothing
/// is known and one helper roams.
#[cfg(target_os = "linux")]
mod cpu {
    /// The cores this process may run on, in order, at most as many as it may use at once.
    pub(super) fn allowed() -> Option<Vec<usize>> {
        // SAFETY: a zeroed cpu_set_t is an empty set, and sched_getaffinity writes at most
        // its size.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
            return None;
        }
        let cpus = (0..libc::CPU_SETSIZE as usize)
            // SAFETY: `set` is initialised and `cpu` is below CPU_SETSIZE.
            .filter(|cpu| unsafe { libc::CPU_ISSET(*cpu, &set) })
            .take(crate::model::cores())
            .collect();
        Some(cpus)
    }

    /// Keeps the calling thread to `cpu`; false if the system refuses.
    pub(super) fn keep_to(cpu: usize) -> bool {
        // SAFETY: as in `allowed`; CPU_SET is given a core below CPU_SETSIZE.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        if cpu >= libc::CPU_SETSIZE as usize {
            return false;
        }
        unsafe { libc::CPU_SET(cpu, &mut set) };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        unsafe { libc::sched_setaffinity(0, size, &set) == 0 }
    }

    /// The core the calling thread is on now.
    pub(super) fn current() -> Option<usize> {
        // SAFETY: no arguments, no memory.
        usize::try_from(unsafe { libc::sched_getcpu() }).ok()
    }
}

#[cfg(not(target_os = "linux"))]
mod cpu {
    pub(super) fn allowed() -> Option<Vec<usize>> {
        None
    }
    pub(super) fn keep_to(_: usize) -> bool {
        false
    }
    pub(super) fn current() -> Option<usize> {
        None
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
    // A helper on another core: one on this core would only wait for this thread.
    let here = cpu::current();
    let others = helpers()
        .iter()
        .filter(|h| h.cpu.is_none() || h.cpu != here);
    let (ra, rb) = offer(others, a, b, run_here);
    match (ra, rb) {
        (Ok(ra), Some(Ok(rb))) => (ra, rb),
        (Err(panic), _) | (_, Some(Err(panic))) => resume_unwind(panic),
        (Ok(_), None) => unreachable_packet(),
    }
}

/// [`join`] with helpers: `b` is offered to the first free one of `helpers` while `a` runs
/// here.
fn offer<'h, A, B, RA, RB>(
    helpers: impl Iterator<Item = &'h Helper>,
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
    // Other batches have every helper: this one runs both halves on its own core.
    let Some(helper) = helpers.into_iter().find(|h| {
        h.slot
            .compare_exchange(ptr::null_mut(), job, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }) else {
        return match packet.work.into_inner() {
            Some(b) => run_here(a, b),
            None => unreachable_packet(),
        };
    };
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
                        let (a, b) = join(|| t * i, || t + i);
                        assert_eq!((a, b), (t * i, t + i));
                    }
                });
            }
        });
    }

    #[test]
    fn each_helper_runs_on_the_core_it_is_kept_to() {
        for helper in helpers() {
            let Some(core) = helper.cpu else { continue };
            let end = Instant::now() + Duration::from_secs(10);
            loop {
                // The first half waits until this helper has taken the second, so the
                // second runs there; `None` if another test's half has the helper.
                let (_, ran_on) = offer(
                    std::iter::once(helper),
                    || {
                        while !helper.slot.load(Ordering::Acquire).is_null() {
                            assert!(Instant::now() < end, "the helper did not take the half");
                            thread::yield_now();
                        }
                    },
                    cpu::current,
                    |_, _| (Ok(()), None),
                );
                if let Some(ran_on) = ran_on {
                    // Unless the system refused to keep it there (it tried before its
                    // first half).
                    if helper.kept.load(Ordering::Acquire) {
                        assert_eq!(ran_on.unwrap(), Some(core));
                    }
                    break;
                }
                assert!(Instant::now() < end, "the helper stayed busy");
                thread::sleep(Duration::from_millis(1));
            }
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
