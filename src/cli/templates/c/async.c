// @NAME@: a wasi:messaging component for the async shape (WASI 0.3, world
// messaging-core of the async package). Each message on `@NAME@.in` goes on
// to `@NAME@.out` with its text upper-cased and a `handled-by: @NAME@`
// metadata entry.
//
// handle is an async export (the callback form wit-bindgen c generates): it
// starts connect, then send, and returns WAIT while either is under way;
// the host calls handle_callback when it ended, and meanwhile the instance
// runs other calls (up to max_concurrent_per_instance in ferry.toml). The
// stack frame is gone once handle returns, so each call's state lives on
// the heap, found again through the task's context slot.
#include <stdlib.h>

#include "messaging_core.h"

enum step { CONNECTING, SENDING };

typedef struct task {
  messaging_core_waitable_set_t set;  // the subtask this call waits for
  enum step step;
  wasi_messaging_types_own_message_t message;
  bool own_message;  // false once send has taken it
  wasi_messaging_types_result_own_client_error_t connected;
  wasi_messaging_types_own_client_t client;
  bool have_client;
  wasi_messaging_producer_result_void_error_t sent;
} task_t;

// Ends the call: an error (when `err` is set) is a failed delivery, retried.
static messaging_core_callback_code_t finish(task_t* t, wasi_messaging_types_error_t* err) {
  exports_wasi_messaging_incoming_handler_result_void_error_t ret = {.is_err = err != NULL};
  if (err) ret.val.err = *err;
  if (t->own_message) wasi_messaging_types_message_drop_own(t->message);
  if (t->have_client) wasi_messaging_types_client_drop_own(t->client);
  messaging_core_waitable_set_drop(t->set);
  free(t);
  messaging_core_context_set_0(NULL);
  exports_wasi_messaging_incoming_handler_handle_return(ret);
  return MESSAGING_CORE_CALLBACK_CODE_EXIT;
}

// True when the import already returned; otherwise its subtask joins the
// call's set and the call waits for it.
static bool returned(task_t* t, messaging_core_subtask_status_t status) {
  if (MESSAGING_CORE_SUBTASK_STATE(status) == MESSAGING_CORE_SUBTASK_RETURNED) return true;
  messaging_core_waitable_join(MESSAGING_CORE_SUBTASK_HANDLE(status), t->set);
  return false;
}

static messaging_core_callback_code_t sent(task_t* t) {
  if (!t->sent.is_err) return finish(t, NULL);
  wasi_messaging_types_error_free(&t->sent.val.err);
  wasi_messaging_types_error_t err;
  err.tag = WASI_MESSAGING_TYPES_ERROR_OTHER;
  messaging_core_string_dup(&err.val.other, "@NAME@: sending to @NAME@.out failed");
  return finish(t, &err);
}

static messaging_core_callback_code_t connected(task_t* t) {
  // A failed connect: the host's reason becomes ours.
  if (t->connected.is_err) return finish(t, &t->connected.val.err);
  t->client = t->connected.val.ok;
  t->have_client = true;
  t->step = SENDING;
  t->own_message = false;  // send takes it
  messaging_core_string_t topic;
  messaging_core_string_set(&topic, "@NAME@.out");  // a literal: still there when the send starts
  wasi_messaging_types_borrow_client_t client = wasi_messaging_types_borrow_client(t->client);
  if (!returned(t, wasi_messaging_producer_send(client, topic, t->message, &t->sent)))
    return MESSAGING_CORE_CALLBACK_CODE_WAIT(t->set);
  return sent(t);
}

messaging_core_callback_code_t exports_wasi_messaging_incoming_handler_handle(
    wasi_messaging_types_own_message_t message) {
  task_t* t = calloc(1, sizeof *t);
  if (!t) abort();
  t->message = message;
  t->own_message = true;
  t->set = messaging_core_waitable_set_new();
  messaging_core_context_set_0(t);

  // Edit the message received (the message's methods are synchronous),
  // then send that same message on.
  wasi_messaging_types_borrow_message_t m = wasi_messaging_types_borrow_message(message);
  messaging_core_list_u8_t data;
  wasi_messaging_types_method_message_data(m, &data);
  for (size_t i = 0; i < data.len; ++i)
    if (data.ptr[i] >= 'a' && data.ptr[i] <= 'z') data.ptr[i] -= 'a' - 'A';
  wasi_messaging_types_method_message_set_data(m, &data);
  messaging_core_list_u8_free(&data);
  messaging_core_string_t key, value;
  messaging_core_string_set(&key, "handled-by");
  messaging_core_string_set(&value, "@NAME@");
  wasi_messaging_types_method_message_add_metadata(m, &key, &value);

  // "default" is the broker the host runs this component on.
  t->step = CONNECTING;
  messaging_core_string_t broker;
  messaging_core_string_set(&broker, "default");
  if (!returned(t, wasi_messaging_types_static_client_connect(broker, &t->connected)))
    return MESSAGING_CORE_CALLBACK_CODE_WAIT(t->set);
  return connected(t);
}

messaging_core_callback_code_t exports_wasi_messaging_incoming_handler_handle_callback(
    messaging_core_event_t* event) {
  task_t* t = messaging_core_context_get_0();
  if (event->event != MESSAGING_CORE_EVENT_SUBTASK ||
      event->code != MESSAGING_CORE_SUBTASK_RETURNED)
    return MESSAGING_CORE_CALLBACK_CODE_WAIT(t->set);  // not ended yet
  messaging_core_subtask_drop(event->waitable);
  return t->step == CONNECTING ? connected(t) : sent(t);
}
