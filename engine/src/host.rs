//! What one store holds: WASI, the guest's resources, the limits they are
//! held to, and the link back to the C++ host.

use std::ffi::c_void;
use std::pin::Pin;
use std::task::{Context, Poll};

use wasmtime::component::{Resource, ResourceTable};
use wasmtime::ResourceLimiter;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

use crate::abi::{ErrorSlot, FeMessage, FeStr, HostError, HostMessage, Lent, MessageSink};

#[repr(C)]
#[derive(Clone, Copy)]
pub struct FeLimits {
    pub max_memory_bytes: u64,
    pub max_message_bytes: u64,
    pub max_metadata_bytes: u64,
    pub max_messages: u32,
    pub max_message_total_bytes: u64,
    pub max_clients: u32,
    pub max_request_options: u32,
}

#[repr(C)]
pub struct FeHostVtable {
    pub connect: extern "C" fn(*mut c_void, FeStr, *mut ErrorSlot) -> *mut c_void,
    pub send: extern "C" fn(*mut c_void, *mut c_void, FeStr, *const FeMessage, usize, *mut ErrorSlot) -> bool,
    pub request: extern "C" fn(
        *mut c_void,
        *mut c_void,
        FeStr,
        *const FeMessage,
        *const u32,
        *const u32,
        *mut MessageSink,
        *mut ErrorSlot,
    ) -> bool,
    pub reply: extern "C" fn(*mut c_void, *mut c_void, FeStr, *const FeMessage, *mut ErrorSlot) -> bool,
    pub pull: extern "C" fn(*mut c_void, *mut c_void, FeStr, u32, *mut MessageSink, *mut ErrorSlot) -> bool,
    pub reconfigure: extern "C" fn(
        *mut c_void,
        *const FeStr,
        usize,
        *const crate::abi::FePair,
        usize,
        *mut ErrorSlot,
    ) -> bool,
    pub output: extern "C" fn(*mut c_void, i32, *const u8, usize),
}

/// The async shape's calls into the host: each starts the operation and
/// returns; the host finishes it later, from any thread, with
/// `fe_pending_done` (after `fe_pending_push` for each reply).
#[repr(C)]
pub struct FeAsyncHostVtable {
    pub send: extern "C" fn(*mut c_void, *mut c_void, *mut c_void, FeStr, *const FeMessage, usize, *mut FePending),
    pub request:
        extern "C" fn(*mut c_void, *mut c_void, *mut c_void, FeStr, *const FeMessage, *const u32, *const u32, *mut FePending),
    pub reply: extern "C" fn(*mut c_void, *mut c_void, *mut c_void, FeStr, *const FeMessage, *mut FePending),
}

/// What the host returns for one async operation.
pub type Finished = Result<Vec<HostMessage>, HostError>;

/// One async host operation in progress: the host owns it from the call
/// that started it until `fe_pending_done`.
pub struct FePending {
    replies: Vec<HostMessage>,
    tx: tokio::sync::oneshot::Sender<Finished>,
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_pending_push(pending: *mut FePending, message: *const FeMessage) {
    if pending.is_null() || message.is_null() {
        return;
    }
    unsafe { (*pending).replies.push(HostMessage::take(&*message)) };
}

/// Ends the operation (and frees `pending`). A guest task gone in the
/// meantime (its instance was stopped) is not an error.
#[unsafe(no_mangle)]
pub extern "C" fn fe_pending_done(pending: *mut FePending, ok: bool, kind: u32, message: FeStr, full: FeStr) {
    if pending.is_null() {
        return;
    }
    let p = unsafe { Box::from_raw(pending) };
    let result = if ok {
        Ok(p.replies)
    } else {
        let mut slot = ErrorSlot(None);
        crate::abi::fe_error_set(&mut slot, kind, message, full);
        Err(slot.0.unwrap_or_else(|| HostError::other("the host failed without saying why")))
    };
    let _ = p.tx.send(result);
}

/// The C++ host behind one instance: its callback table and context.
#[derive(Clone, Copy)]
pub struct HostLink {
    vtable: *const FeHostVtable,
    ctx: *mut c_void,
    /// Null but for instances of the async shape.
    async_vt: *const FeAsyncHostVtable,
}

// The host context is used only from the thread running the instance's
// calls, which may change between calls; the header asks the host to allow
// that.
unsafe impl Send for HostLink {}
unsafe impl Sync for HostLink {}

/// A client token the host gave out on connect.
#[derive(Clone, Copy)]
pub struct ClientToken(pub *mut c_void);
unsafe impl Send for ClientToken {}

impl HostLink {
    pub fn new(vtable: *const FeHostVtable, ctx: *mut c_void) -> HostLink {
        HostLink { vtable, ctx, async_vt: std::ptr::null() }
    }

