#include "wasm/glue.h"

namespace ferry::wasm {

Error FromWasmtime(const wasmtime::Error& error, std::string_view context) {
  std::string text = error.message();
  // wasmtime appends backtraces and "Caused by" chains after the first line;
  // keep the one line that says what happened, plus a trap's cause if any.
  std::string first = text.substr(0, text.find('\n'));
  const auto caused = text.find("Caused by:");
  if (caused != std::string::npos) {
    auto rest = text.substr(caused + 10);
    auto start = rest.find_first_not_of(" \n0:");
    if (start != std::string::npos) {
      rest = rest.substr(start);
      first += ": " + rest.substr(0, rest.find('\n'));
    }
  }
  std::string message = context.empty() ? first : std::string(context) + ": " + first;
  return Error::Guest(std::move(message));
}

wasmtime::Error ToWasmtime(const Error& error) { return wasmtime::Error(error.ToString()); }

wc::Val BytesToVal(std::span<const std::uint8_t> bytes) {
  // The C API represents list<u8> as one value per byte (wasmtime issue
  // 11617); fill the raw list in place rather than through std::vector<Val>.
  wasmtime_component_val_t raw;
  raw.kind = WASMTIME_COMPONENT_LIST;
  wasmtime_component_vallist_new_uninit(&raw.of.list, bytes.size());
  wasmtime_component_val_t* out = raw.of.list.data;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[i].kind = WASMTIME_COMPONENT_U8;
    out[i].of.u8 = bytes[i];
  }
  return wc::Val(std::move(raw));
}

Result<Bytes> ValToBytes(const wc::Val& val, std::uint64_t max_bytes) {
  if (!val.is_list()) return Error::InvalidArgument("expected list<u8>");
  const wc::List& list = val.get_list();
  if (list.size() > max_bytes)
    return Error::ResourceExhausted("data of " + std::to_string(list.size()) +
                                    " bytes is over the limit of " + std::to_string(max_bytes));
  std::vector<std::uint8_t> bytes(list.size());
  const auto* raw = reinterpret_cast<const wasmtime_component_val_t*>(list.begin());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (raw[i].kind != WASMTIME_COMPONENT_U8) return Error::InvalidArgument("expected list<u8>");
    bytes[i] = raw[i].of.u8;
  }
  return Bytes(std::move(bytes));
}

wc::Val MetadataToVal(const Metadata& metadata) {
  std::vector<wc::Val> entries;
  entries.reserve(metadata.size());
  for (const auto& [key, value] : metadata)
    entries.emplace_back(wc::Tuple({wc::Val::string(key), wc::Val::string(value)}));
  return wc::Val(wc::List(std::move(entries)));
}

Result<Metadata> ValToMetadata(const wc::Val& val, std::uint64_t max_bytes) {
  if (!val.is_list()) return Error::InvalidArgument("expected metadata list");
  std::vector<Metadata::Entry> entries;
  std::uint64_t total = 0;
  for (const wc::Val& item : val.get_list()) {
    if (!item.is_tuple() || item.get_tuple().size() != 2)
      return Error::InvalidArgument("expected (string, string) metadata entries");
    const wc::Val* kv = item.get_tuple().begin();
    if (!kv[0].is_string() || !kv[1].is_string())
      return Error::InvalidArgument("expected (string, string) metadata entries");
    total += kv[0].get_string().size() + kv[1].get_string().size();
    if (total > max_bytes)
      return Error::ResourceExhausted("metadata is over the limit of " +
                                      std::to_string(max_bytes) + " bytes");
    entries.emplace_back(std::string(kv[0].get_string()), std::string(kv[1].get_string()));
  }
  Metadata metadata;
  metadata.Assign(std::move(entries));
  return metadata;
}

wc::Val StringToVal(std::string_view s) { return wc::Val::string(s); }

wc::Val OptionalString(const std::optional<std::string>& s) {
  if (!s) return wc::Val(wc::WitOption(std::nullopt));
  return wc::Val(wc::WitOption(wc::Val::string(*s)));
}

}  // namespace ferry::wasm
