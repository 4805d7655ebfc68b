// d25_echo: payloads through wasi:messaging 0.2.0-draft. Subscribed to
// conf.d25.echo; sends a new message with exactly the delivered data to
// conf.d25.echo.out.
#include "d25.h"

bool exports_wasi_messaging_incoming_handler_handle(own_msg message, msg_error* err) {
  bytes_t data;
  wasi_messaging_types_method_message_data(wasi_messaging_types_borrow_message(message), &data);
  wasi_messaging_types_message_drop_own(message);
  bool ok = send_bytes("conf.d25.echo.out", data.ptr, data.len);
  messaging_request_reply_list_u8_free(&data);
  if (!ok) set_error(err, "conformance: echo send failed");
  return ok;
}