    pub fn with_async(vtable: *const FeHostVtable, async_vt: *const FeAsyncHostVtable, ctx: *mut c_void) -> HostLink {
        HostLink { vtable, ctx, async_vt }
    }

    fn start(&self) -> (&FeAsyncHostVtable, *mut FePending, tokio::sync::oneshot::Receiver<Finished>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let pending = Box::into_raw(Box::new(FePending { replies: Vec::new(), tx }));
        (unsafe { &*self.async_vt }, pending, rx)
    }

    /// Starts a send; the receiver resolves when the host finished it.
    /// `call` is the context of the handle call the operation belongs to
    /// (null when not known), as the host gave it to fe_async_instance_handle.
    pub fn send_async(
        &self,
        call: *mut c_void,
        client: ClientToken,
        topic: &str,
        message: &HostMessage,
    ) -> tokio::sync::oneshot::Receiver<Finished> {
        let (vt, pending, rx) = self.start();
        let lent = Lent::new(message);
        let view = lent.view();
        (vt.send)(self.ctx, call, client.0, FeStr::of(topic), &view, 1, pending);
        rx
    }

    pub fn request_async(
        &self,
        call: *mut c_void,
        client: ClientToken,
        topic: &str,
        message: &HostMessage,
        timeout_ms: Option<u32>,
        expected: Option<u32>,
    ) -> tokio::sync::oneshot::Receiver<Finished> {
        let (vt, pending, rx) = self.start();
        let lent = Lent::new(message);
        let view = lent.view();
        let t = timeout_ms.as_ref().map_or(std::ptr::null(), |v| v as *const u32);
        let e = expected.as_ref().map_or(std::ptr::null(), |v| v as *const u32);
        (vt.request)(self.ctx, call, client.0, FeStr::of(topic), &view, t, e, pending);
        rx
    }

    pub fn reply_async(
        &self,
        call: *mut c_void,
        original: &HostMessage,
        reply: &HostMessage,
    ) -> tokio::sync::oneshot::Receiver<Finished> {
        let (vt, pending, rx) = self.start();
        let lent = Lent::new(reply);
        let view = lent.view();
        (vt.reply)(self.ctx, call, original.origin.0, FeStr::of(&original.fields().reply_to), &view, pending);
        rx
    }

    fn vt(&self) -> &FeHostVtable {
        unsafe { &*self.vtable }
    }

    fn with_error(f: impl FnOnce(*mut ErrorSlot) -> bool) -> Result<(), HostError> {
        let mut slot = ErrorSlot(None);
        if f(&mut slot) {
            return Ok(());
        }
        Err(slot.0.unwrap_or_else(|| HostError::other("the host failed without saying why")))
    }

    pub fn connect(&self, name: &str) -> Result<ClientToken, HostError> {
        let mut token = std::ptr::null_mut();
        Self::with_error(|err| {
            token = (self.vt().connect)(self.ctx, FeStr::of(name), err);
            !token.is_null()
        })?;
        Ok(ClientToken(token))
    }

