//! The `extern "C"` functions of `include/ferry_engine.h`. Each checks its
//! pointers, converts, and calls the safe code; none unwinds (the crate
//! aborts on panic).

use std::ffi::c_void;
use std::hash::{DefaultHasher, Hash, Hasher};

use bytes::Bytes;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::abi::{FeBuffer, FeMessage, FePair, FeStr, FeText, HostMessage};
use crate::concurrent::{AsyncInstance, Done, DoneFn};
use crate::host::{FeAsyncHostVtable, FeHostVtable, FeLimits, HostLink};
use crate::http::HttpPattern;
use crate::instance::{FeBudget, Instance, Pre};

pub const FE_ABI_VERSION: u32 = 6;

#[unsafe(no_mangle)]
pub extern "C" fn fe_abi_version() -> u32 {
    FE_ABI_VERSION
}

#[repr(C)]
pub struct FeEngineConfig {
    pub consume_fuel: bool,
    pub pooled_instances: u32,
    pub max_memory_bytes: u64,
}

/// Two Wasmtime engines from one configuration: components of the
/// synchronous shapes run on one without concurrency support, whose stores
/// carry no task state (a call through an engine with it pays for a guest
/// task per call: 1.35 against 1.84 µs for the forwarding echo); components
/// that need the component model's async (WASI 0.3) run on the other.
pub struct FeEngine {
    sync: Engine,
    concurrent: Engine,
}

pub struct FeComponent {
    engine: Engine,
    component: Component,
}

