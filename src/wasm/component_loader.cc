#include "wasm/component_loader.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

namespace ferry::wasm {
namespace {

// The cache key: the engine's own hash of what makes its machine code
// loadable (Wasmtime's version, settings and the CPU's features), and two
// independent 64-bit FNV-1a hashes of the file.
std::string CacheKey(const Engine& engine, std::span<const std::uint8_t> bytes) {
  std::uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  for (std::uint8_t c : bytes) {
    a = (a ^ c) * 0x100000001b3ull;
    b = (b ^ static_cast<std::uint8_t>(c + 0x5b)) * 0x100000001b3ull;
  }
  return fmt::format("{:016x}-{:016x}{:016x}-{}", fe_engine_code_hash(engine.raw()), a, b,
                     bytes.size());
}

// Keeps the compilation cache within `max_bytes` (0: no limit): entries
// used least recently go first (a load touches its file), never `keep`,
// the one just written. Temporary files that writers which died left
// behind go after an hour. Files of other names are not Ferry's: left alone.
void PruneCache(const std::filesystem::path& dir, std::uint64_t max_bytes, const std::filesystem::path& keep) {
  struct Entry {
    std::filesystem::path path;
    std::uint64_t size;
    std::filesystem::file_time_type used;
  };
  std::vector<Entry> entries;
  std::uint64_t total = 0;
  std::error_code ec;
  const auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    std::error_code fec;
    const auto used = e.last_write_time(fec);
    if (fec) continue;
    if (name.find(".cwasm.tmp") != std::string::npos) {
      if (now - used > std::chrono::hours(1)) std::filesystem::remove(e.path(), fec);
      continue;
    }
    if (!name.ends_with(".cwasm") || !e.is_regular_file(fec)) continue;
    const std::uint64_t size = e.file_size(fec);
    if (fec) continue;
    entries.push_back({e.path(), size, used});
    total += size;
  }
  if (max_bytes == 0 || total <= max_bytes) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.used < b.used; });
  std::size_t removed = 0;
  for (const Entry& e : entries) {
    if (total <= max_bytes) break;
    if (e.path == keep) continue;
    std::error_code rec;
    if (std::filesystem::remove(e.path, rec)) {
      total -= e.size;
      ++removed;
    }
  }
  spdlog::info("compilation cache {}: removed {} entries used least recently; {} MiB kept (limit {} MiB)",
               dir.string(), removed, total >> 20, max_bytes >> 20);
}

bool Has(const std::vector<std::string>& names, std::string_view prefix) {
  for (const auto& n : names)
    if (n.starts_with(prefix)) return true;
  return false;
}

// Interfaces outside wasi:messaging that the host links: WASI preview 2.
bool IsProvidedWasi(std::string_view name) {
  for (std::string_view pkg : {"wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/",
                               "wasi:filesystem/", "wasi:sockets/"})
    if (name.starts_with(pkg)) return true;
  // Outgoing HTTP, held to the component's allow_http grants.
  for (std::string_view iface : {"wasi:http/types@0.2.", "wasi:http/outgoing-handler@0.2."})
    if (name.starts_with(iface)) return true;
  return false;
}

}  // namespace

std::string_view ShapeName(Shape shape) {
  switch (shape) {
    case Shape::kDraft2025: return "wasi:messaging@0.2.0-draft (2025: types, request-reply, incoming-handler)";
    case Shape::kV010: return "wasi:messaging@0.1.0 (messaging-types, consumer, messaging-guest)";
    case Shape::kDraft2024: return "wasi:messaging@0.2.0-draft (2024: the 0.1.0 interfaces)";
    case Shape::kDraftAsync: return "wasi:messaging@0.2.0-draft, async (WASI 0.3: types, request-reply, incoming-handler)";
  }
  return "unknown";
}

Result<std::vector<std::uint8_t>> ReadComponentFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::NotFound(path.string() + ": cannot open the file");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  FERRY_RETURN_IF_ERROR(CheckComponentBytes(path, bytes));
  return bytes;
}

Status CheckComponentBytes(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  static constexpr std::array<std::uint8_t, 4> kMagic{0x00, 0x61, 0x73, 0x6d};
  if (bytes.size() < 8 || !std::equal(kMagic.begin(), kMagic.end(), bytes.begin()))
    return Error::InvalidArgument(path.string() + " is not a WebAssembly file");
  // Bytes 4..7: a core module has version 1, layer 0; a component has layer 1.
  if (bytes[6] == 0 && bytes[7] == 0)
    return Error::InvalidArgument(
        path.string() +
        " is a core WebAssembly module, not a component (wrap it with `wasm-tools component new`)");
  return Status::Ok();
}

