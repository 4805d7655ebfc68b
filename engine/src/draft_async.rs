//! wasi:messaging@0.2.0-draft, async variant (WASI 0.3): the same interfaces
//! as `draft2025` with `client.connect`, `producer.send`,
//! `request-reply.request`/`reply` and `incoming-handler.handle` declared
//! `async`. The synchronous methods do what the 2025 shape's do (they call
//! its implementation); the async ones start the operation in the C++ host
//! and suspend the guest task until the host finishes it, so no thread waits.

use wasmtime::component::{Accessor, HasSelf, Linker, Resource};
use std::ffi::c_void;

use wasmtime::{AsContextMut, StoreContextMut};

use crate::abi::HostMessage;
use crate::draft2025::wasi::messaging as sync;
use crate::host::{Client, ClientToken, Finished, HostState, RequestOptions};

wasmtime::component::bindgen!({
    path: "../wit/messaging-0.2.0-draft-async",
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
    // As for the 2025 shape: message.data() lowers the shared payload
    // straight into guest memory.
    linker.allow_shadowing(true);
    linker.instance(TYPES)?.func_wrap(
        "[method]message.data",
        |store: StoreContextMut<'_, HostState>, (m,): (Resource<HostMessage>,)| -> wasmtime::Result<(bytes::Bytes,)> {
            Ok((store.data().message(&m)?.data().clone(),))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// This shape's error for the 2025 shape's (the same cases).
fn convert(e: sync::types::Error) -> Error {
    match e {
        sync::types::Error::Timeout => Error::Timeout,
        sync::types::Error::Connection(s) => Error::Connection(s),
        sync::types::Error::PermissionDenied(s) => Error::PermissionDenied(s),
        sync::types::Error::Other(s) => Error::Other(s),
    }
}

fn to_error(e: crate::abi::HostError) -> Error {
    convert(crate::draft2025::to_error(e))
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

fn connected(state: &HostState, c: &Resource<Client>) -> wasmtime::Result<Result<ClientToken, Error>> {
    let client: &Client = state.table.get(c)?;
    if !client.connected {
        return Ok(Err(Error::Connection(format!("client '{}' is disconnected", client.name))));
    }
    Ok(Ok(client.token))
}

/// The host's context of the handle call whose guest task is calling an
/// import: the root of the async call stack, recorded when the call started
/// (concurrent::run_call). Null when the task is not a call in flight (it
/// returned, and the guest goes on running).
fn calling(mut store: StoreContextMut<'_, HostState>) -> *mut c_void {
    let root = store.async_call_stack().ok().and_then(|stack| stack.last());
    root.and_then(|task| store.data().call_contexts.get(&task).copied())
        .map_or(std::ptr::null_mut(), |address| address as *mut c_void)
}

/// What the guest gets once the host finished an operation it started.
async fn finished(rx: tokio::sync::oneshot::Receiver<Finished>) -> Result<Vec<HostMessage>, Error> {
    match rx.await {
        Ok(Ok(replies)) => Ok(replies),
        Ok(Err(e)) => Err(to_error(e)),
        Err(_) => Err(Error::Other("the host dropped the operation".into())),
    }
}

impl wasi::messaging::types::Host for HostState {}

impl wasi::messaging::types::HostClientWithStore<HostState> for HasSelf<HostState> {
    async fn connect(accessor: &Accessor<HostState, Self>, name: String) -> wasmtime::Result<Result<Resource<Client>, Error>> {
        // Resolving a name is a lookup in the host's configuration: nothing to wait for.
        accessor.with(|mut access| {
            let state: &mut HostState = access.get();
            Ok(sync::types::HostClient::connect(state, name)?.map_err(convert))
        })
    }
}

impl wasi::messaging::types::HostClient for HostState {
    fn disconnect(&mut self, c: Resource<Client>) -> wasmtime::Result<Result<(), Error>> {
        Ok(sync::types::HostClient::disconnect(self, c)?.map_err(convert))
    }

    fn drop(&mut self, c: Resource<Client>) -> wasmtime::Result<()> {
        sync::types::HostClient::drop(self, c)
    }
}

impl wasi::messaging::types::HostMessage for HostState {
    fn new(&mut self, data: Vec<u8>) -> wasmtime::Result<Resource<HostMessage>> {
        sync::types::HostMessage::new(self, data)
    }

    fn topic(&mut self, m: Resource<HostMessage>) -> wasmtime::Result<Option<String>> {
        sync::types::HostMessage::topic(self, m)
    }

    fn content_type(&mut self, m: Resource<HostMessage>) -> wasmtime::Result<Option<String>> {
        sync::types::HostMessage::content_type(self, m)
    }

    fn set_content_type(&mut self, m: Resource<HostMessage>, content_type: String) -> wasmtime::Result<()> {
        sync::types::HostMessage::set_content_type(self, m, content_type)
    }

    fn data(&mut self, m: Resource<HostMessage>) -> wasmtime::Result<Vec<u8>> {
        sync::types::HostMessage::data(self, m)
    }

    fn set_data(&mut self, m: Resource<HostMessage>, data: Vec<u8>) -> wasmtime::Result<()> {
        sync::types::HostMessage::set_data(self, m, data)
    }

    fn metadata(&mut self, m: Resource<HostMessage>) -> wasmtime::Result<Option<Vec<(String, String)>>> {
        sync::types::HostMessage::metadata(self, m)
    }

    fn add_metadata(&mut self, m: Resource<HostMessage>, key: String, value: String) -> wasmtime::Result<()> {
        sync::types::HostMessage::add_metadata(self, m, key, value)
    }

    fn set_metadata(&mut self, m: Resource<HostMessage>, meta: Vec<(String, String)>) -> wasmtime::Result<()> {
        sync::types::HostMessage::set_metadata(self, m, meta)
    }

    fn remove_metadata(&mut self, m: Resource<HostMessage>, key: String) -> wasmtime::Result<()> {
        sync::types::HostMessage::remove_metadata(self, m, key)
    }

    fn drop(&mut self, m: Resource<HostMessage>) -> wasmtime::Result<()> {
        sync::types::HostMessage::drop(self, m)
    }
}

impl wasi::messaging::producer::Host for HostState {}

impl wasi::messaging::producer::HostWithStore<HostState> for HasSelf<HostState> {
    async fn send(
        accessor: &Accessor<HostState, Self>,
        c: Resource<Client>,
        topic: String,
        message: Resource<HostMessage>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let started = accessor.with(|mut access| -> wasmtime::Result<_> {
            let call = calling(access.as_context_mut());
            let state: &mut HostState = access.get();
            let message = state.take_message(message)?;
            Ok(connected(state, &c)?.map(|token| state.link.send_async(call, token, &topic, &message)))
        })?;
        Ok(match started {
            Ok(rx) => finished(rx).await.map(|_| ()),
            Err(e) => Err(e),
        })
    }
}

impl wasi::messaging::request_reply::HostRequestOptions for HostState {
    fn new(&mut self) -> wasmtime::Result<Resource<RequestOptions>> {
        sync::request_reply::HostRequestOptions::new(self)
    }

    fn set_timeout_ms(&mut self, o: Resource<RequestOptions>, timeout_ms: u32) -> wasmtime::Result<()> {
        sync::request_reply::HostRequestOptions::set_timeout_ms(self, o, timeout_ms)
    }

    fn set_expected_replies(&mut self, o: Resource<RequestOptions>, expected: u32) -> wasmtime::Result<()> {
        sync::request_reply::HostRequestOptions::set_expected_replies(self, o, expected)
    }

    fn drop(&mut self, o: Resource<RequestOptions>) -> wasmtime::Result<()> {
        sync::request_reply::HostRequestOptions::drop(self, o)
    }
}

impl wasi::messaging::request_reply::Host for HostState {}

impl wasi::messaging::request_reply::HostWithStore<HostState> for HasSelf<HostState> {
    async fn request(
        accessor: &Accessor<HostState, Self>,
        c: Resource<Client>,
        topic: String,
        message: Resource<HostMessage>,
        options: Option<Resource<RequestOptions>>,
    ) -> wasmtime::Result<Result<Vec<Resource<HostMessage>>, Error>> {
        let started = accessor.with(|mut access| -> wasmtime::Result<_> {
            let call = calling(access.as_context_mut());
            let state: &mut HostState = access.get();
            // The options are passed by value: the host owns them from here on.
            let options = match options {
                Some(o) => state.take_options(o)?,
                None => RequestOptions::default(),
            };
            let request = state.message(&message)?.clone();
            Ok(connected(state, &c)?.map(|token| {
                state.link.request_async(call, token, &topic, &request, options.timeout_ms, options.expected_replies)
            }))
        })?;
        let replies = match started {
            Ok(rx) => match finished(rx).await {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            },
            Err(e) => return Ok(Err(e)),
        };
        accessor.with(|mut access| {
            let state: &mut HostState = access.get();
            // Replies the instance has no room for are refused as a whole.
            let bytes: usize = replies.iter().map(|r| r.data().len()).sum();
            if let Err(text) = state.message_room(bytes) {
                return Ok(Err(Error::Other(format!("{} replies arrived but {text}", replies.len()))));
            }
            let mut handles = Vec::with_capacity(replies.len());
            for reply in replies {
                match state.push_message(reply) {
                    Ok(h) => handles.push(h),
                    Err(_) => {
                        for h in handles {
                            state.take_message(h)?;
                        }
                        return Ok(Err(Error::Other(
                            "the replies are more messages than max_guest_messages lets the component hold".into(),
                        )));
                    }
                }
            }
            Ok(Ok(handles))
        })
    }

    async fn reply(
        accessor: &Accessor<HostState, Self>,
        original: Resource<HostMessage>,
        message: Resource<HostMessage>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let rx = accessor.with(|mut access| -> wasmtime::Result<_> {
            let call = calling(access.as_context_mut());
            let state: &mut HostState = access.get();
            let reply = state.take_message(message)?;
            let original = state.message(&original)?;
            Ok(state.link.reply_async(call, original, &reply))
        })?;
        Ok(finished(rx).await.map(|_| ()))
    }
}
