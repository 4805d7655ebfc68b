// greeter: a request-reply service. Answers each request with
// "hello, <request data>" through request-reply.reply.
#include <stdlib.h>
#include <string.h>

#include "messaging_request_reply.h"

bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  wasi_messaging_types_borrow_message_t request = wasi_messaging_types_borrow_message(message);
  messaging_request_reply_list_u8_t name;
  wasi_messaging_types_method_message_data(request, &name);

  static const char kPrefix[] = "hello, ";
  messaging_request_reply_list_u8_t body;
  body.len = strlen(kPrefix) + name.len;
  body.ptr = malloc(body.len ? body.len : 1);
  memcpy(body.ptr, kPrefix, strlen(kPrefix));
  if (name.len) memcpy(body.ptr + strlen(kPrefix), name.ptr, name.len);
  messaging_request_reply_list_u8_free(&name);

  wasi_messaging_types_own_message_t reply = wasi_messaging_types_constructor_message(&body);
  messaging_request_reply_list_u8_free(&body);
  messaging_request_reply_string_t text_plain;
  messaging_request_reply_string_set(&text_plain, "text/plain");
  wasi_messaging_types_method_message_set_content_type(wasi_messaging_types_borrow_message(reply),
                                                       &text_plain);

  wasi_messaging_request_reply_error_t reply_err;
  bool ok = wasi_messaging_request_reply_reply(request, reply, &reply_err);
  wasi_messaging_types_message_drop_own(message);
  if (!ok) *err = reply_err;  // e.g. the message carried no reply address
  return ok;
}
