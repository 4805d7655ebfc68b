// The host side of the 0.1.0 interfaces (messaging-types, producer,
// consumer). Included by `v010` and `v2024` right after their bindgen!, so
// the same code serves both publications of these interfaces.
//
// A 0.1.0 message is a record {data, format, metadata} with no topic,
// content type or handle, so the host keeps those in metadata under reserved
// keys (docs/INTERFACES.md): `channel` and `ferry-delivery` (the tag
// complete-message and abandon-message find a message by) on delivery,
// `content-type` and `reply-to` both ways, `format-spec` for a format other
// than raw. On send the host drops the keys a guest may not forge.

use wasmtime::component::{HasSelf, Linker, Resource};

use crate::abi::{HostMessage, Metadata};
use crate::host::{Client, GuestError, HostState, CallDelivery};
use wasi::messaging::messaging_types::{FormatSpec, GuestConfiguration, Message};

pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    Messaging::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}

const FORMATS: [(FormatSpec, &str); 6] = [
    (FormatSpec::Cloudevents, "cloudevents"),
    (FormatSpec::Http, "http"),
    (FormatSpec::Amqp, "amqp"),
    (FormatSpec::Mqtt, "mqtt"),
    (FormatSpec::Kafka, "kafka"),
    (FormatSpec::Raw, "raw"),
];

fn format_name(f: FormatSpec) -> &'static str {
    FORMATS.iter().find(|(k, _)| *k == f).map_or("raw", |(_, n)| n)
}

/// The record a guest receives for `m`, tagged with `tag` (none if empty).
pub fn to_record(m: &HostMessage, tag: &str) -> Message {
    let mut format = FormatSpec::Raw;
    let f = m.fields();
    let mut entries = Vec::with_capacity(f.metadata.0.len() + 4);
    for (k, v) in &f.metadata.0 {
        if k == crate::v010_keys::FORMAT {
            if let Some((f, _)) = FORMATS.iter().find(|(_, n)| n == v) {
                format = *f;
                continue;
            }
        }
        // Reserved keys come from the host only.
        if crate::v010_keys::RESERVED_IN.contains(&k.as_str()) {
            continue;
        }
        entries.push((k.clone(), v.clone()));
    }
    entries.push((crate::v010_keys::CHANNEL.into(), f.topic.clone().unwrap_or_default()));
    if !tag.is_empty() {
        entries.push((crate::v010_keys::DELIVERY.into(), tag.into()));
    }
    if let Some(ct) = &f.content_type {
        entries.push((crate::v010_keys::CONTENT_TYPE.into(), ct.clone()));
    }
    if !f.reply_to.is_empty() {
        entries.push((crate::v010_keys::REPLY_TO.into(), f.reply_to.clone()));
    }
    Message { data: m.data().to_vec(), format, metadata: Some(Metadata::assign(entries).0) }
}

/// The message a guest's record describes (no topic).
pub fn from_record(r: Message) -> HostMessage {
    let data = bytes::Bytes::from(r.data);
    let mut fields = crate::abi::Fields::default();
    let mut md = Metadata::assign(r.metadata.unwrap_or_default());
    for key in crate::v010_keys::RESERVED_OUT {
        md.remove(key);
    }
    if let Some(ct) = md.get(crate::v010_keys::CONTENT_TYPE) {
        fields.content_type = Some(ct.to_string());
        md.remove(crate::v010_keys::CONTENT_TYPE);
    }
    if r.format != FormatSpec::Raw {
        md.set(crate::v010_keys::FORMAT.into(), format_name(r.format).into());
    }
    fields.metadata = md;
    HostMessage::with_fields(data, fields)
}

fn tag_of(r: &Message) -> Option<&str> {
    r.metadata.as_ref()?.iter().find(|(k, _)| k == crate::v010_keys::DELIVERY).map(|(_, v)| v.as_str())
}

