// @NAME@: a wasi:messaging request-reply service in C++ (world
// messaging-request-reply). Answers each request on `@NAME@.in` with
// "hello, <request data>".
#include <string>

extern "C" {
#include "messaging_request_reply.h"
}

namespace {

std::string Data(wasi_messaging_types_borrow_message_t m) {
  messaging_request_reply_list_u8_t data;
  wasi_messaging_types_method_message_data(m, &data);
  std::string s(reinterpret_cast<const char*>(data.ptr), data.len);
  messaging_request_reply_list_u8_free(&data);
  return s;
}

}  // namespace

extern "C" bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  auto request = wasi_messaging_types_borrow_message(message);
  std::string body = "hello, " + Data(request);

  messaging_request_reply_list_u8_t bytes{reinterpret_cast<uint8_t*>(body.data()), body.size()};
  auto reply = wasi_messaging_types_constructor_message(&bytes);
  messaging_request_reply_string_t text_plain;
  messaging_request_reply_string_set(&text_plain, "text/plain");
  wasi_messaging_types_method_message_set_content_type(wasi_messaging_types_borrow_message(reply),
                                                       &text_plain);
  // reply() takes the reply; an error (e.g. no reply address) is ours.
  bool ok = wasi_messaging_request_reply_reply(request, reply, err);
  wasi_messaging_types_message_drop_own(message);
  return ok;
}
