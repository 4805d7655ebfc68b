//! wasi:messaging@0.2.0-draft (2025): the host side of `types`, `producer`
//! and `request-reply`, generated from wit/ by bindgen, and the typed call
//! of `incoming-handler.handle`.

use bytes::Bytes;
use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime::StoreContextMut;

use crate::abi::{HostError, HostMessage, Metadata, FE_ERROR_CONNECTION, FE_ERROR_PERMISSION_DENIED, FE_ERROR_TIMEOUT};
use crate::host::{limit_trap, Client, HostState, RequestOptions};

wasmtime::component::bindgen!({
    path: "../wit/messaging-0.2.0-draft",
    world: "messaging-request-reply",
    imports: { default: trappable },
    with: {
        "wasi:messaging/types.client": crate::host::Client,
        "wasi:messaging/types.message": crate::abi::HostMessage,
        "wasi:messaging/request-reply.request-options": crate::host::RequestOptions,
    },
});

use wasi::messaging::types::Error;

const TYPES: &str = "wasi:messaging/types@0.2.0-draft";

/// Links this shape's interfaces (WASI is linked by the caller).
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    MessagingRequestReply::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    // bindgen's message.data() builds a Vec<u8>: one copy more than needed.
    // This definition lowers the shared payload straight into guest memory.
    linker.allow_shadowing(true);
    linker.instance(TYPES)?.func_wrap(
        "[method]message.data",
        |store: StoreContextMut<'_, HostState>, (m,): (Resource<HostMessage>,)| -> wasmtime::Result<(Bytes,)> {
            Ok((store.data().message(&m)?.data().clone(),))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The interface's error for one the host reported.
pub fn to_error(e: HostError) -> Error {
    match e.kind {
        FE_ERROR_TIMEOUT => Error::Timeout,
        FE_ERROR_CONNECTION => Error::Connection(e.message),
        FE_ERROR_PERMISSION_DENIED => Error::PermissionDenied(e.message),
        _ => Error::Other(e.full),
    }
}

/// One line for the error a guest's handler returned.
pub fn describe(e: &Error) -> String {
    match e {
        Error::Timeout => "handler returned error timeout".to_string(),
        Error::Connection(s) => format!("handler returned error connection: {s}"),
        Error::PermissionDenied(s) => format!("handler returned error permission-denied: {s}"),
        Error::Other(s) => format!("handler returned error other: {s}"),
    }
}

fn connected(state: &HostState, c: &Resource<Client>) -> wasmtime::Result<Result<crate::host::ClientToken, Error>> {
    let client: &Client = state.table.get(c)?;
    if !client.connected {
        return Ok(Err(Error::Connection(format!("client '{}' is disconnected", client.name))));
    }
    Ok(Ok(client.token))
}

impl wasi::messaging::types::Host for HostState {}

impl wasi::messaging::types::HostClient for HostState {
    fn connect(&mut self, name: String) -> wasmtime::Result<Result<Resource<Client>, Error>> {
        let token = match self.link.connect(&name) {
            Ok(t) => t,
            Err(e) => return Ok(Err(to_error(e))),
        };
        Ok(self.push_client(Client { name, token, connected: true }).map_err(to_error))
    }

    fn disconnect(&mut self, c: Resource<Client>) -> wasmtime::Result<Result<(), Error>> {
        // The broker connection is shared by every instance of the host; a
        // guest disconnecting ends only its own use of it.
        self.table.get_mut(&c)?.connected = false;
        Ok(Ok(()))
    }

    fn drop(&mut self, c: Resource<Client>) -> wasmtime::Result<()> {
        self.take_client(c)?;
        Ok(())
    }
}

impl wasi::messaging::types::HostMessage for HostState {
    fn new(&mut self, data: Vec<u8>) -> wasmtime::Result<Resource<HostMessage>> {
        if data.len() as u64 > self.limits.max_message_bytes {
            return Err(limit_trap(format!(
                "a message of {} bytes is over max_message_bytes ({})",
                data.len(),
                self.limits.max_message_bytes
            )));
        }
        self.push_message(HostMessage::new(Bytes::from(data)))
    }

    fn topic(&mut self, m: Resource<HostMessage>) -> wasmtime::Result<Option<String>> {
        Ok(self.message(&m)?.fields().topic.clone())
    }

    fn content_type(&mut self, m: Resource<HostMessage>) -> wasmtime::Result<Option<String>> {
        Ok(self.message(&m)?.fields().content_type.clone())
    }

    fn set_content_type(&mut self, m: Resource<HostMessage>, content_type: String) -> wasmtime::Result<()> {
        self.table.get_mut(&m)?.fields_mut().content_type = Some(content_type);
        Ok(())
    }

    fn data(&mut self, m: Resource<HostMessage>) -> wasmtime::Result<Vec<u8>> {
        // Shadowed in add_to_linker by a definition that does not copy.
        Ok(self.message(&m)?.data().to_vec())
    }

    fn set_data(&mut self, m: Resource<HostMessage>, data: Vec<u8>) -> wasmtime::Result<()> {
        self.set_message_data(&m, Bytes::from(data))
    }

    fn metadata(&mut self, m: Resource<HostMessage>) -> wasmtime::Result<Option<Vec<(String, String)>>> {
        let md = &self.message(&m)?.fields().metadata;
        Ok(if md.0.is_empty() { None } else { Some(md.0.clone()) })
    }

    fn add_metadata(&mut self, m: Resource<HostMessage>, key: String, value: String) -> wasmtime::Result<()> {
        let mut md = self.message(&m)?.fields().metadata.clone();
        md.set(key, value);
        self.replace_metadata(&m, md)
    }

    fn set_metadata(&mut self, m: Resource<HostMessage>, meta: Vec<(String, String)>) -> wasmtime::Result<()> {
        self.replace_metadata(&m, Metadata::assign(meta))
    }

    fn remove_metadata(&mut self, m: Resource<HostMessage>, key: String) -> wasmtime::Result<()> {
        self.table.get_mut(&m)?.fields_mut().metadata.remove(&key);
        Ok(())
    }

    fn drop(&mut self, m: Resource<HostMessage>) -> wasmtime::Result<()> {
        self.take_message(m)?;
        Ok(())
    }
}

impl HostState {
    fn replace_metadata(&mut self, m: &Resource<HostMessage>, md: Metadata) -> wasmtime::Result<()> {
        if md.byte_size() > self.limits.max_metadata_bytes {
            return Err(limit_trap(format!(
                "metadata of {} bytes is over max_metadata_bytes ({})",
                md.byte_size(),
                self.limits.max_metadata_bytes
            )));
        }
        self.table.get_mut(m)?.fields_mut().metadata = md;
        Ok(())
    }
}

impl wasi::messaging::producer::Host for HostState {
    fn send(&mut self, c: Resource<Client>, topic: String, message: Resource<HostMessage>) -> wasmtime::Result<Result<(), Error>> {
        let message = self.take_message(message)?;
        let token = match connected(self, &c)? {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self.link.send(token, &topic, std::slice::from_ref(&message)).map_err(to_error))
    }
}

impl wasi::messaging::request_reply::HostRequestOptions for HostState {
    fn new(&mut self) -> wasmtime::Result<Resource<RequestOptions>> {
        self.push_options(RequestOptions::default())
    }

    fn set_timeout_ms(&mut self, o: Resource<RequestOptions>, timeout_ms: u32) -> wasmtime::Result<()> {
        self.table.get_mut(&o)?.timeout_ms = Some(timeout_ms);
        Ok(())
    }

    fn set_expected_replies(&mut self, o: Resource<RequestOptions>, expected: u32) -> wasmtime::Result<()> {
        self.table.get_mut(&o)?.expected_replies = Some(expected);
        Ok(())
    }

    fn drop(&mut self, o: Resource<RequestOptions>) -> wasmtime::Result<()> {
        self.take_options(o)?;
        Ok(())
    }
}

impl wasi::messaging::request_reply::Host for HostState {
    fn request(
        &mut self,
        c: Resource<Client>,
        topic: String,
        message: Resource<HostMessage>,
        options: Option<Resource<RequestOptions>>,
    ) -> wasmtime::Result<Result<Vec<Resource<HostMessage>>, Error>> {
        // The options are passed by value: the host owns them from here on.
        let options = match options {
            Some(o) => self.take_options(o)?,
            None => RequestOptions::default(),
        };
        let token = match connected(self, &c)? {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        let request = self.message(&message)?.clone();
        let replies = match self.link.request(token, &topic, &request, options.timeout_ms, options.expected_replies) {
            Ok(r) => r,
            Err(e) => return Ok(Err(to_error(e))),
        };
        // Replies the instance has no room for are refused as a whole.
        let bytes: usize = replies.iter().map(|r| r.data().len()).sum();
        if let Err(text) = self.message_room(bytes) {
            return Ok(Err(Error::Other(format!("{} replies arrived but {text}", replies.len()))));
        }
        let mut handles = Vec::with_capacity(replies.len());
        for reply in replies {
            match self.push_message(reply) {
                Ok(h) => handles.push(h),
                Err(_) => {
                    for h in handles {
                        self.take_message(h)?;
                    }
                    return Ok(Err(Error::Other(
                        "the replies are more messages than max_guest_messages lets the component hold".into(),
                    )));
                }
            }
        }
        Ok(Ok(handles))
    }

    fn reply(&mut self, original: Resource<HostMessage>, message: Resource<HostMessage>) -> wasmtime::Result<Result<(), Error>> {
        let reply = self.take_message(message)?;
        // The host refuses a message without a reply address.
        let original = self.message(&original)?;
        Ok(self.link.reply(original, &reply).map_err(to_error))
    }
}
