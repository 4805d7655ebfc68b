//! The plain data of the C ABI (`include/ferry_engine.h`) and its
//! conversions to Rust types. Nothing here knows Wasmtime.

use std::ffi::c_void;
use std::sync::OnceLock;

use bytes::Bytes;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct FeStr {
    pub ptr: *const u8,
    pub len: usize,
}

impl FeStr {
    pub fn of(s: &str) -> FeStr {
        FeStr { ptr: s.as_ptr(), len: s.len() }
    }

    /// The borrowed text. Invalid UTF-8 from the host is replaced, never
    /// trusted.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes for the returned lifetime.
    pub unsafe fn to_string(self) -> String {
        if self.len == 0 {
            return String::new();
        }
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

#[repr(C)]
pub struct FeText {
    pub ptr: *mut u8,
    pub len: usize,
}

impl FeText {
    /// Stores `text` in `out` (when not null) for the host to free.
    pub fn store(out: *mut FeText, text: &str) {
        if out.is_null() {
            return;
        }
        let boxed: Box<[u8]> = text.as_bytes().into();
        let len = boxed.len();
        let ptr = Box::into_raw(boxed) as *mut u8;
        unsafe { *out = FeText { ptr, len } };
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn fe_text_free(text: *mut FeText) {
    if text.is_null() {
        return;
    }
    let t = unsafe { &mut *text };
    if !t.ptr.is_null() {
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(t.ptr, t.len)) });
    }
    t.ptr = std::ptr::null_mut();
    t.len = 0;
}

#[repr(C)]
pub struct FeBuffer {
    pub ptr: *const u8,
    pub len: usize,
    pub owner: *mut c_void,
    pub release: Option<extern "C" fn(*mut c_void)>,
}

/// A payload the host lent us: its bytes stay valid until `release`.
struct HostBuffer {
    ptr: *const u8,
    len: usize,
    owner: *mut c_void,
    release: Option<extern "C" fn(*mut c_void)>,
}

// The host's buffers are immutable and their release is thread-safe (the
// header's contract), so they may be dropped on any thread.
unsafe impl Send for HostBuffer {}
unsafe impl Sync for HostBuffer {}

impl AsRef<[u8]> for HostBuffer {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for HostBuffer {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            release(self.owner);
        }
    }
}

impl FeBuffer {
    /// Takes ownership of a buffer the host handed over, without copying.
    ///
    /// # Safety
    /// The buffer must follow the header's contract and not be used again.
    pub unsafe fn take(&self) -> Bytes {
        if self.release.is_none() && self.len == 0 {
            return Bytes::new();
        }
        Bytes::from_owner(HostBuffer {
            ptr: self.ptr,
            len: self.len,
            owner: self.owner,
            release: self.release,
        })
    }

    /// Hands `bytes` to the host: it reads them in place and releases them.
    pub fn give(bytes: Bytes) -> FeBuffer {
        if bytes.is_empty() {
            return FeBuffer { ptr: std::ptr::null(), len: 0, owner: std::ptr::null_mut(), release: None };
        }
        let ptr = bytes.as_ptr();
        let len = bytes.len();
        let owner = Box::into_raw(Box::new(bytes)) as *mut c_void;
        FeBuffer { ptr, len, owner, release: Some(release_bytes) }
    }
}

