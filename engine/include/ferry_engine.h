/*
 * ferry_engine.h: the one boundary between Ferry's C++ host and its
 * WebAssembly engine (engine/, a Rust library on Wasmtime's typed API).
 *
 * The engine compiles components, links the host side of each
 * wasi:messaging shape (bindings generated from wit/ by bindgen) and of
 * wasi:http's outgoing-handler (wasmtime-wasi-http, held to the instance's
 * grants), and calls
 * the guest's exports. Everything the guest asks of the host that is not
 * bookkeeping of its own resources (connect, send, request, reply, pull,
 * reconfigure, output) comes back to C++ through `fe_host_vtable`.
 *
 * Conventions
 * - Every function is thread-safe unless it takes an `fe_instance*`: an
 *   instance (one Wasmtime store) belongs to one thread at a time.
 * - Strings are UTF-8 (pointer, length) pairs, never NUL-terminated, and
 *   borrowed for the duration of the call that receives them.
 * - Payloads cross as `fe_buffer`: a span plus an owner and its release
 *   function. Whoever receives an `fe_buffer` owns it and calls `release`
 *   exactly once (a NULL release means nothing to free). No payload is copied
 *   on either side of this boundary; the engine copies it once into guest
 *   memory and once out of it.
 * - A function that can fail returns NULL/false and, when `err` is not NULL,
 *   stores a one-line message there (free it with fe_text_free).
 *
 * ABI version: FE_ABI_VERSION; the host checks fe_abi_version() at start-up.
 */
#ifndef FERRY_ENGINE_H
#define FERRY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FE_ABI_VERSION 6u
uint32_t fe_abi_version(void);

/* ---- plain data ------------------------------------------------------- */

typedef struct fe_str {
  const char* ptr;
  size_t len;
} fe_str;

/* A string the engine allocated; the receiver frees it with fe_text_free. */
typedef struct fe_text {
  char* ptr;
  size_t len;
} fe_text;
void fe_text_free(fe_text* text);

typedef struct fe_buffer {
  const uint8_t* ptr;
  size_t len;
  void* owner;
  void (*release)(void* owner);
} fe_buffer;

typedef struct fe_pair {
  fe_str key;
  fe_str value;
} fe_pair;

/* A message crossing the boundary. `data` passes to the receiver; all
 * strings are borrowed. `origin` is the host's opaque token for the broker a
 * message arrived on (replies go back through it); the engine hands it back
 * unchanged and sets it to NULL on messages a guest made.
 *
 * `source` lets a message the guest did not change go back to the host
 * without its strings being copied on either side:
 * - On a message the host passes in, `source` is NULL or the host's token
 *   for its own copy of the message, which the strings point into and the
 *   owner of `data` keeps alive until `data` is released. The engine may
 *   read the strings whenever it holds the data, not only during the call.
 * - On a message the engine passes to the host, `source` is that token when
 *   the message is unchanged since the host passed it in. The host then takes
 *   the message from its own copy: `data` is empty with no release, and the
 *   other fields (which still describe it) need not be read. Else NULL. */
typedef struct fe_message {
  fe_str topic; /* empty: none */
  fe_buffer data;
  bool has_content_type;
  fe_str content_type;
  const fe_pair* metadata;
  size_t metadata_len;
  fe_str reply_to; /* empty: none */
  void* origin;
  void* source;
} fe_message;

/* ---- errors the host returns to a guest -------------------------------- */

/* The cases of wasi:messaging's `error` variant. */
typedef enum fe_error_kind {
  FE_ERROR_TIMEOUT = 1,
  FE_ERROR_CONNECTION = 2,
  FE_ERROR_PERMISSION_DENIED = 3,
  FE_ERROR_OTHER = 4,
} fe_error_kind;

/* Where a host callback reports a failure. `message` is what the 2025
 * interface carries in its error case; `full` (code and message) is what
 * 0.1.0's error.trace() returns. */
typedef struct fe_error fe_error;
void fe_error_set(fe_error* err, fe_error_kind kind, fe_str message, fe_str full);

/* Messages the host returns (request replies, pulled messages). The engine
 * copies the strings and takes each message's data. */