/// The host-side operations of this shape, kept apart from the trait
/// implementations (both shapes' modules implement the same traits on
/// HostState, so these cannot be its inherent methods).
trait V010State {
    fn error_resource(&mut self, e: crate::abi::HostError) -> wasmtime::Result<Resource<GuestError>>;
    fn pulled_records(&mut self, messages: Vec<HostMessage>) -> Vec<Message>;
    fn settle(&mut self, r: &Message, verdict: u8) -> Result<(), crate::abi::HostError>;
}

impl V010State for HostState {
    /// result<_, error>'s error: a resource the guest owns, and from now on
    /// the text trace() returns.
    fn error_resource(&mut self, e: crate::abi::HostError) -> wasmtime::Result<Resource<GuestError>> {
        self.last_error = e.full.clone();
        self.push_error(GuestError(e.full))
    }

    fn pulled_records(&mut self, messages: Vec<HostMessage>) -> Vec<Message> {
        messages
            .iter()
            .map(|m| {
                let tag = crate::v010_keys::new_tag();
                let record = to_record(m, &tag);
                self.call.push(CallDelivery { tag, verdict: crate::FE_VERDICT_NONE, pulled: true });
                record
            })
            .collect()
    }

    fn settle(&mut self, r: &Message, verdict: u8) -> Result<(), crate::abi::HostError> {
        let verb = if verdict == crate::FE_VERDICT_COMPLETE { "complete" } else { "abandon" };
        let Some(tag) = tag_of(r) else {
            return Err(crate::v010_keys::error("not found", format!(
                "cannot {verb} a message without a ferry-delivery tag: it was not delivered to this component"
            )));
        };
        let Some(d) = self.call.iter_mut().find(|d| d.tag == tag) else {
            return Err(crate::v010_keys::error("not found", format!(
                "cannot {verb} message {tag}: it was not delivered to this handler call"
            )));
        };
        if d.verdict != crate::FE_VERDICT_NONE {
            let done = if d.verdict == crate::FE_VERDICT_COMPLETE { "completed" } else { "abandoned" };
            return Err(crate::v010_keys::error("failed precondition", format!("message {tag} was already {done}")));
        }
        if d.pulled && verdict == crate::FE_VERDICT_ABANDON {
            return Err(crate::v010_keys::error("unsupported", format!(
                "message {tag} came from subscribe-receive, which consumes what it returns; it cannot be abandoned"
            )));
        }
        d.verdict = verdict;
        Ok(())
    }
}

impl wasi::messaging::messaging_types::Host for HostState {}

impl wasi::messaging::messaging_types::HostClient for HostState {
    fn connect(&mut self, name: String) -> wasmtime::Result<Result<Resource<Client>, Resource<GuestError>>> {
        let pushed = self
            .link
            .connect(&name)
            .and_then(|token| self.push_client(Client { name, token, connected: true }));
        match pushed {
            Ok(c) => Ok(Ok(c)),
            Err(e) => Ok(Err(self.error_resource(e)?)),
        }
    }

    fn drop(&mut self, c: Resource<Client>) -> wasmtime::Result<()> {
        self.take_client(c)?;
        Ok(())
    }
}

impl wasi::messaging::messaging_types::HostError for HostState {
    fn trace(&mut self) -> wasmtime::Result<String> {
        Ok(self.last_error.clone())
    }

    fn drop(&mut self, e: Resource<GuestError>) -> wasmtime::Result<()> {
        self.take_error(e)?;
        Ok(())
    }
}

impl wasi::messaging::producer::Host for HostState {
    fn send(&mut self, c: Resource<Client>, ch: String, m: Vec<Message>) -> wasmtime::Result<Result<(), Resource<GuestError>>> {
        // The 0.1.0 functions take the client by value.
        let client = self.take_client(c)?;
        let messages: Vec<HostMessage> = m.into_iter().map(from_record).collect();
        match self.link.send(client.token, &ch, &messages) {
            Ok(()) => Ok(Ok(())),
            Err(e) => Ok(Err(self.error_resource(e)?)),
        }
    }
}

