// async_probe: a guest of the async shape (WASI 0.3) for the host's tests.
// Each handle call is a task of its own (callback ABI): its state lives on
// the heap, found again through the task's context slot, since the stack
// frame is gone once the export returns WAIT. What it does depends on the
// message's topic:
//   probe.echo    send the message to probe.out
//   probe.hold    request on probe.gate, then send to probe.held the most
//                 calls it saw in flight at once (the test's responder
//                 answers only once enough requests wait)
//   probe.ask     request on probe.service (timeout-ms from the metadata),
//                 send the first reply's data to probe.answer; an error is
//                 the handler's
//   probe.fan     send N (the data, decimal) messages to probe.fan.out, all
//                 started before any is waited for
//   probe.reply   reply "re:<data>" to the message
//   probe.props   every message method, then probe.props.out; disconnect
//   probe.connect connect to a name the host does not know; fails with it
//   probe.trap    trap
//   probe.spin    loop forever (until handler_timeout_ms interrupts it)
//   probe.decide  request on probe.decide.service; trap if it answers "trap"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messaging_request_reply.h"

typedef wasi_messaging_types_error_t error_t;
typedef wasi_messaging_types_own_message_t message_t;
typedef messaging_request_reply_string_t string_t;
typedef messaging_request_reply_subtask_status_t status_t;

enum kind { ECHO, HOLD, ASK, FAN, REPLY, PROPS, CONNECT, TRAP, SPIN, DECIDE };

typedef struct task {
  enum kind kind;
  int step;
  message_t message;
  bool own_message;  // still ours to drop
  messaging_request_reply_waitable_set_t set;
  int pending;  // subtasks not returned yet
  bool failed;
  error_t err;
  string_t name;
  wasi_messaging_types_result_own_client_error_t connected;
  wasi_messaging_types_own_client_t client;
  bool have_client;
  wasi_messaging_request_reply_request_args_t request;
  wasi_messaging_request_reply_result_list_own_message_error_t replies;
  wasi_messaging_producer_result_void_error_t sent;
  wasi_messaging_request_reply_result_void_error_t replied;
  int fan_n;
  wasi_messaging_producer_result_void_error_t* fan;
  char text[64];
  string_t topic;
} task_t;

static int in_flight = 0;
static int most_in_flight = 0;

static void set_str(string_t* s, const char* text) { messaging_request_reply_string_set(s, text); }

// True when the call already returned; otherwise its subtask joins the
// task's waitable set and the task waits for it.
static bool returned(task_t* t, status_t status) {
  if (MESSAGING_REQUEST_REPLY_SUBTASK_STATE(status) == MESSAGING_REQUEST_REPLY_SUBTASK_RETURNED) return true;
  messaging_request_reply_subtask_t sub = MESSAGING_REQUEST_REPLY_SUBTASK_HANDLE(status);
  messaging_request_reply_waitable_join(sub, t->set);
  t->pending++;
  return false;
}

static message_t text_message(const char* text, size_t len) {
  messaging_request_reply_list_u8_t data = {(uint8_t*)text, len};
  return wasi_messaging_types_constructor_message(&data);
}

// Sends `m` to `topic` (a string literal, read when the subtask starts).
static bool start_send(task_t* t, const char* topic, message_t m, wasi_messaging_producer_result_void_error_t* out) {
  string_t s;
  set_str(&s, topic);
  return returned(t, wasi_messaging_producer_send(wasi_messaging_types_borrow_client(t->client), s, m, out));
}

static messaging_request_reply_callback_code_t finish(task_t* t) {
  exports_wasi_messaging_incoming_handler_result_void_error_t ret;
  ret.is_err = t->failed;
  if (t->failed) ret.val.err = t->err;
  if (t->kind == HOLD) in_flight--;
  if (t->own_message) wasi_messaging_types_message_drop_own(t->message);
  if (t->have_client) wasi_messaging_types_client_drop_own(t->client);
  messaging_request_reply_waitable_set_drop(t->set);
  free(t->fan);
  free(t);
  messaging_request_reply_context_set_0(NULL);
  exports_wasi_messaging_incoming_handler_handle_return(ret);
  return MESSAGING_REQUEST_REPLY_CALLBACK_CODE_EXIT;
}

