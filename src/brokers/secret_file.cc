#include "brokers/secret_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ferry {

Result<std::string> ReadSecretFile(std::string_view setting, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error::InvalidArgument(std::string(setting) + ": cannot read '" + path +
                                  "': " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return Error::InvalidArgument(std::string(setting) + ": '" + path + "' is empty");
  return secret;
}

}  // namespace ferry