extern "C" fn release_bytes(owner: *mut c_void) {
    drop(unsafe { Box::from_raw(owner as *mut Bytes) });
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct FePair {
    pub key: FeStr,
    pub value: FeStr,
}

#[repr(C)]
pub struct FeMessage {
    pub topic: FeStr,
    pub data: FeBuffer,
    pub has_content_type: bool,
    pub content_type: FeStr,
    pub metadata: *const FePair,
    pub metadata_len: usize,
    pub reply_to: FeStr,
    pub origin: *mut c_void,
    pub source: *mut c_void,
}

/// The host's token for the broker a message came from. Only ever handed
/// back to the host, never dereferenced here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin(pub *mut c_void);
unsafe impl Send for Origin {}
unsafe impl Sync for Origin {}

impl Origin {
    pub fn none() -> Origin {
        Origin(std::ptr::null_mut())
    }
}

/// Ordered key/value pairs with unique keys, as the host keeps them:
/// setting a key that exists replaces its value in place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata(pub Vec<(String, String)>);

impl Metadata {
    pub fn set(&mut self, key: String, value: String) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Replaces everything; a later duplicate of a key wins.
    pub fn assign(entries: Vec<(String, String)>) -> Metadata {
        let mut md = Metadata::default();
        for (k, v) in entries {
            md.set(k, v);
        }
        md
    }

    pub fn remove(&mut self, key: &str) {
        if let Some(i) = self.0.iter().position(|(k, _)| k == key) {
            self.0.remove(i);
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// What size limits count: the lengths of keys and values.
    pub fn byte_size(&self) -> u64 {
        self.0.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum()
    }

    pub fn pairs(&self) -> Vec<FePair> {
        self.0.iter().map(|(k, v)| FePair { key: FeStr::of(k), value: FeStr::of(v) }).collect()
    }
}

/// A message's text: where it was published, its content type, metadata
/// and reply address.
#[derive(Clone, Debug, Default)]
pub struct Fields {
    pub topic: Option<String>,
    pub content_type: Option<String>,
    pub metadata: Metadata,
    pub reply_to: String,
}

/// The host's own copy of a message it passed in (`fe_message.source`):
/// the view's strings point into it, and the owner of the message's data
/// keeps it alive.
#[derive(Clone, Copy)]
struct Source {
    token: *mut c_void,
    topic: FeStr,
    has_content_type: bool,
    content_type: FeStr,
    metadata: *const FePair,
    metadata_len: usize,
    reply_to: FeStr,
}

// What a Source points at is the host's immutable message, released only
// with the data that holds it, on any thread (the header's contract).
unsafe impl Send for Source {}
unsafe impl Sync for Source {}

impl Source {
    /// # Safety
    /// The host's message must still be alive (the data's owner holds it).
    unsafe fn read(&self) -> Fields {
        let pairs = if self.metadata_len == 0 {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(self.metadata, self.metadata_len) }
        };
        let topic = unsafe { self.topic.to_string() };
        Fields {
            topic: if topic.is_empty() { None } else { Some(topic) },
            content_type: if self.has_content_type { Some(unsafe { self.content_type.to_string() }) } else { None },
            metadata: Metadata::assign(pairs.iter().map(|p| unsafe { (p.key.to_string(), p.value.to_string()) }).collect()),
            reply_to: unsafe { self.reply_to.to_string() },
        }
    }
}

/// A message on the engine's side of the boundary.
///
/// A message the host passed in with a `source` stays a view of the host's
/// copy until something reads its text (which is then copied once) or
/// changes it; sent on unchanged, it goes back as that token, so a guest
/// forwarding what it received costs no copy of any string on either side.
#[derive(Clone)]
pub struct HostMessage {
    data: Bytes,
    pub origin: Origin,
    /// Set while the message is unchanged from the host's copy; `data`'s
    /// owner keeps that copy alive, so `data` never changes while it is set.
    source: Option<Source>,
    fields: OnceLock<Fields>,
}

impl std::fmt::Debug for HostMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostMessage").field("data", &self.data).field("fields", self.fields()).finish()
    }
}

impl HostMessage {
    pub fn new(data: Bytes) -> HostMessage {
        HostMessage::with_fields(data, Fields::default())
    }

    pub fn with_fields(data: Bytes, fields: Fields) -> HostMessage {
        HostMessage { data, origin: Origin::none(), source: None, fields: OnceLock::from(fields) }
    }

    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The message's text, copied from the host's message on first use.
    pub fn fields(&self) -> &Fields {
        self.fields.get_or_init(|| match &self.source {
            // SAFETY: `source` is set only while `data` (whose owner holds
            // the host's message) is the host's.
            Some(s) => unsafe { s.read() },
            None => Fields::default(),
        })
    }

    /// The text to change: the message is no longer the host's.
    pub fn fields_mut(&mut self) -> &mut Fields {
        self.fields();
        self.source = None;
        self.fields.get_mut().expect("initialized above")
    }

    pub fn set_data(&mut self, data: Bytes) {
        self.fields();
        self.source = None;
        self.data = data;
    }

    /// Takes a message the host passed: its data, and its strings (copied
    /// now, or on first use when the host gave its own copy as `source`).
    ///
    /// # Safety
    /// `m` must follow the header's contract; its data is not used again.
    pub unsafe fn take(m: &FeMessage) -> HostMessage {
        let data = unsafe { m.data.take() };
        let source = Source {
            token: m.source,
            topic: m.topic,
            has_content_type: m.has_content_type,
            content_type: m.content_type,
            metadata: m.metadata,
            metadata_len: m.metadata_len,
            reply_to: m.reply_to,
        };
        if m.source.is_null() || m.data.release.is_none() {
            // No copy of the host's to point into: the strings are copied
            // before the call returns.
            let fields = unsafe { source.read() };
            return HostMessage { data, origin: Origin(m.origin), source: None, fields: OnceLock::from(fields) };
        }
        HostMessage { data, origin: Origin(m.origin), source: Some(source), fields: OnceLock::new() }
    }
}

