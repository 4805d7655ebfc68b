// d25_client: client, producer and request of wasi:messaging 0.2.0-draft.
// Subscribed to conf.d25.client. Commands ("<tag> <verb> [arg]"), each
// answered by one report on conf.report:
//   connect-unknown      client.connect("conformance-no-such-client"): the outcome
//   disconnect-send      connect, disconnect, then send on it: both outcomes
//   send                 sends a message with data "<tag>" to conf.d25.sent
//   send-to <topic>      sends a message with data "<tag>" to <topic>: the outcome
//   request <n> <timeout_ms|-> <expected|->
//                        request(conf.d25.svc, data "<tag> <n>", options): the
//                        responder replies n times; "-" leaves an option unset
//                        and "- -" passes no options at all;
//                        reports the outcome, the replies' data and topics,
//                        and how long the call took (monotonic clock)
#include "d25.h"

static void do_request(report_t* r, const char* tag, char* arg) {
  char count[16] = "0", timeout[32] = "-", expected[32] = "-";
  sscanf(arg, "%15s %31s %31s", count, timeout, expected);
  own_client c;
  msg_error e;
  if (!connect_default(&c, &e)) {
    rep_error(r, "connect", &e);
    wasi_messaging_types_error_free(&e);
    return;
  }
  bool any = strcmp(timeout, "-") != 0 || strcmp(expected, "-") != 0;
  wasi_messaging_request_reply_own_request_options_t options;
  if (any) {
    options = wasi_messaging_request_reply_constructor_request_options();
    wasi_messaging_request_reply_borrow_request_options_t o =
        wasi_messaging_request_reply_borrow_request_options(options);
    if (strcmp(timeout, "-") != 0)
      wasi_messaging_request_reply_method_request_options_set_timeout_ms(o, (uint32_t)atol(timeout));
    if (strcmp(expected, "-") != 0)
      wasi_messaging_request_reply_method_request_options_set_expected_replies(o, (uint32_t)atol(expected));
  }
  char text[256];
  int len = snprintf(text, sizeof text, "%s %s", tag, count);
  bytes_t body = {(uint8_t*)text, (size_t)len};
  own_msg m = wasi_messaging_types_constructor_message(&body);
  str_t t = s_("conf.d25.svc");
  wasi_messaging_request_reply_list_own_message_t replies;
  long long start = now_ms();
  bool ok = wasi_messaging_request_reply_request(wasi_messaging_types_borrow_client(c), &t,
                                                 wasi_messaging_types_borrow_message(m), any ? &options : NULL,
                                                 &replies, &e);
  rep_int(r, "elapsed_ms", now_ms() - start);
  rep_bool(r, "ok", ok);
  if (!ok) {
    rep_error(r, "request", &e);
    wasi_messaging_types_error_free(&e);
  } else {
    rep_int(r, "replies", (long long)replies.len);
    rep_key(r, "reply_data");
    rep_lit(r, "[");
    for (size_t i = 0; i < replies.len; ++i) {
      bytes_t d;
      wasi_messaging_types_method_message_data(wasi_messaging_types_borrow_message(replies.ptr[i]), &d);
      if (i) rep_lit(r, ",");
      rep_json_str(r, d.ptr, d.len);
      messaging_request_reply_list_u8_free(&d);
    }
    rep_lit(r, "]");
    if (replies.len) {
      rep_message(r, "first_reply_", wasi_messaging_types_borrow_message(replies.ptr[0]), false);
    }
    wasi_messaging_request_reply_list_own_message_free(&replies);
  }
  wasi_messaging_types_message_drop_own(m);
  wasi_messaging_types_client_drop_own(c);
}

static void command(char* tag, char* verb, char* arg) {
  report_t r = {0};
  rep_begin(&r, (const uint8_t*)tag, strlen(tag));
  rep_cstr(&r, "verb", verb);
  own_client c;
  msg_error e;
  if (strcmp(verb, "connect-unknown") == 0) {
    str_t name = s_("conformance-no-such-client");
    bool ok = wasi_messaging_types_static_client_connect(&name, &c, &e);
    rep_bool(&r, "ok", ok);
    if (ok) wasi_messaging_types_client_drop_own(c);
    else {
      rep_error(&r, "connect", &e);
      wasi_messaging_types_error_free(&e);
    }
  } else if (strcmp(verb, "disconnect-send") == 0) {
    if (!connect_default(&c, &e)) {
      rep_error(&r, "connect", &e);
      wasi_messaging_types_error_free(&e);
    } else {
      wasi_messaging_types_borrow_client_t b = wasi_messaging_types_borrow_client(c);
      bool dis = wasi_messaging_types_method_client_disconnect(b, &e);
      rep_bool(&r, "disconnect_ok", dis);
      if (!dis) {
        rep_error(&r, "disconnect", &e);
        wasi_messaging_types_error_free(&e);
      }
      bytes_t body = {(uint8_t*)tag, strlen(tag)};
      own_msg m = wasi_messaging_types_constructor_message(&body);
      str_t t = s_("conf.d25.sent");
      bool sent = wasi_messaging_producer_send(b, &t, m, &e);
      rep_bool(&r, "send_ok", sent);
      if (!sent) {
        rep_error(&r, "send", &e);
        wasi_messaging_types_error_free(&e);
      }
      wasi_messaging_types_client_drop_own(c);
    }
  } else if (strcmp(verb, "send") == 0 || strcmp(verb, "send-to") == 0) {
    if (!connect_default(&c, &e)) {
      rep_error(&r, "connect", &e);
      wasi_messaging_types_error_free(&e);
    } else {
      bytes_t body = {(uint8_t*)tag, strlen(tag)};
      own_msg m = wasi_messaging_types_constructor_message(&body);
      str_t t = s_(verb[4] == '-' ? arg : "conf.d25.sent");
      bool sent = wasi_messaging_producer_send(wasi_messaging_types_borrow_client(c), &t, m, &e);
      rep_bool(&r, "ok", sent);
      if (!sent) {
        rep_error(&r, "send", &e);
        wasi_messaging_types_error_free(&e);
      }
      wasi_messaging_types_client_drop_own(c);
    }
  } else if (strcmp(verb, "request") == 0) {
    do_request(&r, tag, arg);
  } else {
    rep_cstr(&r, "unknown_verb", verb);
  }
  rep_send(&r);
}

bool exports_wasi_messaging_incoming_handler_handle(own_msg message, msg_error* err) {
  char* text = data_text(wasi_messaging_types_borrow_message(message));
  wasi_messaging_types_message_drop_own(message);
  char *tag, *verb, *arg;
  if (parse_command(text, &tag, &verb, &arg)) command(tag, verb, arg);
  free(text);
  return true;
}
