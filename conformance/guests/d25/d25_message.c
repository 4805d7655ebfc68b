// d25_message: the message resource of wasi:messaging 0.2.0-draft.
// Subscribed to conf.d25.msg, where commands arrive and where it sends
// messages to itself ("<tag> hop-seen"), to see what survives the trip
// through the host and the broker.
// Commands ("<tag> <verb> [arg]"), each answered by one report:
//   fresh           a message made by the guest: topic, content-type, metadata, data
//   set-data        constructor("old"), set-data("new"): data
//   add-metadata    add (k,1), (k,2), (j,3): metadata
//   set-metadata    add (x,1), set-metadata [(a,1),(b,2)]: metadata
//   remove-metadata set-metadata [(a,1),(b,2),(c,3)], remove b: metadata
//   content-type    set-content-type("text/plain"), then again ("application/json")
//   dup-local       set-metadata [(k,1),(k,2)]: metadata as the guest reads it back
//   delivered       the delivered message as the guest sees it
//   hop <variant>   sends to conf.d25.msg a message with data "<tag> hop-seen"
//                   and the variant's metadata (unicode, empty, hundred, dup,
//                   content-type)
//   hop-seen        reports the delivered message (what arrived of a hop)
//   reply-none      reply() to the delivered message (published with no
//                   reply address): the outcome
#include "d25.h"

static void pair(messaging_request_reply_tuple2_string_string_t* p, const char* k, const char* v) {
  p->f0 = s_(k);
  p->f1 = s_(v);
}

static own_msg make(const char* text) {
  bytes_t body = {(uint8_t*)text, strlen(text)};
  return wasi_messaging_types_constructor_message(&body);
}

static void set_pairs(msg_ref m, messaging_request_reply_tuple2_string_string_t* ps, size_t n) {
  wasi_messaging_types_metadata_t md = {ps, n};
  wasi_messaging_types_method_message_set_metadata(m, &md);
}

// Fills `m` with the metadata of a hop variant; false for an unknown one.
static bool hop_metadata(msg_ref m, const char* variant) {
  messaging_request_reply_tuple2_string_string_t ps[100];
  static char keys[100][16], values[100][16];
  if (strcmp(variant, "unicode") == 0) {
    pair(&ps[0], "cl\xc3\xa9-\xc3\xbc", "v\xc3\xa4lue \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac");
    pair(&ps[1], "emoji-\xf0\x9f\x9a\x80", "\xf0\x9f\x9a\x80");
    set_pairs(m, ps, 2);
  } else if (strcmp(variant, "empty") == 0) {
    pair(&ps[0], "empty", "");
    pair(&ps[1], "full", "x");
    set_pairs(m, ps, 2);
  } else if (strcmp(variant, "hundred") == 0) {
    for (int i = 0; i < 100; ++i) {
      snprintf(keys[i], sizeof keys[i], "key-%03d", i);
      snprintf(values[i], sizeof values[i], "value-%03d", i);
      pair(&ps[i], keys[i], values[i]);
    }
    set_pairs(m, ps, 100);
  } else if (strcmp(variant, "dup") == 0) {
    pair(&ps[0], "k", "1");
    pair(&ps[1], "k", "2");
    set_pairs(m, ps, 2);
  } else if (strcmp(variant, "content-type") == 0) {
    str_t ct = s_("application/json");
    wasi_messaging_types_method_message_set_content_type(m, &ct);
  } else {
    return false;
  }
  return true;
}