typedef struct fe_message_sink fe_message_sink;
void fe_message_sink_push(fe_message_sink* sink, const fe_message* message);

/* ---- what the guest asks of the host ----------------------------------- */

/* Called on the thread running the guest call; `host` is the pointer given
 * to fe_instance_new. None may unwind. A callback returning false has set
 * `err`; the guest sees the interface's error. */
typedef struct fe_host_vtable {
  /* client.connect(name): a non-NULL client token, or NULL and `err`. */
  void* (*connect)(void* host, fe_str name, fe_error* err);
  /* producer.send: every message is checked before the first is sent. The
   * host takes each message's data. */
  bool (*send)(void* host, void* client, fe_str topic, const fe_message* messages, size_t count,
               fe_error* err);
  /* request-reply.request: replies go into `replies`. A NULL timeout or
   * expected count means the guest did not set it. */
  bool (*request)(void* host, void* client, fe_str topic, const fe_message* message,
                  const uint32_t* timeout_ms, const uint32_t* expected_replies,
                  fe_message_sink* replies, fe_error* err);
  /* request-reply.reply: `reply` goes to `reply_to` on the broker `origin`. */
  bool (*reply)(void* host, void* origin, fe_str reply_to, const fe_message* reply, fe_error* err);
  /* 0.1.0 consumer.subscribe-(try-)receive: waits up to `wait_ms` (bounded by
   * the call's deadline) for messages on `channel`; none is not an error. */
  bool (*pull)(void* host, void* client, fe_str channel, uint32_t wait_ms, fe_message_sink* out,
               fe_error* err);
  /* 0.1.0 consumer.update-guest-configuration. */
  bool (*reconfigure)(void* host, const fe_str* channels, size_t channel_count,
                      const fe_pair* extensions, size_t extension_count, fe_error* err);
  /* Bytes the guest wrote to stdout (stream 1) or stderr (stream 2). */
  void (*output)(void* host, int stream, const uint8_t* data, size_t len);
} fe_host_vtable;

/* ---- engine ------------------------------------------------------------ */

typedef struct fe_engine_config {
  bool consume_fuel;           /* meter instructions; calls then get a budget */
  uint32_t pooled_instances;   /* instance slots of the pooling allocator (0: no pooling) */
  uint64_t max_memory_bytes;   /* largest linear memory of any instance */
} fe_engine_config;

typedef struct fe_engine fe_engine;
fe_engine* fe_engine_new(const fe_engine_config* config, fe_text* err);
void fe_engine_free(fe_engine* engine);
/* Advances the epoch; call deadlines are counted in these ticks. */
void fe_engine_increment_epoch(const fe_engine* engine);
/* A hash of everything that makes compiled code of this engine loadable
 * (Wasmtime's version, its settings, the host CPU's features): part of the
 * compilation cache's key. */
uint64_t fe_engine_code_hash(const fe_engine* engine);

/* ---- components --------------------------------------------------------- */

typedef struct fe_component fe_component;
fe_component* fe_component_compile(const fe_engine* engine, const uint8_t* bytes, size_t len,
                                   fe_text* err);
/* Loads code fe_component_serialize wrote with an engine of the same
 * fe_engine_code_hash. The bytes must come from Ferry's own cache: machine
 * code is trusted, not validated. */
fe_component* fe_component_deserialize(const fe_engine* engine, const uint8_t* bytes, size_t len,
                                       fe_text* err);
bool fe_component_serialize(const fe_component* component, fe_buffer* out, fe_text* err);
void fe_component_free(fe_component* component);
/* Calls `visit` for each import (is_export false) and export (true) name. */
void fe_component_names(const fe_component* component, void* ctx,
                        void (*visit)(void* ctx, bool is_export, fe_str name));

/* The interface shapes the engine has bindings for. */
typedef enum fe_shape {
  FE_SHAPE_DRAFT2025 = 1, /* wasi:messaging@0.2.0-draft (2025) */
  FE_SHAPE_V010 = 2,      /* wasi:messaging@0.1.0 */
  FE_SHAPE_DRAFT2024 = 3, /* the 0.1.0 interfaces published as 0.2.0-draft (2024) */
  FE_SHAPE_DRAFT_ASYNC = 4, /* the 2025 draft with async functions (WASI 0.3): fe_async_instance */
} fe_shape;

