// @NAME@: a wasi:messaging request-reply service for the async shape (WASI
// 0.3, world messaging-request-reply of the async package). Answers each
// request on `@NAME@.in` with "hello, <request data>".
//
// handle is an async export (the callback form wit-bindgen c generates): it
// starts the reply and returns WAIT while it is under way; the host calls
// handle_callback when it ended, and meanwhile the instance runs other calls
// (up to max_concurrent_per_instance in ferry.toml). The stack frame is gone
// once handle returns, so each call's state lives on the heap, found again
// through the task's context slot.
#include <stdlib.h>
#include <string.h>

#include "messaging_request_reply.h"

typedef struct task {
  messaging_request_reply_waitable_set_t set;  // the subtask this call waits for
  wasi_messaging_types_own_message_t request;  // borrowed by the reply: kept until it ends
  wasi_messaging_request_reply_result_void_error_t replied;
} task_t;

// Ends the call: an error (e.g. the message carried no reply address) is a
// failed delivery, retried.
static messaging_request_reply_callback_code_t replied(task_t* t) {
  exports_wasi_messaging_incoming_handler_result_void_error_t ret = {.is_err = t->replied.is_err};
  if (ret.is_err) ret.val.err = t->replied.val.err;  // the host's reason becomes ours
  wasi_messaging_types_message_drop_own(t->request);
  messaging_request_reply_waitable_set_drop(t->set);
  free(t);
  messaging_request_reply_context_set_0(NULL);
  exports_wasi_messaging_incoming_handler_handle_return(ret);
  return MESSAGING_REQUEST_REPLY_CALLBACK_CODE_EXIT;
}

messaging_request_reply_callback_code_t exports_wasi_messaging_incoming_handler_handle(
    wasi_messaging_types_own_message_t message) {
  task_t* t = calloc(1, sizeof *t);
  if (!t) abort();
  t->request = message;
  t->set = messaging_request_reply_waitable_set_new();
  messaging_request_reply_context_set_0(t);

  wasi_messaging_types_borrow_message_t request = wasi_messaging_types_borrow_message(message);
  messaging_request_reply_list_u8_t who;
  wasi_messaging_types_method_message_data(request, &who);
  static const char kPrefix[] = "hello, ";
  const size_t prefix_len = sizeof kPrefix - 1;
  messaging_request_reply_list_u8_t body;
  body.len = prefix_len + who.len;
  body.ptr = malloc(body.len);
  if (!body.ptr) abort();
  memcpy(body.ptr, kPrefix, prefix_len);
  if (who.len) memcpy(body.ptr + prefix_len, who.ptr, who.len);
  messaging_request_reply_list_u8_free(&who);

  wasi_messaging_types_own_message_t reply = wasi_messaging_types_constructor_message(&body);
  messaging_request_reply_list_u8_free(&body);
  messaging_request_reply_string_t text_plain;
  messaging_request_reply_string_set(&text_plain, "text/plain");
  wasi_messaging_types_method_message_set_content_type(wasi_messaging_types_borrow_message(reply),
                                                       &text_plain);

  messaging_request_reply_subtask_status_t status =
      wasi_messaging_request_reply_reply(request, reply, &t->replied);  // takes the reply
  if (MESSAGING_REQUEST_REPLY_SUBTASK_STATE(status) == MESSAGING_REQUEST_REPLY_SUBTASK_RETURNED)
    return replied(t);
  messaging_request_reply_waitable_join(MESSAGING_REQUEST_REPLY_SUBTASK_HANDLE(status), t->set);
  return MESSAGING_REQUEST_REPLY_CALLBACK_CODE_WAIT(t->set);
}

messaging_request_reply_callback_code_t exports_wasi_messaging_incoming_handler_handle_callback(
    messaging_request_reply_event_t* event) {
  task_t* t = messaging_request_reply_context_get_0();
  if (event->event != MESSAGING_REQUEST_REPLY_EVENT_SUBTASK ||
      event->code != MESSAGING_REQUEST_REPLY_SUBTASK_RETURNED)
    return MESSAGING_REQUEST_REPLY_CALLBACK_CODE_WAIT(t->set);  // not ended yet
  messaging_request_reply_subtask_drop(event->waitable);
  return replied(t);
}