static void command(msg_ref delivered, char* tag, char* verb, char* arg) {
  report_t r = {0};
  rep_begin(&r, (const uint8_t*)tag, strlen(tag));
  rep_cstr(&r, "verb", verb);
  if (strcmp(verb, "fresh") == 0) {
    own_msg m = make("abc");
    rep_message(&r, "", wasi_messaging_types_borrow_message(m), true);
    wasi_messaging_types_message_drop_own(m);
  } else if (strcmp(verb, "set-data") == 0) {
    own_msg m = make("old");
    bytes_t fresh = {(uint8_t*)"new", 3};
    wasi_messaging_types_method_message_set_data(wasi_messaging_types_borrow_message(m), &fresh);
    rep_message(&r, "", wasi_messaging_types_borrow_message(m), true);
    wasi_messaging_types_message_drop_own(m);
  } else if (strcmp(verb, "add-metadata") == 0 || strcmp(verb, "set-metadata") == 0 ||
             strcmp(verb, "remove-metadata") == 0 || strcmp(verb, "dup-local") == 0) {
    own_msg m = make("");
    msg_ref b = wasi_messaging_types_borrow_message(m);
    messaging_request_reply_tuple2_string_string_t ps[3];
    if (verb[0] == 'a') {
      str_t k = s_("k"), one = s_("1"), two = s_("2"), j = s_("j"), three = s_("3");
      wasi_messaging_types_method_message_add_metadata(b, &k, &one);
      wasi_messaging_types_method_message_add_metadata(b, &k, &two);
      wasi_messaging_types_method_message_add_metadata(b, &j, &three);
    } else if (verb[0] == 's') {
      str_t x = s_("x"), one = s_("1");
      wasi_messaging_types_method_message_add_metadata(b, &x, &one);
      pair(&ps[0], "a", "1");
      pair(&ps[1], "b", "2");
      set_pairs(b, ps, 2);
    } else if (verb[0] == 'r') {
      pair(&ps[0], "a", "1");
      pair(&ps[1], "b", "2");
      pair(&ps[2], "c", "3");
      set_pairs(b, ps, 3);
      str_t k = s_("b");
      wasi_messaging_types_method_message_remove_metadata(b, &k);
    } else {
      pair(&ps[0], "k", "1");
      pair(&ps[1], "k", "2");
      set_pairs(b, ps, 2);
    }
    rep_message(&r, "", b, true);
    wasi_messaging_types_message_drop_own(m);
  } else if (strcmp(verb, "content-type") == 0) {
    own_msg m = make("");
    msg_ref b = wasi_messaging_types_borrow_message(m);
    str_t ct = s_("text/plain");
    wasi_messaging_types_method_message_set_content_type(b, &ct);
    rep_message(&r, "first_", b, false);
    ct = s_("application/json");
    wasi_messaging_types_method_message_set_content_type(b, &ct);
    rep_message(&r, "second_", b, false);
    wasi_messaging_types_message_drop_own(m);
  } else if (strcmp(verb, "delivered") == 0) {
    rep_message(&r, "", delivered, true);
  } else if (strcmp(verb, "hop-seen") == 0) {
    rep_message(&r, "", delivered, false);
  } else if (strcmp(verb, "hop") == 0) {
    char body[256];
    snprintf(body, sizeof body, "%s hop-seen", tag);
    own_msg m = make(body);
    bool known = hop_metadata(wasi_messaging_types_borrow_message(m), arg);
    rep_cstr(&r, "variant", arg);
    rep_bool(&r, "known_variant", known);
    own_client c;
    msg_error e;
    if (!connect_default(&c, &e)) {
      rep_error(&r, "connect", &e);
      wasi_messaging_types_error_free(&e);
      wasi_messaging_types_message_drop_own(m);
    } else {
      str_t t = s_("conf.d25.msg");
      bool sent = wasi_messaging_producer_send(wasi_messaging_types_borrow_client(c), &t, m, &e);
      rep_bool(&r, "sent", sent);
      if (!sent) {
        rep_error(&r, "send", &e);
        wasi_messaging_types_error_free(&e);
      }
      wasi_messaging_types_client_drop_own(c);
    }
  } else if (strcmp(verb, "reply-none") == 0) {
    own_msg m = make("reply");
    msg_error e;
    bool ok = wasi_messaging_request_reply_reply(delivered, m, &e);
    rep_bool(&r, "ok", ok);
    if (!ok) {
      rep_error(&r, "reply", &e);
      wasi_messaging_types_error_free(&e);
    }
  } else {
    rep_cstr(&r, "unknown_verb", verb);
  }
  rep_send(&r);
}

bool exports_wasi_messaging_incoming_handler_handle(own_msg message, msg_error* err) {
  msg_ref m = wasi_messaging_types_borrow_message(message);
  char* text = data_text(m);
  char *tag, *verb, *arg;
  if (parse_command(text, &tag, &verb, &arg)) command(m, tag, verb, arg);
  free(text);
  wasi_messaging_types_message_drop_own(message);
  return true;
}