static messaging_request_reply_callback_code_t fail(task_t* t, error_t err) {
  t->failed = true;
  t->err = err;
  return finish(t);
}

static messaging_request_reply_callback_code_t fail_text(task_t* t, const char* text) {
  error_t err;
  err.tag = WASI_MESSAGING_TYPES_ERROR_OTHER;
  messaging_request_reply_string_dup(&err.val.other, text);
  return fail(t, err);
}

static messaging_request_reply_callback_code_t wait(task_t* t) {
  return MESSAGING_REQUEST_REPLY_CALLBACK_CODE_WAIT(t->set);
}

static bool metadata_value(message_t m, const char* key, char* out, size_t size) {
  wasi_messaging_types_metadata_t md;
  bool found = false;
  if (!wasi_messaging_types_method_message_metadata(wasi_messaging_types_borrow_message(m), &md)) return false;
  for (size_t i = 0; i < md.len; i++) {
    if (md.ptr[i].f0.len == strlen(key) && memcmp(md.ptr[i].f0.ptr, key, md.ptr[i].f0.len) == 0) {
      size_t n = md.ptr[i].f1.len < size - 1 ? md.ptr[i].f1.len : size - 1;
      memcpy(out, md.ptr[i].f1.ptr, n);
      out[n] = 0;
      found = true;
    }
  }
  wasi_messaging_types_metadata_free(&md);
  return found;
}

static void read_data(message_t m, char* out, size_t size) {
  messaging_request_reply_list_u8_t data;
  wasi_messaging_types_method_message_data(wasi_messaging_types_borrow_message(m), &data);
  size_t n = data.len < size - 1 ? data.len : size - 1;
  memcpy(out, data.ptr, n);
  out[n] = 0;
  messaging_request_reply_list_u8_free(&data);
}

