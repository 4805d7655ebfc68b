// d25_responder: reply() of wasi:messaging 0.2.0-draft. Subscribed to
// conf.d25.svc; a request with data "<tag> <n>" gets n replies, each with
// data "<tag>#<i>", from n reply() calls on the same delivered message
// (n = 0: none). A failed reply() is reported on conf.report.
#include "d25.h"

bool exports_wasi_messaging_incoming_handler_handle(own_msg message, msg_error* err) {
  msg_ref m = wasi_messaging_types_borrow_message(message);
  char* text = data_text(m);
  char* space = strrchr(text, ' ');
  int n = space ? atoi(space + 1) : 0;
  if (space) *space = 0;
  for (int i = 0; i < n; ++i) {
    char body[512];
    int len = snprintf(body, sizeof body, "%.480s#%d", text, i);  // text is the tag now
    bytes_t b = {(uint8_t*)body, (size_t)len};
    own_msg reply = wasi_messaging_types_constructor_message(&b);
    msg_error e;
    if (!wasi_messaging_request_reply_reply(m, reply, &e)) {
      report_t r = {0};
      rep_begin(&r, (const uint8_t*)text, strlen(text));
      rep_cstr(&r, "verb", "responder-failed");
      rep_int(&r, "reply_index", i);
      rep_error(&r, "reply", &e);
      wasi_messaging_types_error_free(&e);
      rep_send(&r);
      break;
    }
  }
  free(text);
  wasi_messaging_types_message_drop_own(message);
  return true;
}
