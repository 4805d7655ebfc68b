#include "support/mosquitto_conf.h"

#include <pwd.h>
#include <unistd.h>

namespace ferry::testing {

std::string MosquittoConf(std::uint16_t port, const std::string& rest) {
  std::string conf = "listener " + std::to_string(port) + " 127.0.0.1\n";
  if (::geteuid() == 0)
    if (const passwd* me = ::getpwuid(0)) conf += "user " + std::string(me->pw_name) + "\n";
  return conf + rest;
}

}  // namespace ferry::testing
