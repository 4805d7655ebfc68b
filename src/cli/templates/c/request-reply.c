// @NAME@: a wasi:messaging request-reply service (world
// messaging-request-reply). Answers each request on `@NAME@.in` with
// "hello, <request data>".
#include <stdlib.h>
#include <string.h>

#include "messaging_request_reply.h"

bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  wasi_messaging_types_borrow_message_t request = wasi_messaging_types_borrow_message(message);
  messaging_request_reply_list_u8_t who;
  wasi_messaging_types_method_message_data(request, &who);

  static const char kPrefix[] = "hello, ";
  const size_t prefix_len = sizeof kPrefix - 1;
  messaging_request_reply_list_u8_t body;
  body.len = prefix_len + who.len;
  body.ptr = malloc(body.len);
  memcpy(body.ptr, kPrefix, prefix_len);
  if (who.len) memcpy(body.ptr + prefix_len, who.ptr, who.len);
  messaging_request_reply_list_u8_free(&who);

  wasi_messaging_types_own_message_t reply = wasi_messaging_types_constructor_message(&body);
  messaging_request_reply_list_u8_free(&body);
  messaging_request_reply_string_t text_plain;
  messaging_request_reply_string_set(&text_plain, "text/plain");
  wasi_messaging_types_method_message_set_content_type(wasi_messaging_types_borrow_message(reply),
                                                       &text_plain);

  wasi_messaging_request_reply_error_t reply_err;
  bool ok = wasi_messaging_request_reply_reply(request, reply, &reply_err);  // takes the reply
  wasi_messaging_types_message_drop_own(message);
  if (!ok) *err = reply_err;  // e.g. the message carried no reply address
  return ok;
}
