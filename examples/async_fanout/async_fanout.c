// async_fanout: one message in, many out, sent concurrently, for the async
// shape of wasi:messaging (WASI 0.3), in C (async_fanout.py is the same in
// Python).
//
// A message whose data is a count N (decimal, 1 to 1000) becomes N messages
// on `fanout.out`, "<i>/<N>": every send is started before any is waited
// for, and the call ends once the broker has taken all of them. Each send
// that cannot finish at once is a subtask joined to the call's waitable set;
// the callback counts them down. Anything else is the interface's `other`
// error.
//
// Each call is a task with its state on the heap (the export's stack frame
// is gone once it returns WAIT); the context slot finds it again.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messaging_core.h"

typedef wasi_messaging_producer_result_void_error_t send_result_t;

typedef struct task {
  messaging_core_waitable_set_t set;
  int step;     // 0 connecting, 1 sending, 2 waiting for the sends
  int n;        // messages to send
  int pending;  // subtasks not returned yet
  wasi_messaging_types_result_own_client_error_t connected;
  bool have_client;
  send_result_t* sent;  // one per send
} task_t;

static messaging_core_callback_code_t finish(task_t* t, const wasi_messaging_types_error_t* err) {
  exports_wasi_messaging_incoming_handler_result_void_error_t ret = {.is_err = err != NULL};
  if (err) ret.val.err = *err;
  if (t->have_client) wasi_messaging_types_client_drop_own(t->connected.val.ok);
  messaging_core_waitable_set_drop(t->set);
  free(t->sent);
  free(t);
  messaging_core_context_set_0(NULL);
  exports_wasi_messaging_incoming_handler_handle_return(ret);
  return MESSAGING_CORE_CALLBACK_CODE_EXIT;
}

static messaging_core_callback_code_t fail(task_t* t, const char* text) {
  wasi_messaging_types_error_t err = {.tag = WASI_MESSAGING_TYPES_ERROR_OTHER};
  messaging_core_string_dup(&err.val.other, text);
  return finish(t, &err);
}

// True when the call returned at once; else the task waits for its subtask.
static bool returned(task_t* t, messaging_core_subtask_status_t status) {
  if (MESSAGING_CORE_SUBTASK_STATE(status) == MESSAGING_CORE_SUBTASK_RETURNED) return true;
  messaging_core_waitable_join(MESSAGING_CORE_SUBTASK_HANDLE(status), t->set);
  t->pending++;
  return false;
}

static messaging_core_callback_code_t advance(task_t* t) {
  if (t->step == 0) {
    if (t->pending > 0) return MESSAGING_CORE_CALLBACK_CODE_WAIT(t->set);
    if (t->connected.is_err) return finish(t, &t->connected.val.err);
    t->have_client = true;
    t->step = 1;
  }
  if (t->step == 1) {
    t->sent = calloc((size_t)t->n, sizeof *t->sent);
    for (int i = 0; i < t->n; i++) {
      char text[32];
      const int len = snprintf(text, sizeof text, "%d/%d", i + 1, t->n);
      messaging_core_list_u8_t data = {(uint8_t*)text, (size_t)len};
      // The constructor copies the data; the send takes the message.
      wasi_messaging_types_own_message_t out = wasi_messaging_types_constructor_message(&data);
      messaging_core_string_t topic;
      messaging_core_string_set(&topic, "fanout.out");  // a literal: read when the subtask starts
      (void)returned(t, wasi_messaging_producer_send(wasi_messaging_types_borrow_client(t->connected.val.ok),
                                                     topic, out, &t->sent[i]));
    }
    t->step = 2;
  }
  if (t->pending > 0) return MESSAGING_CORE_CALLBACK_CODE_WAIT(t->set);
  int failed = 0;
  for (int i = 0; i < t->n; i++)
    if (t->sent[i].is_err) {
      failed++;
      wasi_messaging_producer_error_free(&t->sent[i].val.err);
    }
  if (failed == 0) return finish(t, NULL);
  char why[96];
  snprintf(why, sizeof why, "async_fanout: %d of %d sends to fanout.out failed", failed, t->n);
  return fail(t, why);
}

messaging_core_callback_code_t exports_wasi_messaging_incoming_handler_handle(
    wasi_messaging_types_own_message_t message) {
  task_t* t = calloc(1, sizeof *t);
  t->set = messaging_core_waitable_set_new();
  messaging_core_context_set_0(t);
  messaging_core_list_u8_t data;
  wasi_messaging_types_method_message_data(wasi_messaging_types_borrow_message(message), &data);
  char text[16] = {0};
  const bool fits = data.len > 0 && data.len < sizeof text;
  if (fits) memcpy(text, data.ptr, data.len);
  messaging_core_list_u8_free(&data);
  wasi_messaging_types_message_drop_own(message);
  char* end = NULL;
  const long n = fits ? strtol(text, &end, 10) : 0;
  if (!fits || *end != '\0' || n < 1 || n > 1000) return fail(t, "async_fanout: want a count from 1 to 1000");
  t->n = (int)n;
  messaging_core_string_t name;
  messaging_core_string_set(&name, "default");
  (void)returned(t, wasi_messaging_types_static_client_connect(name, &t->connected));
  return advance(t);
}

messaging_core_callback_code_t exports_wasi_messaging_incoming_handler_handle_callback(
    messaging_core_event_t* event) {
  task_t* t = messaging_core_context_get_0();
  if (event->event == MESSAGING_CORE_EVENT_SUBTASK && event->code == MESSAGING_CORE_SUBTASK_RETURNED) {
    messaging_core_subtask_drop(event->waitable);
    t->pending--;
  }
  return advance(t);
}
