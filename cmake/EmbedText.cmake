# cmake -DIN=file -DOUT=file.cc -DFUNCTION=ns::Name -P EmbedText.cmake
# Writes a .cc defining `std::string_view Name()` in namespace `ns` that
# returns the bytes of IN (text without the sequence )ferry_embed").
file(READ "${IN}" content)
string(FIND "${content}" ")ferry_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )ferry_embed\"")
endif()
string(REGEX REPLACE "::[^:]*$" "" ns "${FUNCTION}")
string(REGEX REPLACE "^.*::" "" name "${FUNCTION}")
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by cmake/EmbedText.cmake.\n#include <string_view>\nnamespace ${ns} {\nstd::string_view ${name}() {\n  static constexpr char kText[] = R\"ferry_embed(${content})ferry_embed\";\n  return {kText, sizeof(kText) - 1};\n}\n}  // namespace ${ns}\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