Result<ComponentPtr> CompileCached(const Engine& engine, const std::filesystem::path& path,
                                   std::span<const std::uint8_t> bytes) {
  const auto& dir = engine.options().cache_dir;
  std::filesystem::path cached;
  if (!dir.empty()) {
    cached = dir / (CacheKey(engine, bytes) + ".cwasm");
    std::ifstream in(cached, std::ios::binary);
    if (in) {
      std::vector<std::uint8_t> code((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
      EngineText err;
      if (fe_component* loaded = fe_component_deserialize(engine.raw(), code.data(), code.size(), err.out())) {
        spdlog::debug("{}: loaded compiled code from {}", path.string(), cached.string());
        // Marks it used: the cache's limit removes entries used least recently.
        std::error_code ec;
        std::filesystem::last_write_time(cached, std::filesystem::file_time_type::clock::now(), ec);
        return ComponentPtr(loaded);
      }
      spdlog::warn("{}: ignoring unusable cache entry {}: {}", path.string(), cached.string(), err.str());
    }
  }
  EngineText err;
  ComponentPtr component(fe_component_compile(engine.raw(), bytes.data(), bytes.size(), err.out()));
  if (!component) return Error::InvalidArgument(path.string() + " is not a valid component: " + err.str());
  if (!cached.empty()) {
    fe_buffer code{};
    EngineText serr;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    bool written = false;
    if (fe_component_serialize(component.get(), &code, serr.out())) {
      const Bytes held = AdoptBuffer(code);
      const auto tmp = cached.string() + ".tmp" + std::to_string(::getpid());
      std::ofstream out(tmp, std::ios::binary);
      out.write(reinterpret_cast<const char*>(held.data()), static_cast<std::streamsize>(held.size()));
      out.close();
      if (out && !ec) {
        std::filesystem::rename(tmp, cached, ec);  // atomic: readers see all or nothing
        written = !ec;
      }
      if (!written) std::filesystem::remove(tmp, ec);
    }
    if (!written) spdlog::warn("{}: could not write the compilation cache in {}", path.string(), dir.string());
    else PruneCache(dir, engine.options().cache_max_bytes, cached);
  }
  return component;
}

Result<ComponentReport> Describe(const std::filesystem::path& path, const fe_component& component) {
  ComponentReport report;
  fe_component_names(&component, &report, [](void* ctx, bool is_export, fe_str name) {
    auto* r = static_cast<ComponentReport*>(ctx);
    (is_export ? r->exports : r->imports).emplace_back(FromFe(name));
  });

  std::vector<std::string> all = report.imports;
  all.insert(all.end(), report.exports.begin(), report.exports.end());
  const bool v010 = Has(all, "wasi:messaging/") &&
                    std::any_of(all.begin(), all.end(), [](const std::string& n) {
                      return n.starts_with("wasi:messaging/") && n.ends_with("@0.1.0");
                    });
  const bool old_ifaces = Has(all, "wasi:messaging/messaging-types@") ||
                          Has(all, "wasi:messaging/consumer@") ||
                          Has(all, "wasi:messaging/messaging-guest@");
  const bool new_ifaces = Has(all, "wasi:messaging/types@") ||
                          Has(all, "wasi:messaging/request-reply@") ||
                          Has(all, "wasi:messaging/incoming-handler@");
  if (old_ifaces && new_ifaces)
    return Error::InvalidArgument(
        path.string() + " mixes interfaces of two wasi:messaging versions (0.1.0-style "
                        "messaging-types/consumer/messaging-guest with 2025 types/request-reply/"
                        "incoming-handler); build it against one");
  // The async variant has the same names and version: its functions' types
  // tell it apart.
  if (new_ifaces)
    report.shape = fe_component_messaging_async(&component) ? Shape::kDraftAsync : Shape::kDraft2025;
  else if (old_ifaces)
    report.shape = v010 ? Shape::kV010 : Shape::kDraft2024;
  else if (Has(all, "wasi:messaging/producer@0.2.0-draft"))
    report.shape = fe_component_messaging_async(&component) ? Shape::kDraftAsync : Shape::kDraft2025;
  else if (Has(all, "wasi:messaging/"))
    report.shape = Shape::kV010;
  else
    return Error::InvalidArgument(path.string() +
                                  " neither imports nor exports any wasi:messaging interface");
  return report;
}

Result<std::shared_ptr<CompiledComponent>> LoadCompiledComponent(const Engine& engine,
                                                                 const std::filesystem::path& path) {
  auto bytes = ReadComponentFile(path);
  if (!bytes.ok()) return bytes.error();
  return LoadCompiledComponent(engine, path, *bytes);
}

Result<std::shared_ptr<CompiledComponent>> LoadCompiledComponent(const Engine& engine,
                                                                 const std::filesystem::path& path,
                                                                 std::span<const std::uint8_t> bytes) {
  FERRY_RETURN_IF_ERROR(CheckComponentBytes(path, bytes));
  auto component = CompileCached(engine, path, bytes);
  if (!component.ok()) return component.error();
  auto report = Describe(path, **component);
  if (!report.ok()) return report.error();

  std::string version;
  std::vector<std::string> interfaces;
  std::string required_export;
  switch (report->shape) {
    case Shape::kDraft2025:
    case Shape::kDraftAsync:
      version = "0.2.0-draft";
      interfaces = {"types", "producer", "request-reply"};
      required_export = "incoming-handler";
      break;
    case Shape::kV010:
    case Shape::kDraft2024:
      version = report->shape == Shape::kV010 ? "0.1.0" : "0.2.0-draft";
      interfaces = {"messaging-types", "producer", "consumer"};
      required_export = "messaging-guest";
      break;
  }
  std::set<std::string> provided;
  for (const std::string& i : interfaces) provided.insert("wasi:messaging/" + i + "@" + version);
  required_export = "wasi:messaging/" + required_export + "@" + version;
  for (const std::string& name : report->imports) {
    if (!provided.count(name) && !IsProvidedWasi(name))
      return Error::InvalidArgument(path.string() + " imports " + name +
                                    ", which Ferry does not provide");
  }
  if (std::find(report->exports.begin(), report->exports.end(), required_export) ==
      report->exports.end())
    return Error::InvalidArgument(path.string() + " does not export " + required_export +
                                  ", so Ferry has nothing to deliver messages to");
  return MakeCompiledComponent(engine, path, std::move(component).value(), std::move(report).value());
}

Result<ComponentReport> InspectComponent(Engine& engine, const std::filesystem::path& path) {
  auto bytes = ReadComponentFile(path);
  if (!bytes.ok()) return bytes.error();
  auto component = CompileCached(engine, path, *bytes);
  if (!component.ok()) return component.error();
  return Describe(path, **component);
}

}  // namespace ferry::wasm