// Runs the task until it waits or ends. Steps: 0 connect, 1 connected,
// then the kind's own steps from 10.
static messaging_request_reply_callback_code_t advance(task_t* t) {
  for (;;) {
    if (t->pending > 0) return wait(t);
    switch (t->step) {
      case 0:
        t->step = 1;
        set_str(&t->name, t->kind == CONNECT ? "no-such-broker" : "default");
        if (!returned(t, wasi_messaging_types_static_client_connect(t->name, &t->connected))) return wait(t);
        break;
      case 1:
        if (t->connected.is_err) return fail(t, t->connected.val.err);
        t->client = t->connected.val.ok;
        t->have_client = true;
        t->step = 10;
        break;

      // The kinds' own steps.
      case 10:
        switch (t->kind) {
          case ECHO:
            t->own_message = false;
            t->step = 90;
            if (!start_send(t, "probe.out", t->message, &t->sent)) return wait(t);
            break;
          case HOLD:
          case ASK:
          case DECIDE: {
            t->step = 20;
            t->request.c = wasi_messaging_types_borrow_client(t->client);
            set_str(&t->request.topic, t->kind == HOLD     ? "probe.gate"
                                       : t->kind == DECIDE ? "probe.decide.service"
                                                           : "probe.service");
            t->request.message = wasi_messaging_types_borrow_message(t->message);
            char timeout[16];
            t->request.options.is_some = false;
            if (metadata_value(t->message, "timeout-ms", timeout, sizeof timeout)) {
              t->request.options.is_some = true;
              t->request.options.val = wasi_messaging_request_reply_constructor_request_options();
              wasi_messaging_request_reply_method_request_options_set_timeout_ms(
                  wasi_messaging_request_reply_borrow_request_options(t->request.options.val),
                  (uint32_t)atoi(timeout));
            }
            if (!returned(t, wasi_messaging_request_reply_request(&t->request, &t->replies))) return wait(t);
            break;
          }
          case FAN: {
            char data[16];
            read_data(t->message, data, sizeof data);
            t->fan_n = atoi(data);
            t->fan = calloc((size_t)t->fan_n, sizeof *t->fan);
            for (int i = 0; i < t->fan_n; i++) {
              int len = snprintf(t->text, sizeof t->text, "%d", i);
              (void)start_send(t, "probe.fan.out", text_message(t->text, (size_t)len), &t->fan[i]);
            }
            t->step = 30;
            break;
          }
          case REPLY: {
            char data[32];
            read_data(t->message, data, sizeof data);
            int len = snprintf(t->text, sizeof t->text, "re:%s", data);
            t->step = 91;
            if (!returned(t, wasi_messaging_request_reply_reply(wasi_messaging_types_borrow_message(t->message),
                                                              text_message(t->text, (size_t)len), &t->replied)))
              return wait(t);
            break;
          }
          case PROPS: {
            wasi_messaging_types_borrow_message_t in = wasi_messaging_types_borrow_message(t->message);
            wasi_messaging_types_topic_t topic;
            string_t ct;
            char in_topic[32] = "", in_ct[32] = "", in_k[32] = "";
            if (wasi_messaging_types_method_message_topic(in, &topic)) {
              snprintf(in_topic, sizeof in_topic, "%.*s", (int)topic.len, (const char*)topic.ptr);
              messaging_request_reply_string_free(&topic);
            }
            if (wasi_messaging_types_method_message_content_type(in, &ct)) {
              snprintf(in_ct, sizeof in_ct, "%.*s", (int)ct.len, (const char*)ct.ptr);
              messaging_request_reply_string_free(&ct);
            }
            metadata_value(t->message, "k", in_k, sizeof in_k);
            message_t out = text_message("x", 1);
            wasi_messaging_types_borrow_message_t o = wasi_messaging_types_borrow_message(out);
            string_t a, b;
            set_str(&a, "text/x-probe");
            wasi_messaging_types_method_message_set_content_type(o, &a);
            messaging_request_reply_tuple2_string_string_t pairs[3];
            set_str(&pairs[0].f0, "in-topic");
            set_str(&pairs[0].f1, in_topic);
            set_str(&pairs[1].f0, "in-content-type");
            set_str(&pairs[1].f1, in_ct);
            set_str(&pairs[2].f0, "dropped");
            set_str(&pairs[2].f1, "yes");
            wasi_messaging_types_metadata_t md = {pairs, 3};
            wasi_messaging_types_method_message_set_metadata(o, &md);
            set_str(&a, "in-k");
            set_str(&b, in_k);
            wasi_messaging_types_method_message_add_metadata(o, &a, &b);
            set_str(&a, "dropped");
            wasi_messaging_types_method_message_remove_metadata(o, &a);
            char data[32];
            read_data(t->message, data, sizeof data);
            messaging_request_reply_list_u8_t bytes = {(uint8_t*)data, strlen(data)};
            wasi_messaging_types_method_message_set_data(o, &bytes);
            t->step = 40;
            if (!start_send(t, "probe.props.out", out, &t->sent)) return wait(t);
            break;
          }
          case CONNECT:
          case TRAP:
          case SPIN: return fail_text(t, "unreachable");
        }
        break;

      case 20:  // request answered
        if (t->replies.is_err) return fail(t, t->replies.val.err);
        if (t->replies.val.ok.len == 0) return fail_text(t, "no reply");
        {
          message_t first = t->replies.val.ok.ptr[0];
          for (size_t i = 1; i < t->replies.val.ok.len; i++) wasi_messaging_types_message_drop_own(t->replies.val.ok.ptr[i]);
          free(t->replies.val.ok.ptr);
          if (t->kind == DECIDE) {
            char answer[16];
            read_data(first, answer, sizeof answer);
            wasi_messaging_types_message_drop_own(first);
            if (strcmp(answer, "trap") == 0) __builtin_trap();
            return finish(t);
          }
          if (t->kind == HOLD) {
            wasi_messaging_types_message_drop_own(first);
            int len = snprintf(t->text, sizeof t->text, "%d", most_in_flight);
            first = text_message(t->text, (size_t)len);
          }
          t->step = 90;
          if (!start_send(t, t->kind == HOLD ? "probe.held" : "probe.answer", first, &t->sent)) return wait(t);
        }
        break;

      case 30:  // every fan-out send returned
        for (int i = 0; i < t->fan_n; i++)
          if (t->fan[i].is_err) return fail(t, t->fan[i].val.err);
        return finish(t);

      case 40: {  // props sent: disconnect, then a send on it must fail
        if (t->sent.is_err) return fail(t, t->sent.val.err);
        error_t err;
        if (!wasi_messaging_types_method_client_disconnect(wasi_messaging_types_borrow_client(t->client), &err))
          return fail(t, err);
        t->step = 41;
        if (!start_send(t, "probe.props.out", text_message("late", 4), &t->sent)) return wait(t);
        break;
      }
      case 41:
        if (!t->sent.is_err) return fail_text(t, "a disconnected client could still send");
        if (t->sent.val.err.tag != WASI_MESSAGING_TYPES_ERROR_CONNECTION) return fail(t, t->sent.val.err);
        wasi_messaging_types_error_free(&t->sent.val.err);
        return finish(t);

      case 90:  // a send returned: its result is the handler's
        if (t->sent.is_err) return fail(t, t->sent.val.err);
        return finish(t);
      case 91:
        if (t->replied.is_err) return fail(t, t->replied.val.err);
        return finish(t);
      default: return fail_text(t, "bad step");
    }
  }
}

