#include "support/send_refused.h"

#include <gtest/gtest.h>

#include "support/log_capture.h"
#include "support/matchers.h"

namespace ferry::testing {

void ExpectARefusedSendFailsItsDelivery(RunningHost& h, const std::string& in_topic, const std::string& command,
                                        const std::string& broker_reason) {
  LogCapture log;
  ASSERT_OK(h.Publish(in_topic, command));
  const ComponentStats st = h.WaitForStats("misbehave", [](const ComponentStats& s) { return s.given_up == 1; });
  EXPECT_EQ(st.failed, 2u);
  EXPECT_EQ(st.handled, 0u);
  EXPECT_GE(log.Count("a message it sent was not confirmed by the broker"), 1u);
  if (!broker_reason.empty()) EXPECT_GE(log.Count(broker_reason), 1u) << broker_reason;
  // The guest's sends themselves returned: it reported no error of its own.
  EXPECT_EQ(log.Count("burst 0:"), 0u);
}

void ExpectARefusedSendFailsItsDelivery(const std::string& broker_url, const std::string& in_topic,
                                        const std::string& refused_topic, const std::string& broker_reason) {
  RunningHost h("[brokers]\ndefault = \"" + broker_url +
                "\"\n[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
                "subscribe = [\"" + in_topic + "\"]\nmax_attempts = 2\nretry_delay_ms = 10\n");
  ASSERT_OK(h.start_status());
  ExpectARefusedSendFailsItsDelivery(h, in_topic, "burst 3 " + refused_topic, broker_reason);
}

}  // namespace ferry::testing