impl wasi::messaging::consumer::Host for HostState {
    fn subscribe_try_receive(
        &mut self,
        c: Resource<Client>,
        ch: String,
        t_milliseconds: u32,
    ) -> wasmtime::Result<Result<Option<Vec<Message>>, Resource<GuestError>>> {
        let client = self.take_client(c)?;
        match self.link.pull(client.token, &ch, t_milliseconds) {
            Ok(got) if got.is_empty() => Ok(Ok(None)),
            Ok(got) => Ok(Ok(Some(self.pulled_records(got)))),
            Err(e) => Ok(Err(self.error_resource(e)?)),
        }
    }

    fn subscribe_receive(&mut self, c: Resource<Client>, ch: String) -> wasmtime::Result<Result<Vec<Message>, Resource<GuestError>>> {
        let client = self.take_client(c)?;
        // Waits as long as it may: the host bounds the pull by the call's deadline.
        match self.link.pull(client.token, &ch, u32::MAX) {
            Ok(got) if got.is_empty() => {
                let e = crate::v010_keys::error(
                    "timeout",
                    format!("no message arrived on {ch} before the handler call's deadline"),
                );
                Ok(Err(self.error_resource(e)?))
            }
            Ok(got) => Ok(Ok(self.pulled_records(got))),
            Err(e) => Ok(Err(self.error_resource(e)?)),
        }
    }

    fn update_guest_configuration(&mut self, gc: GuestConfiguration) -> wasmtime::Result<Result<(), Resource<GuestError>>> {
        let extensions = Metadata::assign(gc.extensions.unwrap_or_default());
        match self.link.reconfigure(&gc.channels, &extensions) {
            Ok(()) => Ok(Ok(())),
            Err(e) => Ok(Err(self.error_resource(e)?)),
        }
    }

    fn complete_message(&mut self, m: Message) -> wasmtime::Result<Result<(), Resource<GuestError>>> {
        match self.settle(&m, crate::FE_VERDICT_COMPLETE) {
            Ok(()) => Ok(Ok(())),
            Err(e) => Ok(Err(self.error_resource(e)?)),
        }
    }

    fn abandon_message(&mut self, m: Message) -> wasmtime::Result<Result<(), Resource<GuestError>>> {
        match self.settle(&m, crate::FE_VERDICT_ABANDON) {
            Ok(()) => Ok(Ok(())),
            Err(e) => Ok(Err(self.error_resource(e)?)),
        }
    }
}

/// configure(): the channels and extensions, or the guest's error text.
pub fn configure(
    bindings: &Messaging,
    store: &mut wasmtime::Store<HostState>,
) -> wasmtime::Result<Result<(Vec<String>, Metadata), String>> {
    let guest = bindings.wasi_messaging_messaging_guest();
    Ok(match guest.call_configure(&mut *store)? {
        Ok(gc) => Ok((gc.channels, Metadata::assign(gc.extensions.unwrap_or_default()))),
        Err(e) => Err(guest_error_text(store, e, "configure")),
    })
}

/// handler(list<message>): the guest's error text on failure. Verdicts are
/// left in the store's `call`.
pub fn handler(
    bindings: &Messaging,
    store: &mut wasmtime::Store<HostState>,
    messages: Vec<HostMessage>,
) -> wasmtime::Result<Result<(), String>> {
    let state = store.data_mut();
    state.call.clear();
    let mut records = Vec::with_capacity(messages.len());
    for m in &messages {
        let tag = crate::v010_keys::new_tag();
        records.push(to_record(m, &tag));
        state.call.push(CallDelivery { tag, verdict: crate::FE_VERDICT_NONE, pulled: false });
    }
    drop(messages);
    let guest = bindings.wasi_messaging_messaging_guest();
    Ok(match guest.call_handler(&mut *store, &records)? {
        Ok(()) => Ok(()),
        Err(e) => Err(guest_error_text(store, e, "handler")),
    })
}

/// The text behind the error resource a guest returned.
fn guest_error_text(store: &mut wasmtime::Store<HostState>, e: Resource<GuestError>, what: &str) -> String {
    let text = store.data_mut().take_error(e).map(|g| g.0).unwrap_or_default();
    if text.is_empty() {
        format!("{what} returned an error")
    } else {
        format!("{what} returned an error: {text}")
    }
}