/// A message lent to the host for one callback: the strings point into
/// `self`, the data is handed over.
pub struct Lent<'a> {
    pairs: Vec<FePair>,
    message: &'a HostMessage,
}

impl<'a> Lent<'a> {
    pub fn new(message: &'a HostMessage) -> Lent<'a> {
        let pairs = if message.source.is_some() { Vec::new() } else { message.fields().metadata.pairs() };
        Lent { pairs, message }
    }

    /// The view to pass; valid while `self` lives. Each call hands over a
    /// new reference to the data, or, for a message unchanged since the
    /// host passed it, the host's own copy as `source` (and no data).
    pub fn view(&self) -> FeMessage {
        let m = self.message;
        if let Some(s) = &m.source {
            return FeMessage {
                topic: s.topic,
                data: FeBuffer { ptr: std::ptr::null(), len: 0, owner: std::ptr::null_mut(), release: None },
                has_content_type: s.has_content_type,
                content_type: s.content_type,
                metadata: s.metadata,
                metadata_len: s.metadata_len,
                reply_to: s.reply_to,
                origin: std::ptr::null_mut(),
                source: s.token,
            };
        }
        let f = m.fields();
        FeMessage {
            topic: FeStr::of(f.topic.as_deref().unwrap_or("")),
            data: FeBuffer::give(m.data.clone()),
            has_content_type: f.content_type.is_some(),
            content_type: FeStr::of(f.content_type.as_deref().unwrap_or("")),
            metadata: self.pairs.as_ptr(),
            metadata_len: self.pairs.len(),
            reply_to: FeStr::of(&f.reply_to),
            origin: std::ptr::null_mut(),
            source: std::ptr::null_mut(),
        }
    }
}

/// The interface error a host callback reported.
#[derive(Clone, Debug, Default)]
pub struct HostError {
    pub kind: u32,
    pub message: String,
    pub full: String,
}

pub const FE_ERROR_TIMEOUT: u32 = 1;
pub const FE_ERROR_CONNECTION: u32 = 2;
pub const FE_ERROR_PERMISSION_DENIED: u32 = 3;
pub const FE_ERROR_OTHER: u32 = 4;

impl HostError {
    pub fn other(text: impl Into<String>) -> HostError {
        let message: String = text.into();
        HostError { kind: FE_ERROR_OTHER, full: message.clone(), message }
    }
}

/// `fe_error` of the header.
pub struct ErrorSlot(pub Option<HostError>);

#[unsafe(no_mangle)]
pub extern "C" fn fe_error_set(err: *mut ErrorSlot, kind: u32, message: FeStr, full: FeStr) {
    if err.is_null() {
        return;
    }
    let kind = if (FE_ERROR_TIMEOUT..=FE_ERROR_OTHER).contains(&kind) { kind } else { FE_ERROR_OTHER };
    unsafe {
        (*err).0 = Some(HostError { kind, message: message.to_string(), full: full.to_string() });
    }
}

/// `fe_message_sink` of the header.
pub struct MessageSink(pub Vec<HostMessage>);

#[unsafe(no_mangle)]
pub extern "C" fn fe_message_sink_push(sink: *mut MessageSink, message: *const FeMessage) {
    if sink.is_null() || message.is_null() {
        return;
    }
    unsafe { (*sink).0.push(HostMessage::take(&*message)) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static RELEASED: AtomicUsize = AtomicUsize::new(0);
    extern "C" fn count_release(_: *mut c_void) {
        RELEASED.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn host_buffers_are_shared_not_copied_and_released_once() {
        let backing = vec![1u8, 2, 3];
        let buf = FeBuffer {
            ptr: backing.as_ptr(),
            len: backing.len(),
            owner: std::ptr::null_mut(),
            release: Some(count_release),
        };
        let before = RELEASED.load(Ordering::SeqCst);
        let bytes = unsafe { buf.take() };
        assert_eq!(bytes.as_ptr(), backing.as_ptr());
        let clone = bytes.clone();
        drop(bytes);
        assert_eq!(RELEASED.load(Ordering::SeqCst), before);
        drop(clone);
        assert_eq!(RELEASED.load(Ordering::SeqCst), before + 1);
    }

    #[test]
    fn given_buffers_point_at_the_same_bytes() {
        let bytes = Bytes::from(vec![9u8; 100]);
        let given = FeBuffer::give(bytes.clone());
        assert_eq!(given.ptr, bytes.as_ptr());
        assert_eq!(given.len, 100);
        (given.release.unwrap())(given.owner);
    }

    /// A host message as the C++ host lends one: strings in storage that
    /// the data's owner keeps alive, and that storage as `source`.
    struct HostCopy {
        topic: String,
        key: String,
        value: String,
        pairs: Vec<FePair>,
        payload: Vec<u8>,
    }

    extern "C" fn drop_host_copy(owner: *mut c_void) {
        drop(unsafe { Box::from_raw(owner as *mut HostCopy) });
    }

    fn lend(topic: &str, key: &str, value: &str, payload: &[u8]) -> (FeMessage, *mut c_void) {
        let mut copy = Box::new(HostCopy {
            topic: topic.into(),
            key: key.into(),
            value: value.into(),
            pairs: Vec::new(),
            payload: payload.to_vec(),
        });
        copy.pairs = vec![FePair { key: FeStr::of(&copy.key), value: FeStr::of(&copy.value) }];
        let m = FeMessage {
            topic: FeStr::of(&copy.topic),
            data: FeBuffer { ptr: copy.payload.as_ptr(), len: copy.payload.len(), owner: std::ptr::null_mut(), release: None },
            has_content_type: false,
            content_type: FeStr::of(""),
            metadata: copy.pairs.as_ptr(),
            metadata_len: copy.pairs.len(),
            reply_to: FeStr::of(""),
            origin: std::ptr::null_mut(),
            source: std::ptr::null_mut(),
        };
        let token = Box::into_raw(copy) as *mut c_void;
        let m = FeMessage { data: FeBuffer { owner: token, release: Some(drop_host_copy), ..m.data }, source: token, ..m };
        (m, token)
    }

    #[test]
    fn an_unchanged_message_goes_back_as_the_hosts_own_copy() {
        let (lent, token) = lend("orders.new", "k", "v", b"payload");
        let m = unsafe { HostMessage::take(&lent) };
        let view = Lent::new(&m).view();
        assert_eq!(view.source, token);
        assert!(view.data.release.is_none() && view.data.len == 0, "the host's copy carries the data");
        // Reading the text copies it and leaves the message the host's.
        assert_eq!(m.fields().topic.as_deref(), Some("orders.new"));
        assert_eq!(m.fields().metadata.get("k"), Some("v"));
        assert_eq!(Lent::new(&m).view().source, token);
    }

    #[test]
    fn a_changed_message_goes_back_with_its_own_fields_and_data() {
        let (lent, _) = lend("orders.new", "k", "v", b"payload");
        let mut changed_text = unsafe { HostMessage::take(&lent) };
        let mut changed_data = changed_text.clone();
        changed_text.fields_mut().metadata.set("k".into(), "w".into());
        changed_data.set_data(Bytes::from_static(b"other"));
        for (m, data, value) in [(&changed_text, &b"payload"[..], "w"), (&changed_data, &b"other"[..], "v")] {
            let lent = Lent::new(m);
            let view = lent.view();
            assert!(view.source.is_null());
            assert_eq!(unsafe { view.data.take() }.as_ref(), data);
            let pairs = unsafe { std::slice::from_raw_parts(view.metadata, view.metadata_len) };
            assert_eq!(unsafe { pairs[0].value.to_string() }, value);
            assert_eq!(unsafe { view.topic.to_string() }, "orders.new");
        }
    }

    #[test]
    fn a_message_without_an_owner_is_copied_at_once() {
        let (mut lent, token) = lend("orders.new", "k", "v", b"");
        // No release: nothing keeps the host's copy alive after the call.
        lent.data = FeBuffer { ptr: std::ptr::null(), len: 0, owner: std::ptr::null_mut(), release: None };
        let m = unsafe { HostMessage::take(&lent) };
        drop_host_copy(token);
        assert!(Lent::new(&m).view().source.is_null());
        assert_eq!(m.fields().topic.as_deref(), Some("orders.new"));
    }

    #[test]
    fn metadata_keeps_keys_unique_and_later_duplicates_win() {
        let md = Metadata::assign(vec![
            ("k".into(), "1".into()),
            ("a".into(), "".into()),
            ("k".into(), "2".into()),
        ]);
        assert_eq!(md.0, vec![("k".to_string(), "2".to_string()), ("a".to_string(), String::new())]);
        assert_eq!(md.byte_size(), 3);
        assert_eq!(md.get("a"), Some(""));
    }
}