/* True when a wasi:messaging function the component imports or exports is
 * declared `async` (component-model async): the async shape. */
bool fe_component_messaging_async(const fe_component* component);

/* A component linked for `shape` with WASI p2: instantiating it again is
 * cheap. Fails (with the linker's reason) when the component imports
 * something the shape does not provide or lacks the shape's export. */
typedef struct fe_pre fe_pre;
fe_pre* fe_pre_new(const fe_component* component, fe_shape shape, fe_text* err);
void fe_pre_free(fe_pre* pre);

/* ---- instances ----------------------------------------------------------- */

typedef struct fe_limits {
  uint64_t max_memory_bytes;        /* linear memory of this instance */
  uint64_t max_message_bytes;       /* data of one message */
  uint64_t max_metadata_bytes;      /* keys and values of one message */
  uint32_t max_messages;            /* message resources held at once */
  uint64_t max_message_total_bytes; /* data held in those messages */
  uint32_t max_clients;             /* client resources held at once */
  uint32_t max_request_options;     /* request-options held at once */
} fe_limits;

/* Bounds of one guest call. */
typedef struct fe_budget {
  uint64_t epoch_ticks; /* interrupted after this many epoch increments */
  uint64_t fuel;        /* instructions (engines with consume_fuel only) */
  uint64_t deadline_ns; /* when the call must end, in ns on CLOCK_MONOTONIC (the
                           clock of std::chrono::steady_clock on Linux; 0:
                           unbounded): host-side waits inside it (outgoing
                           HTTP) end by then */
} fe_budget;
/* What an instance may reach outside its messaging clients. */
typedef struct fe_grants {
  /* Authorities wasi:http requests may go to: "*", "host:port", "host:*",
   * "*.domain:port" or "*.domain:*" (a URL without a port is on 80 for http,
   * 443 for https). A request no pattern matches fails with the error code
   * HTTP-request-denied before any connection is made. None: no HTTP. */
  const fe_str* allow_http;
  size_t allow_http_len;
} fe_grants;

/* How a guest call ended. */
typedef enum fe_outcome {
  FE_OUTCOME_OK = 0,
  FE_OUTCOME_GUEST_ERROR = 1, /* the export returned its error case */
  FE_OUTCOME_TRAP = 2,        /* a trap: unreachable, bad handle, out of bounds… */
  FE_OUTCOME_TIMEOUT = 3,     /* the epoch deadline passed */
  FE_OUTCOME_FUEL = 4,        /* the fuel budget ran out */
  FE_OUTCOME_MEMORY = 5,      /* a memory limit (linear or host-side) was hit */
  FE_OUTCOME_CANCELLED = 6,   /* async shape: the instance was stopped during the call */
} fe_outcome;

typedef struct fe_instance fe_instance;
/* A fresh instance in a store of its own. `vtable` and `host` must outlive
 * it; `grants` (NULL: none) is copied. Start-up code runs under `budget`. On
 * failure (including a bad grant pattern) returns NULL, with the outcome in
 * `*outcome` (when not NULL) and the reason in `err`. */
fe_instance* fe_instance_new(const fe_pre* pre, const fe_limits* limits, const fe_grants* grants,
                             const fe_host_vtable* vtable, void* host, fe_budget budget,
                             fe_outcome* outcome, fe_text* err);
void fe_instance_free(fe_instance* instance);
/* One line on how the last call that did not end FE_OUTCOME_OK ended; valid
 * until the next call on the instance. */
fe_str fe_instance_last_error(const fe_instance* instance);
/* True once a trap has left the instance unusable. */
bool fe_instance_poisoned(const fe_instance* instance);

/* 2025 shape: incoming-handler.handle(message). Takes the message's data. */
fe_outcome fe_instance_handle(fe_instance* instance, const fe_message* message, fe_budget budget);

/* 0.1.0 shapes: messaging-guest.configure(). On success `visit` receives the
 * channels and extensions the guest asked for. */
fe_outcome fe_instance_configure(fe_instance* instance, fe_budget budget, void* ctx,
                                 void (*visit)(void* ctx, const fe_str* channels, size_t channel_count,
                                               const fe_pair* extensions, size_t extension_count));

