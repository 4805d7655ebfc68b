//! The plain data of the C ABI (`include/ferry_engine.h`) and its
//! conversions to Rust types. Nothing here knows Wasmtime.

use std::ffi::c_void;

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

/// A message on the engine's side of the boundary.
#[derive(Clone, Debug)]
pub struct HostMessage {
    pub topic: Option<String>,
    pub data: Bytes,
    pub content_type: Option<String>,
    pub metadata: Metadata,
    pub reply_to: String,
    pub origin: Origin,
}

impl HostMessage {
    pub fn new(data: Bytes) -> HostMessage {
        HostMessage {
            topic: None,
            data,
            content_type: None,
            metadata: Metadata::default(),
            reply_to: String::new(),
            origin: Origin::none(),
        }
    }

    /// Copies the strings of a message the host passed and takes its data.
    ///
    /// # Safety
    /// `m` must follow the header's contract; its data is not used again.
    pub unsafe fn take(m: &FeMessage) -> HostMessage {
        let pairs = if m.metadata_len == 0 {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(m.metadata, m.metadata_len) }
        };
        let topic = unsafe { m.topic.to_string() };
        HostMessage {
            topic: if topic.is_empty() { None } else { Some(topic) },
            data: unsafe { m.data.take() },
            content_type: if m.has_content_type {
                Some(unsafe { m.content_type.to_string() })
            } else {
                None
            },
            metadata: Metadata::assign(
                pairs.iter().map(|p| unsafe { (p.key.to_string(), p.value.to_string()) }).collect(),
            ),
            reply_to: unsafe { m.reply_to.to_string() },
            origin: Origin(m.origin),
        }
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
        Lent { pairs: message.metadata.pairs(), message }
    }

    /// The view to pass; valid while `self` lives. Each call hands over a
    /// new reference to the data.
    pub fn view(&self) -> FeMessage {
        let m = self.message;
        FeMessage {
            topic: FeStr::of(m.topic.as_deref().unwrap_or("")),
            data: FeBuffer::give(m.data.clone()),
            has_content_type: m.content_type.is_some(),
            content_type: FeStr::of(m.content_type.as_deref().unwrap_or("")),
            metadata: self.pairs.as_ptr(),
            metadata_len: self.pairs.len(),
            reply_to: FeStr::of(&m.reply_to),
            origin: std::ptr::null_mut(),
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
