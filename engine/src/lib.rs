//! Ferry's WebAssembly engine: typed host bindings for each published shape
//! of wasi:messaging, generated from wit/ by Wasmtime's `bindgen!`, behind
//! the C ABI of `include/ferry_engine.h`. The C++ host owns everything
//! else: brokers, delivery policy, configuration, the command line.

pub mod abi;
mod api;
pub mod clock;
pub mod concurrent;
pub mod draft2025;
pub mod draft_async;
pub mod host;
pub mod http;
mod instance;

pub const FE_VERDICT_NONE: u8 = 0;
pub const FE_VERDICT_COMPLETE: u8 = 1;
pub const FE_VERDICT_ABANDON: u8 = 2;

/// wasi:messaging@0.1.0.
pub mod v010 {
    wasmtime::component::bindgen!({
        path: "../wit/messaging-0.1.0",
        world: "messaging",
        imports: { default: trappable },
        with: {
            "wasi:messaging/messaging-types.client": crate::host::Client,
            "wasi:messaging/messaging-types.error": crate::host::GuestError,
        },
    });
    include!("v010_impl.rs");
}

/// The same interfaces as published in February 2024 as 0.2.0-draft.
pub mod v2024 {
    wasmtime::component::bindgen!({
        path: "../wit/messaging-0.2.0-draft-2024-02",
        world: "messaging",
        imports: { default: trappable },
        with: {
            "wasi:messaging/messaging-types.client": crate::host::Client,
            "wasi:messaging/messaging-types.error": crate::host::GuestError,
        },
    });
    include!("v010_impl.rs");
}

/// The reserved metadata keys of 0.1.0 records, and delivery tags.
pub mod v010_keys {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    pub const CHANNEL: &str = "channel";
    pub const DELIVERY: &str = "ferry-delivery";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const REPLY_TO: &str = "reply-to";
    pub const FORMAT: &str = "format-spec";
    /// Dropped from a message's own metadata before the host adds its values.
    pub const RESERVED_IN: [&str; 4] = [CHANNEL, DELIVERY, REPLY_TO, CONTENT_TYPE];
    /// Dropped from what a guest sends: a guest cannot forge them.
    pub const RESERVED_OUT: [&str; 4] = [CHANNEL, DELIVERY, REPLY_TO, FORMAT];

    /// A tag no other delivery of this process carries.
    pub fn new_tag() -> String {
        static NONCE: OnceLock<u64> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nonce = *NONCE.get_or_init(|| std::collections::hash_map::RandomState::new().build_hasher().finish());
        format!("{nonce:016x}-{}", COUNTER.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// An error the engine itself gives a 0.1.0 guest, worded like the
    /// host's (`code: message`).
    pub fn error(code: &str, message: String) -> crate::abi::HostError {
        let kind = if code == "timeout" { crate::abi::FE_ERROR_TIMEOUT } else { crate::abi::FE_ERROR_OTHER };
        crate::abi::HostError { kind, full: format!("{code}: {message}"), message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{HostMessage, Metadata};

    fn message() -> HostMessage {
        let mut m = HostMessage::new(bytes::Bytes::from_static(b"hi"));
        let f = m.fields_mut();
        f.topic = Some("orders.new".into());
        f.content_type = Some("text/plain".into());
        f.reply_to = "_INBOX.1".into();
        f.metadata = Metadata::assign(vec![
            ("k".into(), "v".into()),
            ("channel".into(), "forged".into()),
            ("format-spec".into(), "kafka".into()),
        ]);
        m
    }

    #[test]
    fn records_carry_topic_tag_content_type_and_reply_address_in_metadata() {
        let r = v010::to_record(&message(), "t1");
        assert_eq!(r.data, b"hi");
        assert!(matches!(r.format, v010::wasi::messaging::messaging_types::FormatSpec::Kafka));
        let md = r.metadata.unwrap();
        let get = |k: &str| md.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("channel"), Some("orders.new"));
        assert_eq!(get("ferry-delivery"), Some("t1"));
        assert_eq!(get("content-type"), Some("text/plain"));
        assert_eq!(get("reply-to"), Some("_INBOX.1"));
        assert_eq!(get("k"), Some("v"));
        assert_eq!(get("format-spec"), None);
    }

    #[test]
    fn records_sent_lose_the_keys_a_guest_may_not_forge() {
        let r = v2024::to_record(&message(), "t1");
        let m = v2024::from_record(r);
        let m = m.fields();
        assert_eq!(m.content_type.as_deref(), Some("text/plain"));
        assert_eq!(m.metadata.get("channel"), None);
        assert_eq!(m.metadata.get("ferry-delivery"), None);
        assert_eq!(m.metadata.get("reply-to"), None);
        assert_eq!(m.metadata.get("format-spec"), Some("kafka"));
        assert_eq!(m.metadata.get("k"), Some("v"));
        assert!(m.topic.is_none());
    }

    #[test]
    fn delivery_tags_are_unique() {
        let a = v010_keys::new_tag();
        let b = v010_keys::new_tag();
        assert_ne!(a, b);
        assert_eq!(a.split('-').next(), b.split('-').next());
    }
}