/* What a 0.1.0 guest decided about each message of a batch. */
typedef enum fe_verdict {
  FE_VERDICT_NONE = 0,     /* the call's result decides */
  FE_VERDICT_COMPLETE = 1, /* complete-message */
  FE_VERDICT_ABANDON = 2,  /* abandon-message */
} fe_verdict;

/* 0.1.0 shapes: messaging-guest.handler(list<message>). Takes each
 * message's data; writes one verdict per message into `verdicts`. */
fe_outcome fe_instance_handler(fe_instance* instance, const fe_message* messages, size_t count,
                               fe_budget budget, uint8_t* verdicts);

/* ---- the async shape (WASI 0.3) ------------------------------------------ */

/* One host operation of an async-shape guest in progress. The host owns it
 * from the callback that started the operation until it calls
 * fe_pending_done, exactly once, from any thread (after fe_pending_push for
 * each reply of a request). Until then the guest task waits; the instance
 * runs its other calls. */
typedef struct fe_pending fe_pending;
void fe_pending_push(fe_pending* pending, const fe_message* message);
/* Finishes (and frees) `pending`: ok, or the interface's error as for
 * fe_error_set. Harmless when the instance has stopped meanwhile. */
void fe_pending_done(fe_pending* pending, bool ok, fe_error_kind kind, fe_str message, fe_str full);

/* Called on the instance's own thread; each must return without waiting for
 * the broker. Message data passes to the host, strings are borrowed for the
 * callback. `call` is the `ctx` fe_async_instance_handle was given for the
 * handle call whose task started the operation, or NULL when the operation
 * belongs to no call in flight (a guest task still running after its call
 * returned); it is valid for the callback only. Connect and output go
 * through fe_host_vtable as for the other shapes (connect is a lookup:
 * nothing to wait for). */
typedef struct fe_async_host_vtable {
  void (*send)(void* host, void* call, void* client, fe_str topic, const fe_message* messages,
               size_t count, fe_pending* done);
  void (*request)(void* host, void* call, void* client, fe_str topic, const fe_message* message,
                  const uint32_t* timeout_ms, const uint32_t* expected_replies, fe_pending* done);
  void (*reply)(void* host, void* call, void* origin, fe_str reply_to, const fe_message* reply,
                fe_pending* done);
} fe_async_host_vtable;

/* An instance of the async shape: a store driven by a thread of its own, on
 * which any number of handle calls may be in flight (the host bounds them).
 * Thread-safe, unlike fe_instance. Each call's wall-clock deadline is its
 * budget's deadline_ns (checked at epoch ticks while guest code runs); fuel is
 * pooled: each call adds its budget's to the store's. A trap or a call past
 * its deadline ends the instance: every call in flight on it fails, and it
 * is poisoned. `vtable`, `async_vtable` and `host` must outlive it. */
typedef struct fe_async_instance fe_async_instance;
fe_async_instance* fe_async_instance_new(const fe_pre* pre, const fe_limits* limits,
                                         const fe_grants* grants, const fe_host_vtable* vtable,
                                         const fe_async_host_vtable* async_vtable, void* host,
                                         fe_budget budget, fe_outcome* outcome, fe_text* err);
/* Stops the instance, waiting for its thread: calls still in flight end
 * FE_OUTCOME_CANCELLED (their `done` runs before this returns). */
void fe_async_instance_free(fe_async_instance* instance);
bool fe_async_instance_poisoned(const fe_async_instance* instance);
/* One line on what ended a poisoned instance (free it with fe_text_free). */
void fe_async_instance_last_error(const fe_async_instance* instance, fe_text* out);
/* Starts incoming-handler.handle(message) and returns. `done` runs exactly
 * once with the outcome and a one-line text (empty on success): on the
 * instance's thread, or on this one when the instance is poisoned. Takes the
 * message's data. */
void fe_async_instance_handle(const fe_async_instance* instance, const fe_message* message,
                              fe_budget budget, void (*done)(void* ctx, fe_outcome outcome, fe_str text),
                              void* ctx);

#ifdef __cplusplus
}
#endif

#endif /* FERRY_ENGINE_H */
