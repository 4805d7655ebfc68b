//! A component linked for its shape (`Pre`) and live instances of it, each
//! in a store of its own; guest calls and how they ended.

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap};

use crate::abi::HostMessage;
use crate::host::{FeLimits, HostLink, HostState, LimitExceeded};
use crate::http::HttpPattern;
use crate::{draft2025, v010, v2024};

pub const FE_SHAPE_DRAFT2025: u32 = 1;
pub const FE_SHAPE_V010: u32 = 2;
pub const FE_SHAPE_DRAFT2024: u32 = 3;
pub const FE_SHAPE_DRAFT_ASYNC: u32 = 4;

pub const FE_OUTCOME_OK: u32 = 0;
pub const FE_OUTCOME_GUEST_ERROR: u32 = 1;
pub const FE_OUTCOME_TRAP: u32 = 2;
pub const FE_OUTCOME_TIMEOUT: u32 = 3;
pub const FE_OUTCOME_FUEL: u32 = 4;
pub const FE_OUTCOME_MEMORY: u32 = 5;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct FeBudget {
    pub epoch_ticks: u64,
    pub fuel: u64,
    /// When the call must end, in ns on CLOCK_MONOTONIC (crate::clock; 0:
    /// unbounded); host-side waits inside it (outgoing HTTP) end by then.
    pub deadline_ns: u64,
}

/// A component linked against WASI p2 and one shape's interfaces.
pub enum Pre {
    Draft2025(draft2025::MessagingRequestReplyPre<HostState>),
    V010(v010::MessagingPre<HostState>),
    Draft2024(v2024::MessagingPre<HostState>),
    /// The async shape: instances are `concurrent::AsyncInstance`s.
    DraftAsync(crate::draft_async::MessagingRequestReplyPre<HostState>),
}

impl Pre {
    pub fn new(engine: &Engine, component: &Component, shape: u32) -> wasmtime::Result<Pre> {
        let mut linker = Linker::<HostState>::new(engine);
        if shape == FE_SHAPE_DRAFT_ASYNC {
            // Async imports and exports: WASI and wasi:http in their async
            // forms, since the store's calls run concurrently.
            wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
            // WASI 0.3 (its own package versions) for guests that import it.
            wasmtime_wasi::p3::add_to_linker(&mut linker)?;
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
            crate::draft_async::add_to_linker(&mut linker)?;
            return Ok(Pre::DraftAsync(crate::draft_async::MessagingRequestReplyPre::new(
                linker.instantiate_pre(component)?,
            )?));
        }
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        // wasi:http for components that import it (fetch in componentize-js
        // builds); the hooks refuse what the component was not granted.
        // An incoming-handler export is not looked at.
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
        Ok(match shape {
            FE_SHAPE_DRAFT2025 => {
                draft2025::add_to_linker(&mut linker)?;
                Pre::Draft2025(draft2025::MessagingRequestReplyPre::new(linker.instantiate_pre(component)?)?)
            }
            FE_SHAPE_V010 => {
                v010::add_to_linker(&mut linker)?;
                Pre::V010(v010::MessagingPre::new(linker.instantiate_pre(component)?)?)
            }
            FE_SHAPE_DRAFT2024 => {
                v2024::add_to_linker(&mut linker)?;
                Pre::Draft2024(v2024::MessagingPre::new(linker.instantiate_pre(component)?)?)
            }
            _ => wasmtime::bail!("unknown interface shape {shape}"),
        })
    }

    fn engine(&self) -> &Engine {
        match self {
            Pre::Draft2025(p) => p.instance_pre().engine(),
            Pre::V010(p) => p.instance_pre().engine(),
            Pre::Draft2024(p) => p.instance_pre().engine(),
            Pre::DraftAsync(p) => p.instance_pre().engine(),
        }
    }
}

enum Bound {
    Draft2025(draft2025::MessagingRequestReply),
    V010(v010::Messaging),
    Draft2024(v2024::Messaging),
}

pub struct Instance {
    store: Store<HostState>,
    fuel: bool,
    bound: Option<Bound>,
    poisoned: bool,
    pub last_error: String,
}

