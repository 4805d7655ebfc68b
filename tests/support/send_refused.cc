#include "support/send_refused.h"

#include <gtest/gtest.h>

#include "support/host_fixture.h"
#include "support/log_capture.h"
#include "support/matchers.h"

namespace ferry::testing {

void ExpectARefusedSendFailsItsDelivery(const std::string& broker_url, const std::string& in_topic,
                                        const std::string& refused_topic) {
  LogCapture log;
  RunningHost h("[brokers]\ndefault = \"" + broker_url +
                "\"\n[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
                "subscribe = [\"" + in_topic + "\"]\nmax_attempts = 2\nretry_delay_ms = 10\n");
  ASSERT_OK(h.start_status());
  ASSERT_OK(h.Publish(in_topic, "burst 3 " + refused_topic));
  const ComponentStats st = h.WaitForStats("misbehave", [](const ComponentStats& s) { return s.given_up == 1; });
  EXPECT_EQ(st.failed, 2u);
  EXPECT_EQ(st.handled, 0u);
  EXPECT_GE(log.Count("a message it sent was not confirmed by the broker"), 1u);
  // The guest's sends themselves returned: it reported no error of its own.
  EXPECT_EQ(log.Count("burst 0:"), 0u);
}

}  // namespace ferry::testing