    pub fn send(&self, client: ClientToken, topic: &str, messages: &[HostMessage]) -> Result<(), HostError> {
        if let [message] = messages {
            // The common case, with nothing to collect.
            let lent = Lent::new(message);
            let view = lent.view();
            return Self::with_error(|err| (self.vt().send)(self.ctx, client.0, FeStr::of(topic), &view, 1, err));
        }
        let lent: Vec<Lent> = messages.iter().map(Lent::new).collect();
        let views: Vec<FeMessage> = lent.iter().map(Lent::view).collect();
        Self::with_error(|err| (self.vt().send)(self.ctx, client.0, FeStr::of(topic), views.as_ptr(), views.len(), err))
    }

    pub fn request(
        &self,
        client: ClientToken,
        topic: &str,
        message: &HostMessage,
        timeout_ms: Option<u32>,
        expected: Option<u32>,
    ) -> Result<Vec<HostMessage>, HostError> {
        let lent = Lent::new(message);
        let view = lent.view();
        let mut sink = MessageSink(Vec::new());
        let t = timeout_ms.as_ref().map_or(std::ptr::null(), |v| v as *const u32);
        let e = expected.as_ref().map_or(std::ptr::null(), |v| v as *const u32);
        Self::with_error(|err| (self.vt().request)(self.ctx, client.0, FeStr::of(topic), &view, t, e, &mut sink, err))?;
        Ok(sink.0)
    }

    pub fn reply(&self, original: &HostMessage, reply: &HostMessage) -> Result<(), HostError> {
        let lent = Lent::new(reply);
        let view = lent.view();
        Self::with_error(|err| {
            (self.vt().reply)(self.ctx, original.origin.0, FeStr::of(&original.fields().reply_to), &view, err)
        })
    }

    pub fn pull(&self, client: ClientToken, channel: &str, wait_ms: u32) -> Result<Vec<HostMessage>, HostError> {
        let mut sink = MessageSink(Vec::new());
        Self::with_error(|err| (self.vt().pull)(self.ctx, client.0, FeStr::of(channel), wait_ms, &mut sink, err))?;
        Ok(sink.0)
    }

    pub fn reconfigure(&self, channels: &[String], extensions: &crate::abi::Metadata) -> Result<(), HostError> {
        let chans: Vec<FeStr> = channels.iter().map(|c| FeStr::of(c)).collect();
        let pairs = extensions.pairs();
        Self::with_error(|err| {
            (self.vt().reconfigure)(self.ctx, chans.as_ptr(), chans.len(), pairs.as_ptr(), pairs.len(), err)
        })
    }