fn engine_config(c: &FeEngineConfig, concurrent: bool) -> Config {
    let mut config = Config::new();
    // Call deadlines: the host's ticker advances the epoch.
    config.epoch_interruption(true);
    config.consume_fuel(c.consume_fuel);
    // Only the concurrent engine validates components of the async shape
    // and gives its stores the state concurrent calls need.
    config.concurrency_support(concurrent);
    config.wasm_component_model_async(concurrent);
    config.parallel_compilation(true);
    if c.pooled_instances > 0 {
        let n = c.pooled_instances;
        let mut pool = PoolingAllocationConfig::default();
        // A component made with the WASI adapter has a handful of core
        // instances and two memories; languages with runtimes have more.
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(16))
            .total_memories(n.saturating_mul(4))
            .total_tables(n.saturating_mul(8))
            .max_memory_size(usize::try_from(c.max_memory_bytes).unwrap_or(usize::MAX))
            .table_elements(1 << 20)
            .max_component_instance_size(4 << 20)
            .max_core_instance_size(4 << 20)
            // Keeping a little of each slot's memory mapped makes reusing it
            // a memset instead of page faults on the next instance's start.
            .linear_memory_keep_resident(128 << 10)
            .table_keep_resident(16 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_engine_new(config: *const FeEngineConfig, err: *mut FeText) -> *mut FeEngine {
    let Some(c) = (unsafe { config.as_ref() }) else {
        FeText::store(err, "no engine configuration");
        return std::ptr::null_mut();
    };
    match (Engine::new(&engine_config(c, false)), Engine::new(&engine_config(c, true))) {
        (Ok(sync), Ok(concurrent)) => Box::into_raw(Box::new(FeEngine { sync, concurrent })),
        (Err(e), _) | (_, Err(e)) => {
            FeText::store(err, &format!("cannot create the WebAssembly engine: {e}"));
            std::ptr::null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_engine_free(engine: *mut FeEngine) {
    if !engine.is_null() {
        drop(unsafe { Box::from_raw(engine) });
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_engine_increment_epoch(engine: *const FeEngine) {
    if let Some(e) = unsafe { engine.as_ref() } {
        e.sync.increment_epoch();
        e.concurrent.increment_epoch();
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_engine_code_hash(engine: *const FeEngine) -> u64 {
    let Some(e) = (unsafe { engine.as_ref() }) else { return 0 };
    // Both engines come from one configuration: the first one's hash names
    // them both; which of the two compiled an entry, its code says.
    let mut h = DefaultHasher::new();
    e.sync.precompile_compatibility_hash().hash(&mut h);
    h.finish()
}

fn boxed_component(engine: &Engine, made: wasmtime::Result<Component>, err: *mut FeText) -> *mut FeComponent {
    match made {
        Ok(component) => Box::into_raw(Box::new(FeComponent { engine: engine.clone(), component })),
        Err(e) => {
            FeText::store(err, &crate::instance::classify(&e, false).1);
            std::ptr::null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_component_compile(engine: *const FeEngine, bytes: *const u8, len: usize, err: *mut FeText) -> *mut FeComponent {
    let Some(e) = (unsafe { engine.as_ref() }) else { return std::ptr::null_mut() };
    let wasm = unsafe { std::slice::from_raw_parts(bytes, len) };
    // A component the synchronous engine refuses may use the component
    // model's async; if the concurrent engine refuses it too, its error is
    // the one about the component itself, not about a feature.
    match Component::new(&e.sync, wasm) {
        Ok(component) => boxed_component(&e.sync, Ok(component), err),
        Err(_) => boxed_component(&e.concurrent, Component::new(&e.concurrent, wasm), err),
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_component_deserialize(
    engine: *const FeEngine,
    bytes: *const u8,
    len: usize,
    err: *mut FeText,
) -> *mut FeComponent {
    let Some(e) = (unsafe { engine.as_ref() }) else { return std::ptr::null_mut() };
    let code = unsafe { std::slice::from_raw_parts(bytes, len) };
    // Safety: the header restricts this to Ferry's own cache, written by
    // fe_component_serialize; Wasmtime checks the engine's compatibility.
    // Compiled by one of the two engines: the other refuses its code.
    match unsafe { Component::deserialize(&e.sync, code) } {
        Ok(component) => boxed_component(&e.sync, Ok(component), err),
        Err(_) => boxed_component(&e.concurrent, unsafe { Component::deserialize(&e.concurrent, code) }, err),
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_component_serialize(component: *const FeComponent, out: *mut FeBuffer, err: *mut FeText) -> bool {
    let Some(c) = (unsafe { component.as_ref() }) else { return false };
    match c.component.serialize() {
        Ok(code) => {
            unsafe { *out = FeBuffer::give(Bytes::from(code)) };
            true
        }
        Err(e) => {
            FeText::store(err, &e.to_string());
            false
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_component_free(component: *mut FeComponent) {
    if !component.is_null() {
        drop(unsafe { Box::from_raw(component) });
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_component_names(
    component: *const FeComponent,
    ctx: *mut c_void,
    visit: extern "C" fn(*mut c_void, bool, FeStr),
) {
    let Some(c) = (unsafe { component.as_ref() }) else { return };
    let ty = c.component.component_type();
    for (name, _) in ty.imports(&c.engine) {
        visit(ctx, false, FeStr::of(name));
    }
    for (name, _) in ty.exports(&c.engine) {
        visit(ctx, true, FeStr::of(name));
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_pre_new(component: *const FeComponent, shape: u32, err: *mut FeText) -> *mut Pre {
    let Some(c) = (unsafe { component.as_ref() }) else { return std::ptr::null_mut() };
    match Pre::new(&c.engine, &c.component, shape) {
        Ok(pre) => Box::into_raw(Box::new(pre)),
        Err(e) => {
            FeText::store(err, &crate::instance::classify(&e, false).1);
            std::ptr::null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_pre_free(pre: *mut Pre) {
    if !pre.is_null() {
        drop(unsafe { Box::from_raw(pre) });
    }
}

/// What an instance may reach beyond its messaging clients.
#[repr(C)]
pub struct FeGrants {
    pub allow_http: *const FeStr,
    pub allow_http_len: usize,
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_instance_new(
    pre: *const Pre,
    limits: *const FeLimits,
    grants: *const FeGrants,
    vtable: *const FeHostVtable,
    host: *mut c_void,
    budget: FeBudget,
    outcome: *mut u32,
    err: *mut FeText,
) -> *mut Instance {
    let (Some(pre), Some(limits)) = (unsafe { pre.as_ref() }, unsafe { limits.as_ref() }) else {
        return std::ptr::null_mut();
    };
    if vtable.is_null() {
        return std::ptr::null_mut();
    }
    let http = match http_grants(grants) {
        Ok(h) => h,
        Err(text) => {
            if !outcome.is_null() {
                unsafe { *outcome = crate::instance::FE_OUTCOME_TRAP };
            }
            FeText::store(err, &text);
            return std::ptr::null_mut();
        }
    };
    match Instance::new(pre, *limits, http, HostLink::new(vtable, host), budget) {
        Ok(instance) => Box::into_raw(Box::new(instance)),
        Err((kind, text)) => {
            if !outcome.is_null() {
                unsafe { *outcome = kind };
            }
            FeText::store(err, &text);
            std::ptr::null_mut()
        }
    }
}

fn http_grants(grants: *const FeGrants) -> Result<Vec<HttpPattern>, String> {
    let mut http = Vec::new();
    if let Some(g) = unsafe { grants.as_ref() } {
        let patterns: &[FeStr] =
            if g.allow_http_len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(g.allow_http, g.allow_http_len) } };
        for p in patterns {
            http.push(HttpPattern::parse(&unsafe { (*p).to_string() })?);
        }
    }
    Ok(http)
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_instance_free(instance: *mut Instance) {
    if !instance.is_null() {
        drop(unsafe { Box::from_raw(instance) });
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_instance_last_error(instance: *const Instance) -> FeStr {
    match unsafe { instance.as_ref() } {
        Some(i) => FeStr::of(&i.last_error),
        None => FeStr::of(""),
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_instance_poisoned(instance: *const Instance) -> bool {
    unsafe { instance.as_ref() }.is_none_or(Instance::poisoned)
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_instance_handle(instance: *mut Instance, message: *const FeMessage, budget: FeBudget) -> u32 {
    let (Some(i), Some(m)) = (unsafe { instance.as_mut() }, unsafe { message.as_ref() }) else {
        return crate::instance::FE_OUTCOME_TRAP;
    };
    let message = unsafe { HostMessage::take(m) };
    i.handle(message, budget)
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_instance_configure(
    instance: *mut Instance,
    budget: FeBudget,
    ctx: *mut c_void,
    visit: extern "C" fn(*mut c_void, *const FeStr, usize, *const FePair, usize),
) -> u32 {
    let Some(i) = (unsafe { instance.as_mut() }) else { return crate::instance::FE_OUTCOME_TRAP };
    let (outcome, asked) = i.configure(budget);
    if let Some((channels, extensions)) = asked {
        let chans: Vec<FeStr> = channels.iter().map(|c| FeStr::of(c)).collect();
        let pairs = extensions.pairs();
        visit(ctx, chans.as_ptr(), chans.len(), pairs.as_ptr(), pairs.len());
    }
    outcome
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_instance_handler(
    instance: *mut Instance,
    messages: *const FeMessage,
    count: usize,
    budget: FeBudget,
    verdicts: *mut u8,
) -> u32 {
    let Some(i) = (unsafe { instance.as_mut() }) else { return crate::instance::FE_OUTCOME_TRAP };
    let views = if count == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(messages, count) } };
    let taken: Vec<HostMessage> = views.iter().map(|m| unsafe { HostMessage::take(m) }).collect();
    let out = if count == 0 { &mut [][..] } else { unsafe { std::slice::from_raw_parts_mut(verdicts, count) } };
    i.handler(taken, budget, out)
}

/// True when any function the component imports or exports from
/// wasi:messaging is declared `async`: the async shape, told apart from the
/// 2025 draft by its functions' types.
#[unsafe(no_mangle)]
pub extern "C" fn fe_component_messaging_async(component: *const FeComponent) -> bool {
    use wasmtime::component::types::ComponentItem;
    let Some(c) = (unsafe { component.as_ref() }) else { return false };
    let ty = c.component.component_type();
    let any_async = |item: ComponentItem| match item {
        ComponentItem::ComponentInstance(i) => i.exports(&c.engine).any(|(_, e)| match e.ty {
            ComponentItem::ComponentFunc(f) => f.async_(),
            _ => false,
        }),
        ComponentItem::ComponentFunc(f) => f.async_(),
        _ => false,
    };
    ty.imports(&c.engine).filter(|(n, _)| n.starts_with("wasi:messaging/")).any(|(_, i)| any_async(i.ty))
        || ty.exports(&c.engine).filter(|(n, _)| n.starts_with("wasi:messaging/")).any(|(_, i)| any_async(i.ty))
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_async_instance_new(
    pre: *const Pre,
    limits: *const FeLimits,
    grants: *const FeGrants,
    vtable: *const FeHostVtable,
    async_vtable: *const FeAsyncHostVtable,
    host: *mut c_void,
    budget: FeBudget,
    outcome: *mut u32,
    err: *mut FeText,
) -> *mut AsyncInstance {
    let fail = |kind: u32, text: &str| {
        if !outcome.is_null() {
            unsafe { *outcome = kind };
        }
        FeText::store(err, text);
        std::ptr::null_mut()
    };
    let (Some(pre), Some(limits)) = (unsafe { pre.as_ref() }, unsafe { limits.as_ref() }) else {
        return std::ptr::null_mut();
    };
    let Pre::DraftAsync(pre) = pre else {
        return fail(crate::instance::FE_OUTCOME_TRAP, "the component is not of the async shape");
    };
    if vtable.is_null() || async_vtable.is_null() {
        return std::ptr::null_mut();
    }
    let http = match http_grants(grants) {
        Ok(h) => h,
        Err(text) => return fail(crate::instance::FE_OUTCOME_TRAP, &text),
    };
    match AsyncInstance::new(pre, *limits, http, HostLink::with_async(vtable, async_vtable, host), budget) {
        Ok(instance) => Box::into_raw(Box::new(instance)),
        Err((kind, text)) => fail(kind, &text),
    }
}

/// Stops the instance (calls in flight end as cancelled) and frees it.
#[unsafe(no_mangle)]
pub extern "C" fn fe_async_instance_free(instance: *mut AsyncInstance) {
    if !instance.is_null() {
        drop(unsafe { Box::from_raw(instance) });
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_async_instance_poisoned(instance: *const AsyncInstance) -> bool {
    unsafe { instance.as_ref() }.is_none_or(AsyncInstance::poisoned)
}

/// How the last failure ended the instance; the host frees the text.
#[unsafe(no_mangle)]
pub extern "C" fn fe_async_instance_last_error(instance: *const AsyncInstance, out: *mut FeText) {
    if let Some(i) = unsafe { instance.as_ref() } {
        FeText::store(out, &i.last_error());
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_async_instance_handle(
    instance: *const AsyncInstance,
    message: *const FeMessage,
    budget: FeBudget,
    done: DoneFn,
    ctx: *mut c_void,
) {
    let done = Done::new(done, ctx);
    let (Some(i), Some(m)) = (unsafe { instance.as_ref() }, unsafe { message.as_ref() }) else {
        return;
    };
    i.handle(unsafe { HostMessage::take(m) }, budget, done);
}
