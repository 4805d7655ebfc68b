//! Instances of the async shape: one store, driven by a thread of its own
//! running a single-threaded Tokio runtime, with any number of
//! `incoming-handler.handle` calls in flight on it at once (the C++ host
//! bounds how many). A call is handed over with a completion callback and
//! returns at once; the callback runs on the instance's thread when the
//! guest's task ends. Host operations (send, request, reply) suspend the
//! guest task, not this thread: the C++ host finishes them with
//! `fe_pending_done` from any thread.
//!
//! Per call: a wall-clock deadline (checked at every epoch tick while guest
//! code runs, and by a timer while the calls wait); fuel is pooled, each
//! call adding its budget to the store's. A trap, or a call past its
//! deadline, ends the store: every call in flight on it fails.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;
use wasmtime::component::{Accessor, Resource, TypedFunc};
use wasmtime::{AsContextMut, Store, UpdateDeadline};

use crate::abi::{FeStr, HostMessage};
use crate::draft_async::{self, MessagingRequestReplyPre};
use crate::host::{FeLimits, HostLink, HostState};
use crate::http::HttpPattern;
use crate::instance::{classify, FeBudget, FE_OUTCOME_GUEST_ERROR, FE_OUTCOME_OK, FE_OUTCOME_TIMEOUT, FE_OUTCOME_TRAP};

/// The call never ran to its end: its instance was stopped (shutdown).
pub const FE_OUTCOME_CANCELLED: u32 = 6;

pub type DoneFn = extern "C" fn(*mut c_void, u32, FeStr);

/// Tells the host how one call ended, exactly once: dropped unfinished, it
/// reports the call cancelled.
pub struct Done {
    f: DoneFn,
    ctx: *mut c_void,
    called: bool,
}

// The host's context is documented as usable from the instance's thread.
unsafe impl Send for Done {}

impl Done {
    pub fn new(f: DoneFn, ctx: *mut c_void) -> Done {
        Done { f, ctx, called: false }
    }

    fn finish(mut self, outcome: u32, text: &str) {
        self.called = true;
        (self.f)(self.ctx, outcome, FeStr::of(text));
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        if !self.called {
            (self.f)(self.ctx, FE_OUTCOME_CANCELLED, FeStr::of("the instance stopped before the call ended"));
        }
    }
}

enum Job {
    Handle { message: HostMessage, budget: FeBudget, done: Done },
    Cancel,
}

struct Shared {
    poisoned: AtomicBool,
    last_error: Mutex<String>,
}

pub struct AsyncInstance {
    jobs: Option<mpsc::UnboundedSender<Job>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Call {
    done: Done,
    deadline: Option<Instant>,
}

enum Ending {
    Drained,
    Cancelled,
    Trap(u64, wasmtime::Error),
    Late,
}

impl AsyncInstance {
    /// Instantiates `pre` in a fresh store on a new thread; start-up code
    /// runs under `budget`.
    pub fn new(
        pre: &MessagingRequestReplyPre<HostState>,
        limits: FeLimits,
        http_grants: Vec<HttpPattern>,
        link: HostLink,
        budget: FeBudget,
    ) -> Result<AsyncInstance, (u32, String)> {
        let mut state = HostState::new(link, limits);
        state.http.hooks.grants = http_grants;
        let mut store = Store::new(pre.engine(), state);
        store.limiter(|s| &mut s.limiter);
        let fuel = store.get_fuel().is_ok();
        let pre = pre.clone();
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared { poisoned: AtomicBool::new(false), last_error: Mutex::new(String::new()) });
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let driver_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("ferry-async".into())
            .spawn(move || drive(pre, store, fuel, budget, rx, driver_shared, started_tx))
            .map_err(|e| (FE_OUTCOME_TRAP, format!("cannot start the instance's thread: {e}")))?;
        match started_rx.recv() {
            Ok(Ok(())) => Ok(AsyncInstance { jobs: Some(tx), shared, thread: Some(thread) }),
            Ok(Err(failed)) => {
                let _ = thread.join();
                Err(failed)
            }
            Err(_) => {
                let _ = thread.join();
                Err((FE_OUTCOME_TRAP, "the instance's thread ended during start-up".into()))
            }
        }
    }

