// Files compiled into the `ferry` binary (cmake/FerryEmbedFiles.cmake):
// the `ferry new` templates under "templates/" and Ferry's WIT packages
// under "wit/".
#pragma once

#include <string_view>
#include <vector>

namespace ferry::cli {

struct EmbeddedFile {
  std::string_view path;  // e.g. "wit/messaging-0.2.0-draft/types.wit"
  std::string_view bytes;
};

const std::vector<EmbeddedFile>& EmbeddedFiles();

}  // namespace ferry::cli
