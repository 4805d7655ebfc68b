// async_p3: an async-shape guest importing WASI 0.3 (wasi:clocks@0.3.0).
// Each message is answered on probe.out with "p3 clock ok" when two reads of
// the monotonic clock did not go backwards. The send is async; the task's
// state lives on the heap (the export's frame is gone once it returns WAIT).
#include <stdlib.h>

#include "async_p3.h"

typedef struct task {
  async_p3_waitable_set_t set;
  wasi_messaging_types_result_own_client_error_t connected;
  wasi_messaging_producer_result_void_error_t sent;
  wasi_messaging_types_own_client_t client;
  int step;
  bool ok;
} task_t;

static async_p3_callback_code_t end(task_t* t, bool failed, wasi_messaging_types_error_t err) {
  exports_wasi_messaging_incoming_handler_result_void_error_t ret = {.is_err = failed};
  if (failed) ret.val.err = err;
  if (t->step >= 2) wasi_messaging_types_client_drop_own(t->client);
  async_p3_waitable_set_drop(t->set);
  free(t);
  async_p3_context_set_0(NULL);
  exports_wasi_messaging_incoming_handler_handle_return(ret);
  return ASYNC_P3_CALLBACK_CODE_EXIT;
}

static bool returned(task_t* t, async_p3_subtask_status_t status) {
  if (ASYNC_P3_SUBTASK_STATE(status) == ASYNC_P3_SUBTASK_RETURNED) return true;
  async_p3_waitable_join(ASYNC_P3_SUBTASK_HANDLE(status), t->set);
  return false;
}

static async_p3_callback_code_t advance(task_t* t) {
  wasi_messaging_types_error_t none = {0};
  for (;;) {
    switch (t->step) {
      case 0: {
        t->step = 1;
        async_p3_string_t name;
        async_p3_string_set(&name, "default");
        if (!returned(t, wasi_messaging_types_static_client_connect(name, &t->connected)))
          return ASYNC_P3_CALLBACK_CODE_WAIT(t->set);
        break;
      }
      case 1: {
        if (t->connected.is_err) return end(t, true, t->connected.val.err);
        t->client = t->connected.val.ok;
        t->step = 2;
        const char* text = t->ok ? "p3 clock ok" : "p3 clock went backwards";
        size_t len = 0;
        while (text[len]) len++;
        async_p3_list_u8_t data = {(uint8_t*)text, len};
        async_p3_string_t topic;
        async_p3_string_set(&topic, "probe.out");
        if (!returned(t, wasi_messaging_producer_send(wasi_messaging_types_borrow_client(t->client), topic,
                                                      wasi_messaging_types_constructor_message(&data), &t->sent)))
          return ASYNC_P3_CALLBACK_CODE_WAIT(t->set);
        t->step = 3;
        break;
      }
      case 2:
        t->step = 3;
        break;
      case 3:
        if (t->sent.is_err) return end(t, true, t->sent.val.err);
        return end(t, false, none);
    }
  }
}

async_p3_callback_code_t exports_wasi_messaging_incoming_handler_handle(wasi_messaging_types_own_message_t message) {
  wasi_messaging_types_message_drop_own(message);
  task_t* t = calloc(1, sizeof *t);
  t->set = async_p3_waitable_set_new();
  async_p3_context_set_0(t);
  wasi_clocks_monotonic_clock_mark_t a = wasi_clocks_monotonic_clock_now();
  wasi_clocks_monotonic_clock_mark_t b = wasi_clocks_monotonic_clock_now();
  t->ok = b >= a && a > 0;
  return advance(t);
}

async_p3_callback_code_t exports_wasi_messaging_incoming_handler_handle_callback(async_p3_event_t* event) {
  task_t* t = async_p3_context_get_0();
  if (event->event == ASYNC_P3_EVENT_SUBTASK && event->code == ASYNC_P3_SUBTASK_RETURNED)
    async_p3_subtask_drop(event->waitable);
  return advance(t);
}
