// Running a command line from a test, as a user would type it.
#pragma once

#include <string>

namespace ferry::testing {

// Runs `command` with /bin/sh and returns everything it wrote to stdout and
// stderr, byte for byte.
std::string Shell(const std::string& command);

}  // namespace ferry::testing
