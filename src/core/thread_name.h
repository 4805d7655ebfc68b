// Names the calling thread, so `top -H`, gdb and profilers tell Ferry's
// threads apart. Linux keeps 15 bytes of a name: longer ones are cut.
#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace ferry {

inline void NameThisThread(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace ferry