static bool has_prefix(const char* topic, size_t len, const char* prefix) {
  size_t n = strlen(prefix);
  return len >= n && memcmp(topic, prefix, n) == 0;
}

messaging_request_reply_callback_code_t exports_wasi_messaging_incoming_handler_handle(message_t message) {
  task_t* t = calloc(1, sizeof *t);
  t->message = message;
  t->own_message = true;
  t->set = messaging_request_reply_waitable_set_new();
  messaging_request_reply_context_set_0(t);
  wasi_messaging_types_topic_t topic;
  const char* p = "";
  size_t len = 0;
  if (wasi_messaging_types_method_message_topic(wasi_messaging_types_borrow_message(message), &topic)) {
    p = (const char*)topic.ptr;
    len = topic.len;
  }
  t->kind = has_prefix(p, len, "probe.hold")      ? HOLD
            : has_prefix(p, len, "probe.ask")     ? ASK
            : has_prefix(p, len, "probe.fan")     ? FAN
            : has_prefix(p, len, "probe.reply")   ? REPLY
            : has_prefix(p, len, "probe.props")   ? PROPS
            : has_prefix(p, len, "probe.connect") ? CONNECT
            : has_prefix(p, len, "probe.trap")    ? TRAP
            : has_prefix(p, len, "probe.spin")    ? SPIN
            : has_prefix(p, len, "probe.decide")  ? DECIDE
                                                  : ECHO;
  if (len > 0) messaging_request_reply_string_free(&topic);
  if (t->kind == TRAP) __builtin_trap();
  if (t->kind == SPIN) {
    volatile unsigned spins = 0;
    for (;;) spins++;
  }
  if (t->kind == HOLD) {
    in_flight++;
    if (in_flight > most_in_flight) most_in_flight = in_flight;
  }
  return advance(t);
}

messaging_request_reply_callback_code_t exports_wasi_messaging_incoming_handler_handle_callback(
    messaging_request_reply_event_t* event) {
  task_t* t = messaging_request_reply_context_get_0();
  if (event->event == MESSAGING_REQUEST_REPLY_EVENT_SUBTASK &&
      event->code == MESSAGING_REQUEST_REPLY_SUBTASK_RETURNED) {
    messaging_request_reply_subtask_drop(event->waitable);
    t->pending--;
  }
  return advance(t);
}
