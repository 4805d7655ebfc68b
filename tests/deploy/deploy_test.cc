// The files in deploy/ against Ferry itself: the Kubernetes ConfigMap's
// ferry.toml is a configuration Ferry accepts, its probes and scrape port
// are the ones that configuration serves, and the systemd unit's command
// line parses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/config.h"
#include "support/matchers.h"
#include "support/shell.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;

std::string Read(const std::string& relative) {
  std::ifstream in(std::string(FERRY_SOURCE_DIR) + "/" + relative);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The block scalar under "ferry.toml: |", without its indentation.
std::string EmbeddedToml(const std::string& yaml) {
  std::istringstream in(yaml);
  std::string line, out;
  bool inside = false;
  std::size_t indent = 0;
  while (std::getline(in, line)) {
    if (!inside) {
      inside = line.find("ferry.toml: |") != std::string::npos;
      continue;
    }
    if (line == "---") break;
    if (!line.empty() && indent == 0) indent = line.find_first_not_of(' ');
    out += (line.size() > indent ? line.substr(indent) : "") + "\n";
  }
  return out;
}

TEST(Deploy, TheKubernetesConfigIsOneFerryAccepts) {
  const std::string yaml = Read("deploy/kubernetes/ferry.yaml");
  std::string toml = EmbeddedToml(yaml);
  ASSERT_THAT(toml, HasSubstr("[[component]]"));
  // The image's component is not here: the echo example stands in for it.
  const std::string image_path = "/components/orders.wasm";
  const auto path = toml.find(image_path);
  ASSERT_NE(path, std::string::npos);
  toml.replace(path, image_path.size(), std::string(FERRY_COMPONENT_DIR) + "/echo.wasm");
  auto config = config::ParseConfig(toml, "/");
  ASSERT_OK(config);
  EXPECT_EQ(config->host.metrics, "0.0.0.0:9464");
  EXPECT_EQ(config->host.log_format, "json");
  ASSERT_EQ(config->components.size(), 1u);
  EXPECT_EQ(config->components[0].queue_group, "orders");
  // The probes and the scrape go where that configuration serves.
  EXPECT_THAT(yaml, HasSubstr("containerPort: 9464"));
  EXPECT_THAT(yaml, HasSubstr("prometheus.io/port: \"9464\""));
  EXPECT_THAT(yaml, HasSubstr("path: /readyz"));
  EXPECT_THAT(yaml, HasSubstr("path: /healthz"));
  EXPECT_THAT(yaml, HasSubstr("prometheus.io/path: /metrics"));
}

TEST(Deploy, TheSystemdUnitsCommandLineParses) {
  const std::string unit = Read("deploy/systemd/ferry.service");
  const auto at = unit.find("ExecStart=/usr/local/bin/ferry ");
  ASSERT_NE(at, std::string::npos);
  const auto end = unit.find('\n', at);
  std::string args = unit.substr(at + std::string("ExecStart=/usr/local/bin/ferry ").size(),
                                 end - at - std::string("ExecStart=/usr/local/bin/ferry ").size());
  // The same options with a config file that does not exist: an options
  // error would be exit 2 naming the option; this must fail on the file.
  const std::string out = Shell(std::string(FERRY_BINARY) + " " + args + " 2>&1; echo exit=$?");
  EXPECT_THAT(out, HasSubstr("/etc/ferry/ferry.toml")) << out;
  EXPECT_THAT(out, ::testing::Not(HasSubstr("see ferry --help"))) << out;
}

}  // namespace
}  // namespace ferry::testing