    pub fn poisoned(&self) -> bool {
        self.shared.poisoned.load(Ordering::Acquire)
    }

    pub fn last_error(&self) -> String {
        self.shared.last_error.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Starts one handle call; `done` runs exactly once, on the instance's
    /// thread, or right here when the instance can take no more calls.
    pub fn handle(&self, message: HostMessage, budget: FeBudget, done: Done) {
        if self.poisoned() {
            done.finish(FE_OUTCOME_TRAP, "the instance is unusable after a trap");
            return;
        }
        let Some(jobs) = &self.jobs else { return };
        if let Err(mpsc::error::SendError(job)) = jobs.send(Job::Handle { message, budget, done }) {
            if let Job::Handle { done, .. } = job {
                done.finish(FE_OUTCOME_TRAP, "the instance is unusable after a trap");
            }
        }
    }
}

impl Drop for AsyncInstance {
    /// Stops the instance: calls still in flight end as cancelled.
    fn drop(&mut self) {
        if let Some(jobs) = self.jobs.take() {
            let _ = jobs.send(Job::Cancel);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `incoming-handler.handle`, typed: called directly (not through the
/// bindings) so that each call's guest task is known.
type HandleFunc = TypedFunc<(Resource<HostMessage>,), (Result<(), draft_async::wasi::messaging::types::Error>,)>;

const HANDLER: &str = "wasi:messaging/incoming-handler@0.2.0-draft";

async fn run_call(
    accessor: &Accessor<HostState>,
    handle: HandleFunc,
    id: u64,
    context: usize,
    message: HostMessage,
) -> (u64, wasmtime::Result<Result<(), draft_async::wasi::messaging::types::Error>>) {
    // The call's guest task names the host's context to the imports it
    // calls (send, request, reply: see draft_async::calling).
    let started = accessor.with(|mut access| -> wasmtime::Result<_> {
        let h = access.get().push_message(message)?;
        let call = handle.start_call_concurrent(access.as_context_mut(), (h,))?;
        let task = call.task();
        access.get().call_contexts.insert(task, context);
        Ok((call, task))
    });
    let result = match started {
        Ok((call, task)) => {
            let ended = handle.finish_call_concurrent(accessor, call).await.map(|(r,)| r);
            accessor.with(|mut access| access.get().call_contexts.remove(&task));
            ended
        }
        Err(e) => Err(e),
    };
    (id, result)
}

/// Call ids start at 1.
const UNKNOWN_CALL: u64 = 0;

fn earliest(calls: &HashMap<u64, Call>) -> Option<Instant> {
    calls.values().filter_map(|c| c.deadline).min()
}

/// Instantiates the component and finds its handler.
async fn instantiate(pre: &MessagingRequestReplyPre<HostState>, store: &mut Store<HostState>) -> wasmtime::Result<HandleFunc> {
    let instance = pre.instance_pre().instantiate_async(&mut *store).await?;
    let Some(iface) = instance.get_export_index(&mut *store, None, HANDLER) else {
        wasmtime::bail!("the component exports no {HANDLER}");
    };
    let Some(func) = instance.get_export_index(&mut *store, Some(&iface), "handle") else {
        wasmtime::bail!("the component's {HANDLER} has no handle");
    };
    instance.get_typed_func(&mut *store, &func)
}

fn drive(
    pre: MessagingRequestReplyPre<HostState>,
    mut store: Store<HostState>,
    fuel: bool,
    budget: FeBudget,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    shared: Arc<Shared>,
    started: std::sync::mpsc::Sender<Result<(), (u32, String)>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(r) => r,
        Err(e) => {
            let _ = started.send(Err((FE_OUTCOME_TRAP, format!("cannot start the instance's runtime: {e}"))));
            return;
        }
    };
    runtime.block_on(async move {
        store.set_epoch_deadline(budget.epoch_ticks.max(1));
        if fuel && store.set_fuel(budget.fuel).is_err() {
            let _ = started.send(Err((FE_OUTCOME_TRAP, "cannot set the instance's fuel".into())));
            return;
        }
        let handle = match instantiate(&pre, &mut store).await {
            Ok(h) => h,
            Err(e) => {
                let _ = started.send(Err(classify(&e, store.data().limiter.refused)));
                return;
            }
        };
        let _ = started.send(Ok(()));
        if fuel {
            let _ = store.set_fuel(0);
        }
        // From here on each epoch tick checks the calls' deadlines.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| match ctx.data().calls_deadline {
            Some(d) if Instant::now() >= d => Ok(UpdateDeadline::Interrupt),
            _ => Ok(UpdateDeadline::Continue(1)),
        });

        let mut calls: HashMap<u64, Call> = HashMap::new();
        let mut next_id = 0u64;
        let ending = store
            .run_concurrent(async |accessor| -> Ending {
                let mut running = FuturesUnordered::new();
                let mut open = true;
                loop {
                    if !open && running.is_empty() {
                        return Ending::Drained;
                    }
                    let wake = earliest(&calls);
                    let timer = async move {
                        match wake {
                            Some(d) => tokio::time::sleep_until(d.into()).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        job = jobs.recv(), if open => match job {
                            None => open = false,
                            Some(Job::Cancel) => return Ending::Cancelled,
                            Some(Job::Handle { message, budget, done }) => {
                                next_id += 1;
                                let context = done.ctx as usize;
                                let deadline = crate::clock::instant(budget.deadline_ns);
                                calls.insert(next_id, Call { done, deadline });
                                let wake = earliest(&calls);
                                accessor.with(|mut access| {
                                    access.data_mut().calls_deadline = wake;
                                    access.data_mut().limiter.refused = false;
                                    if fuel {
                                        let mut store = access.as_context_mut();
                                        let left = store.get_fuel().unwrap_or(0);
                                        let _ = store.set_fuel(left.saturating_add(budget.fuel));
                                    }
                                });
                                running.push(run_call(accessor, handle, next_id, context, message));
                            }
                        },
                        Some((id, result)) = running.next(), if !running.is_empty() => {
                            let result = match result {
                                Ok(r) => r,
                                Err(e) => return Ending::Trap(id, e),
                            };
                            if let Some(call) = calls.remove(&id) {
                                match result {
                                    Ok(()) => call.done.finish(FE_OUTCOME_OK, ""),
                                    Err(e) => call.done.finish(FE_OUTCOME_GUEST_ERROR, &draft_async::describe(&e)),
                                }
                            }
                            let wake = earliest(&calls);
                            let per_call = budget.fuel;
                            let in_flight = calls.len() as u64;
                            accessor.with(|mut access| {
                                access.data_mut().calls_deadline = wake;
                                if fuel {
                                    // What an ended call left over goes with it.
                                    let mut store = access.as_context_mut();
                                    let left = store.get_fuel().unwrap_or(0);
                                    let _ = store.set_fuel(left.min(per_call.saturating_mul(in_flight)));
                                }
                            });
                        }
                        _ = timer => return Ending::Late,
                    }
                }
            })
            .await;
        let refused = store.data().limiter.refused;
        let (trapped_id, failure) = match ending {
            Ok(Ending::Drained) => return,
            Ok(Ending::Cancelled) => {
                // Each call's Done reports it cancelled as it is dropped.
                calls.clear();
                return;
            }
            Ok(Ending::Trap(id, e)) => (id, Some(classify(&e, refused))),
            // Which call trapped is not known: each is told its instance failed.
            Err(e) => (UNKNOWN_CALL, Some(classify(&e, refused))),
            Ok(Ending::Late) => (0, None),
        };
        shared.poisoned.store(true, Ordering::Release);
        jobs.close();
        let now = Instant::now();
        let any_late = calls.values().any(|c| c.deadline.is_some_and(|d| now >= d));
        let mut first_text = String::new();
        for (id, call) in calls.drain() {
            let late = call.deadline.is_some_and(|d| now >= d);
            let (outcome, text) = if late {
                (FE_OUTCOME_TIMEOUT, "ran past its deadline".to_string())
            } else {
                match &failure {
                    // An interrupt with no call late is a deadline that passed
                    // between the tick and this check: the interrupted call's.
                    Some((outcome, text)) if id == trapped_id && (*outcome != FE_OUTCOME_TIMEOUT || !any_late) => {
                        (*outcome, text.clone())
                    }
                    Some((outcome, text)) if trapped_id == UNKNOWN_CALL && *outcome != FE_OUTCOME_TIMEOUT => {
                        (*outcome, format!("its instance failed with the call in flight: {text}"))
                    }
                    Some((outcome, _)) if *outcome == FE_OUTCOME_TIMEOUT => {
                        (FE_OUTCOME_TRAP, "stopped with its instance: another call on it ran past its deadline".to_string())
                    }
                    Some((_, text)) => (FE_OUTCOME_TRAP, format!("stopped with its instance: another call on it failed: {text}")),
                    None => (FE_OUTCOME_TRAP, "stopped with its instance: another call on it ran past its deadline".to_string()),
                }
            };
            if first_text.is_empty() {
                first_text = text.clone();
            }
            call.done.finish(outcome, &text);
        }
        if let Ok(mut last) = shared.last_error.lock() {
            *last = failure.map(|f| f.1).unwrap_or(first_text);
        }
        // Calls handed over meanwhile never ran.
        while let Ok(job) = jobs.try_recv() {
            if let Job::Handle { done, .. } = job {
                done.finish(FE_OUTCOME_TRAP, "the instance is unusable after a trap");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use std::sync::atomic::AtomicU32;

    static SEEN: AtomicU32 = AtomicU32::new(u32::MAX);
    static CALLS: AtomicU32 = AtomicU32::new(0);

    extern "C" fn record(_: *mut c_void, outcome: u32, _: FeStr) {
        SEEN.store(outcome, Ordering::SeqCst);
        CALLS.fetch_add(1, Ordering::SeqCst);
    }

    extern "C" fn ignore(_: *mut c_void, _: u32, _: FeStr) {}

    #[test]
    fn every_call_is_reported_exactly_once() {
        // Dropped unfinished (its instance stopped): reported cancelled.
        drop(Done::new(record, std::ptr::null_mut()));
        assert_eq!(SEEN.load(Ordering::SeqCst), FE_OUTCOME_CANCELLED);
        assert_eq!(CALLS.load(Ordering::SeqCst), 1);
        // Finished: reported as it ended, and not again when dropped.
        Done::new(record, std::ptr::null_mut()).finish(FE_OUTCOME_OK, "");
        assert_eq!(SEEN.load(Ordering::SeqCst), FE_OUTCOME_OK);
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_earliest_deadline_wakes_the_driver() {
        let now = Instant::now();
        let mut calls = HashMap::new();
        assert_eq!(earliest(&calls), None);
        calls.insert(1, Call { done: Done::new(ignore, std::ptr::null_mut()), deadline: None });
        calls.insert(2, Call { done: Done::new(ignore, std::ptr::null_mut()), deadline: Some(now + Duration::from_secs(2)) });
        calls.insert(3, Call { done: Done::new(ignore, std::ptr::null_mut()), deadline: Some(now + Duration::from_secs(1)) });
        assert_eq!(earliest(&calls), Some(now + Duration::from_secs(1)));
        for (_, c) in calls.drain() {
            c.done.finish(FE_OUTCOME_OK, "");
        }
    }
}
