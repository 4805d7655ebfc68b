// async_echo: the echo for the async shape of wasi:messaging (WASI 0.3).
// Sends every message it receives to `echo.out`. Its handle is an async
// export: while a send waits for the broker the instance runs other calls,
// up to the component's max_concurrent_per_instance.
//
// Each call is a task with its state on the heap (the export's stack frame
// is gone once it returns WAIT); the task's context slot finds it again when
// the callback runs. The client is opened once and shared by every task.
//
// Built with ECHO_ASKS_FIRST (async_ask_echo.wasm, world
// messaging-request-reply), each call first sends a request to
// `echo.service` and waits for its reply: the handler that waits on another
// service, which is what concurrency per instance is for (bench/async_bench).
#include <stdlib.h>

#ifdef ECHO_ASKS_FIRST
#include "messaging_request_reply.h"
#define messaging_core_waitable_set_t messaging_request_reply_waitable_set_t
#define messaging_core_callback_code_t messaging_request_reply_callback_code_t
#define messaging_core_subtask_status_t messaging_request_reply_subtask_status_t
#define messaging_core_string_t messaging_request_reply_string_t
#define messaging_core_event_t messaging_request_reply_event_t
#define messaging_core_waitable_set_drop messaging_request_reply_waitable_set_drop
#define messaging_core_waitable_set_new messaging_request_reply_waitable_set_new
#define messaging_core_waitable_join messaging_request_reply_waitable_join
#define messaging_core_context_set_0 messaging_request_reply_context_set_0
#define messaging_core_context_get_0 messaging_request_reply_context_get_0
#define messaging_core_string_set messaging_request_reply_string_set
#define messaging_core_subtask_drop messaging_request_reply_subtask_drop
#define MESSAGING_CORE_CALLBACK_CODE_EXIT MESSAGING_REQUEST_REPLY_CALLBACK_CODE_EXIT
#define MESSAGING_CORE_CALLBACK_CODE_YIELD MESSAGING_REQUEST_REPLY_CALLBACK_CODE_YIELD
#define MESSAGING_CORE_CALLBACK_CODE_WAIT MESSAGING_REQUEST_REPLY_CALLBACK_CODE_WAIT
#define MESSAGING_CORE_SUBTASK_STATE MESSAGING_REQUEST_REPLY_SUBTASK_STATE
#define MESSAGING_CORE_SUBTASK_HANDLE MESSAGING_REQUEST_REPLY_SUBTASK_HANDLE
#define MESSAGING_CORE_SUBTASK_RETURNED MESSAGING_REQUEST_REPLY_SUBTASK_RETURNED
#define MESSAGING_CORE_EVENT_SUBTASK MESSAGING_REQUEST_REPLY_EVENT_SUBTASK
#else
#include "messaging_core.h"
#endif

typedef struct task {
  messaging_core_waitable_set_t set;
  int step;  // 0 connecting, 1 sending, 2 sent (20, 21: asking first)
  wasi_messaging_types_own_message_t message;
  wasi_messaging_types_result_own_client_error_t connected;
  wasi_messaging_producer_result_void_error_t sent;
#ifdef ECHO_ASKS_FIRST
  bool asked;
  wasi_messaging_request_reply_request_args_t request;
  wasi_messaging_request_reply_result_list_own_message_error_t replies;
#endif
} task_t;

static wasi_messaging_types_own_client_t client;
static enum { kNone, kConnecting, kConnected } client_state = kNone;

static messaging_core_callback_code_t end(task_t* t, bool failed, wasi_messaging_types_error_t err) {
  exports_wasi_messaging_incoming_handler_result_void_error_t ret = {.is_err = failed};
  if (failed) ret.val.err = err;
  if (t->step < 2) wasi_messaging_types_message_drop_own(t->message);
  messaging_core_waitable_set_drop(t->set);
  free(t);
  messaging_core_context_set_0(NULL);
  exports_wasi_messaging_incoming_handler_handle_return(ret);
  return MESSAGING_CORE_CALLBACK_CODE_EXIT;
}

// True when the call returned at once; else the task waits for its subtask.
static bool returned(task_t* t, messaging_core_subtask_status_t status) {
  if (MESSAGING_CORE_SUBTASK_STATE(status) == MESSAGING_CORE_SUBTASK_RETURNED) return true;
  messaging_core_waitable_join(MESSAGING_CORE_SUBTASK_HANDLE(status), t->set);
  return false;
}

static messaging_core_callback_code_t advance(task_t* t) {
  wasi_messaging_types_error_t none = {0};
  for (;;) {
    switch (t->step) {
      case 0:
        if (client_state == kConnected) {
          t->step = 1;
          break;
        }
        if (client_state == kConnecting) {
          // Another task is connecting: let it finish first.
          return MESSAGING_CORE_CALLBACK_CODE_YIELD;
        }
        client_state = kConnecting;
        t->step = 10;
        {
          messaging_core_string_t name;
          messaging_core_string_set(&name, "default");
          if (!returned(t, wasi_messaging_types_static_client_connect(name, &t->connected)))
            return MESSAGING_CORE_CALLBACK_CODE_WAIT(t->set);
        }
        break;
      case 10:
        if (t->connected.is_err) {
          client_state = kNone;
          return end(t, true, t->connected.val.err);
        }
        client = t->connected.val.ok;
        client_state = kConnected;
        t->step = 1;
        break;
      case 1: {
#ifdef ECHO_ASKS_FIRST
        if (!t->asked) {
          t->asked = true;
          t->step = 20;
          t->request.c = wasi_messaging_types_borrow_client(client);
          messaging_core_string_set(&t->request.topic, "echo.service");
          t->request.message = wasi_messaging_types_borrow_message(t->message);
          t->request.options.is_some = false;
          if (!returned(t, wasi_messaging_request_reply_request(&t->request, &t->replies)))
            return MESSAGING_CORE_CALLBACK_CODE_WAIT(t->set);
          break;
        }
#endif
        messaging_core_string_t topic;
        messaging_core_string_set(&topic, "echo.out");
        t->step = 2;  // the message is the send's now
        if (!returned(t, wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), topic,
                                                      t->message, &t->sent)))
          return MESSAGING_CORE_CALLBACK_CODE_WAIT(t->set);
        break;
      }
      case 2:
        if (t->sent.is_err) return end(t, true, t->sent.val.err);
        return end(t, false, none);
#ifdef ECHO_ASKS_FIRST
      case 20:
        if (t->replies.is_err) return end(t, true, t->replies.val.err);
        for (size_t i = 0; i < t->replies.val.ok.len; i++)
          wasi_messaging_types_message_drop_own(t->replies.val.ok.ptr[i]);
        free(t->replies.val.ok.ptr);
        t->step = 1;
        break;
#endif
    }
  }
}

messaging_core_callback_code_t exports_wasi_messaging_incoming_handler_handle(
    wasi_messaging_types_own_message_t message) {
  task_t* t = calloc(1, sizeof *t);
  t->message = message;
  t->set = messaging_core_waitable_set_new();
  messaging_core_context_set_0(t);
  return advance(t);
}

messaging_core_callback_code_t exports_wasi_messaging_incoming_handler_handle_callback(
    messaging_core_event_t* event) {
  task_t* t = messaging_core_context_get_0();
  if (event->event == MESSAGING_CORE_EVENT_SUBTASK && event->code == MESSAGING_CORE_SUBTASK_RETURNED)
    messaging_core_subtask_drop(event->waitable);
  return advance(t);
}