    fn output(&self, stream: i32, bytes: &[u8]) {
        (self.vt().output)(self.ctx, stream, bytes.as_ptr(), bytes.len());
    }
}

/// A host-side limit the guest went past; raised as a trap and reported as
/// FE_OUTCOME_MEMORY.
#[derive(Debug)]
pub struct LimitExceeded(pub String);

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitExceeded {}

pub fn limit_trap(text: String) -> wasmtime::Error {
    wasmtime::Error::new(LimitExceeded(text))
}

/// Bounds linear memory growth and remembers a refusal, so a trap that
/// follows it (a guest's malloc failing and aborting) is reported as a
/// memory failure rather than a plain trap.
pub struct MemoryLimiter {
    pub max_bytes: usize,
    pub refused: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// What a 0.1.0 guest decided about a message handed to it in this call.
pub struct CallDelivery {
    pub tag: String,
    pub verdict: u8,
    pub pulled: bool,
}

pub struct Client {
    pub name: String,
    pub token: ClientToken,
    pub connected: bool,
}

#[derive(Default)]
pub struct RequestOptions {
    pub timeout_ms: Option<u32>,
    pub expected_replies: Option<u32>,
}

/// An error resource of the 0.1.0 interfaces: the text trace() returns.
pub struct GuestError(pub String);

pub struct HostState {
    wasi: WasiCtx,
    pub table: ResourceTable,
    pub link: HostLink,
    pub limits: FeLimits,
    pub limiter: MemoryLimiter,
    held_messages: u32,
    held_bytes: u64,
    held_clients: u32,
    held_options: u32,
    held_errors: u32,
    /// 0.1.0: the messages of the current handler call.
    pub call: Vec<CallDelivery>,
    /// 0.1.0: what error.trace() returns.
    pub last_error: String,
    /// wasi:http: the component's grants and the call's deadline.
    pub http: crate::http::HttpState,
    /// Async shape: the earliest deadline of the calls in flight.
    pub calls_deadline: Option<std::time::Instant>,
    /// Async shape: the host's context of each handle call in flight, by
    /// the guest task the call is (a pointer kept as an address).
    pub call_contexts: std::collections::HashMap<wasmtime::component::GuestTaskId, usize>,
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http.ctx, table: &mut self.table, hooks: &mut self.http.hooks }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Resources of WASI and wasi:http a guest may hold at once (streams,
/// pollables, fields, requests, responses, bodies): far more than a guest
/// in use holds (a request in flight holds about five), few enough that
/// one that never drops them cannot take the host's memory.
pub const OTHER_RESOURCES: usize = 4096;

/// How many resources the guest's table holds at most: messaging's own are
/// bounded by kind (max_guest_*, errors counting as messages), everything
/// else by OTHER_RESOURCES. Past it the guest traps.
pub fn table_capacity(limits: &FeLimits) -> usize {
    let own = 2 * limits.max_messages as usize + limits.max_clients as usize + limits.max_request_options as usize;
    own.saturating_add(OTHER_RESOURCES)
}

impl HostState {
    pub fn new(link: HostLink, limits: FeLimits) -> HostState {
        // Nothing of WASI is granted beyond clocks and randomness: no files,
        // sockets, environment or arguments. Output goes to the host's log.
        let mut wasi = wasmtime_wasi::WasiCtxBuilder::new();
        wasi.stdout(GuestOutput { link, stream: 1 });
        wasi.stderr(GuestOutput { link, stream: 2 });
        wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        let mut table = ResourceTable::new();
        table.set_max_capacity(table_capacity(&limits));
        HostState {
            wasi: wasi.build(),
            table,
            link,
            limits,
            limiter: MemoryLimiter { max_bytes: usize::try_from(limits.max_memory_bytes).unwrap_or(usize::MAX), refused: false },
            held_messages: 0,
            held_bytes: 0,
            held_clients: 0,
            held_options: 0,
            held_errors: 0,
            call: Vec::new(),
            last_error: String::new(),
            http: Default::default(),
            calls_deadline: None,
            call_contexts: std::collections::HashMap::new(),
        }
    }

    /// Checks a message's own size limits.
    pub fn check_message(&self, m: &HostMessage) -> Result<(), String> {
        if m.data().len() as u64 > self.limits.max_message_bytes {
            return Err(format!(
                "message of {} bytes is over max_message_bytes ({})",
                m.data().len(),
                self.limits.max_message_bytes
            ));
        }
        if m.fields().metadata.byte_size() > self.limits.max_metadata_bytes {
            return Err(format!(
                "metadata of {} bytes is over max_metadata_bytes ({})",
                m.fields().metadata.byte_size(),
                self.limits.max_metadata_bytes
            ));
        }
        Ok(())
    }

    /// Whether one more message of `len` bytes fits what the instance may hold.
    pub fn message_room(&self, len: usize) -> Result<(), String> {
        if self.held_messages >= self.limits.max_messages {
            return Err(format!(
                "the component holds {} messages, the most max_guest_messages allows",
                self.held_messages
            ));
        }
        if self.held_bytes + len as u64 > self.limits.max_message_total_bytes {
            return Err(format!(
                "the component's messages would hold {} bytes, over max_guest_message_bytes ({})",
                self.held_bytes + len as u64,
                self.limits.max_message_total_bytes
            ));
        }
        Ok(())
    }

    /// Adds a message to the table, counted against the limits.
    pub fn push_message(&mut self, m: HostMessage) -> wasmtime::Result<Resource<HostMessage>> {
        self.message_room(m.data().len()).map_err(limit_trap)?;
        self.held_messages += 1;
        self.held_bytes += m.data().len() as u64;
        Ok(self.table.push(m)?)
    }

    pub fn take_message(&mut self, r: Resource<HostMessage>) -> wasmtime::Result<HostMessage> {
        let m = self.table.delete(r)?;
        self.held_messages -= 1;
        self.held_bytes -= m.data().len() as u64;
        Ok(m)
    }

    pub fn message(&self, r: &Resource<HostMessage>) -> wasmtime::Result<&HostMessage> {
        Ok(self.table.get(r)?)
    }

    /// Replaces a held message's data, keeping the byte count true.
    pub fn set_message_data(&mut self, r: &Resource<HostMessage>, data: bytes::Bytes) -> wasmtime::Result<()> {
        if data.len() as u64 > self.limits.max_message_bytes {
            return Err(limit_trap(format!(
                "set-data of {} bytes is over max_message_bytes ({})",
                data.len(),
                self.limits.max_message_bytes
            )));
        }
        let old = self.table.get(r)?.data().len() as u64;
        let total = self.held_bytes - old + data.len() as u64;
        if total > self.limits.max_message_total_bytes {
            return Err(limit_trap(format!(
                "the component's messages would hold {total} bytes, over max_guest_message_bytes ({})",
                self.limits.max_message_total_bytes
            )));
        }
        self.held_bytes = total;
        self.table.get_mut(r)?.set_data(data);
        Ok(())
    }

    pub fn push_client(&mut self, c: Client) -> Result<Resource<Client>, HostError> {
        if self.held_clients >= self.limits.max_clients {
            return Err(HostError::other(format!(
                "the component holds {} clients, the most max_guest_clients allows",
                self.held_clients
            )));
        }
        let r = self.table.push(c).map_err(|e| HostError::other(e.to_string()))?;
        self.held_clients += 1;
        Ok(r)
    }

    pub fn take_client(&mut self, r: Resource<Client>) -> wasmtime::Result<Client> {
        let c = self.table.delete(r)?;
        self.held_clients -= 1;
        Ok(c)
    }

    pub fn push_options(&mut self, o: RequestOptions) -> wasmtime::Result<Resource<RequestOptions>> {
        if self.held_options >= self.limits.max_request_options {
            return Err(limit_trap(format!(
                "the component holds {} request-options, the most max_guest_request_options allows",
                self.held_options
            )));
        }
        let r = self.table.push(o)?;
        self.held_options += 1;
        Ok(r)
    }

    /// 0.1.0 error resources count against the message limit: each holds
    /// text the guest can make the host keep.
    pub fn push_error(&mut self, e: GuestError) -> wasmtime::Result<Resource<GuestError>> {
        if self.held_errors >= self.limits.max_messages {
            return Err(limit_trap(format!(
                "the component holds {} error resources, the most max_guest_messages allows",
                self.held_errors
            )));
        }
        let r = self.table.push(e)?;
        self.held_errors += 1;
        Ok(r)
    }

    pub fn take_error(&mut self, r: Resource<GuestError>) -> wasmtime::Result<GuestError> {
        let e = self.table.delete(r)?;
        self.held_errors -= 1;
        Ok(e)
    }

    pub fn take_options(&mut self, r: Resource<RequestOptions>) -> wasmtime::Result<RequestOptions> {
        let o = self.table.delete(r)?;
        self.held_options -= 1;
        Ok(o)
    }
}

/// Guest stdout or stderr, handed to the host a write at a time (the host
/// splits it into log lines).
#[derive(Clone, Copy)]
struct GuestOutput {
    link: HostLink,
    stream: i32,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(*self)
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(*self)
    }
}

#[async_trait::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.link.output(self.stream, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.link.output(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