/// How a failed call ended, from the error's kind, never from its text.
pub fn classify(e: &wasmtime::Error, memory_refused: bool) -> (u32, String) {
    if let Some(limit) = e.downcast_ref::<LimitExceeded>() {
        return (FE_OUTCOME_MEMORY, limit.0.clone());
    }
    if let Some(wasmtime::component::ResourceTableError::Full) = e.downcast_ref() {
        return (
            FE_OUTCOME_MEMORY,
            format!(
                "the component holds more resources than its limits allow (max_guest_* and {} of WASI and wasi:http)",
                crate::host::OTHER_RESOURCES
            ),
        );
    }
    if let Some(trap) = e.downcast_ref::<Trap>() {
        let outcome = match trap {
            Trap::Interrupt => FE_OUTCOME_TIMEOUT,
            Trap::OutOfFuel => FE_OUTCOME_FUEL,
            // A guest whose memory could not grow usually aborts: that is
            // the memory limit, whatever instruction it trapped on.
            _ if memory_refused => FE_OUTCOME_MEMORY,
            _ => FE_OUTCOME_TRAP,
        };
        let text = if outcome == FE_OUTCOME_MEMORY {
            format!("{trap} after its linear memory reached max_memory_bytes")
        } else {
            trap.to_string()
        };
        return (outcome, text);
    }
    let outcome = if memory_refused { FE_OUTCOME_MEMORY } else { FE_OUTCOME_TRAP };
    let top = e.to_string();
    let root = e.root_cause().to_string();
    let text = if root != top { format!("{}: {}", first_line(&top), first_line(&root)) } else { first_line(&top).to_string() };
    (outcome, text)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

impl Instance {
    /// Instantiates `pre` in a fresh store; start-up code runs under `budget`.
    pub fn new(
        pre: &Pre,
        limits: FeLimits,
        http_grants: Vec<HttpPattern>,
        link: HostLink,
        budget: FeBudget,
    ) -> Result<Instance, (u32, String)> {
        let mut state = HostState::new(link, limits);
        state.http.hooks.grants = http_grants;
        let mut store = Store::new(pre.engine(), state);
        store.limiter(|s| &mut s.limiter);
        // get_fuel fails on engines that do not meter fuel.
        let fuel = store.get_fuel().is_ok();
        let mut instance = Instance { store, fuel, bound: None, poisoned: false, last_error: String::new() };
        instance.arm(budget).map_err(|e| (FE_OUTCOME_TRAP, e.to_string()))?;
        let bound = match pre {
            Pre::Draft2025(p) => p.instantiate(&mut instance.store).map(Bound::Draft2025),
            Pre::V010(p) => p.instantiate(&mut instance.store).map(Bound::V010),
            Pre::Draft2024(p) => p.instantiate(&mut instance.store).map(Bound::Draft2024),
            Pre::DraftAsync(_) => {
                return Err((FE_OUTCOME_TRAP, "a component of the async shape needs an async instance".into()));
            }
        };
        match bound {
            Ok(b) => instance.bound = Some(b),
            Err(e) => return Err(classify(&e, instance.store.data().limiter.refused)),
        }
        Ok(instance)
    }

    pub fn poisoned(&self) -> bool {
        self.poisoned
    }

    fn arm(&mut self, budget: FeBudget) -> wasmtime::Result<()> {
        self.store.set_epoch_deadline(budget.epoch_ticks.max(1));
        if self.fuel {
            self.store.set_fuel(budget.fuel)?;
        }
        self.store.data_mut().limiter.refused = false;
        self.store.data_mut().http.hooks.deadline_ns = budget.deadline_ns;
        Ok(())
    }

    /// Runs one guest call under `budget`. A trap poisons the instance.
    fn run<T>(
        &mut self,
        budget: FeBudget,
        call: impl FnOnce(&Bound, &mut Store<HostState>) -> wasmtime::Result<Result<T, String>>,
    ) -> (u32, Option<T>) {
        if self.poisoned {
            self.last_error = "the instance is unusable after a trap".into();
            return (FE_OUTCOME_TRAP, None);
        }
        if let Err(e) = self.arm(budget) {
            self.last_error = e.to_string();
            return (FE_OUTCOME_TRAP, None);
        }
        let bound = self.bound.as_ref().expect("instantiated");
        match call(bound, &mut self.store) {
            Ok(Ok(v)) => (FE_OUTCOME_OK, Some(v)),
            Ok(Err(text)) => {
                self.last_error = text;
                (FE_OUTCOME_GUEST_ERROR, None)
            }
            Err(e) => {
                self.poisoned = true;
                let (outcome, text) = classify(&e, self.store.data().limiter.refused);
                self.last_error = text;
                (outcome, None)
            }
        }
    }

    pub fn handle(&mut self, message: HostMessage, budget: FeBudget) -> u32 {
        self.run(budget, |bound, store| {
            let Bound::Draft2025(b) = bound else {
                wasmtime::bail!("handle called on a component of another shape")
            };
            let handle = store.data_mut().push_message(message)?;
            Ok(b.wasi_messaging_incoming_handler().call_handle(&mut *store, handle)?.map_err(|e| draft2025::describe(&e)))
        })
        .0
    }

    pub fn configure(&mut self, budget: FeBudget) -> (u32, Option<(Vec<String>, crate::abi::Metadata)>) {
        self.run(budget, |bound, store| match bound {
            Bound::V010(b) => v010::configure(b, store),
            Bound::Draft2024(b) => v2024::configure(b, store),
            Bound::Draft2025(_) => wasmtime::bail!("configure called on a component of another shape"),
        })
    }

    /// Verdicts go into `verdicts`, one per message.
    pub fn handler(&mut self, messages: Vec<HostMessage>, budget: FeBudget, verdicts: &mut [u8]) -> u32 {
        let count = messages.len();
        let outcome = self
            .run(budget, |bound, store| match bound {
                Bound::V010(b) => v010::handler(b, store, messages),
                Bound::Draft2024(b) => v2024::handler(b, store, messages),
                Bound::Draft2025(_) => wasmtime::bail!("handler called on a component of another shape"),
            })
            .0;
        // The batch's entries come first; pulled messages were added after.
        let call = std::mem::take(&mut self.store.data_mut().call);
        for (i, v) in verdicts.iter_mut().enumerate().take(count) {
            *v = call.get(i).map_or(crate::FE_VERDICT_NONE, |d| d.verdict);
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traps_are_classified_by_code() {
        let kind = |e: wasmtime::Error, refused: bool| classify(&e, refused).0;
        assert_eq!(kind(wasmtime::Error::new(Trap::Interrupt), false), FE_OUTCOME_TIMEOUT);
        assert_eq!(kind(wasmtime::Error::new(Trap::OutOfFuel), false), FE_OUTCOME_FUEL);
        assert_eq!(kind(wasmtime::Error::new(Trap::UnreachableCodeReached), false), FE_OUTCOME_TRAP);
        // A trap after memory.grow was refused is the memory limit...
        assert_eq!(kind(wasmtime::Error::new(Trap::UnreachableCodeReached), true), FE_OUTCOME_MEMORY);
        // ...but running out of time or fuel stays what it is.
        assert_eq!(kind(wasmtime::Error::new(Trap::Interrupt), true), FE_OUTCOME_TIMEOUT);
        assert_eq!(kind(crate::host::limit_trap("too many".into()), false), FE_OUTCOME_MEMORY);
    }

    #[test]
    fn text_never_decides_the_kind() {
        // A host error whose words look like a trap's is still a plain trap.
        let e = wasmtime::Error::msg("interrupt: all fuel consumed by WebAssembly");
        assert_eq!(classify(&e, false).0, FE_OUTCOME_TRAP);
    }

    #[test]
    fn failure_text_is_one_line() {
        let e = wasmtime::Error::msg("first line\nsecond line").context("calling handle");
        let (_, text) = classify(&e, false);
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("calling handle"), "{text}");
    }
}
