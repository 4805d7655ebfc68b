// ferry new NAME --lang c|cpp|python|js
//           [--world core|request-reply|0.1.0|async|async-request-reply]:
// writes a component project that builds with one command (./build.sh) and
// runs with `ferry run`. The templates and the WIT come from the binary
// itself (cli/embedded_files.h), so an installed ferry needs no data files.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/embedded_files.h"
#include "ferry/result.h"

namespace ferry::cli {
namespace {

namespace fs = std::filesystem;

struct NewOptions {
  std::string name;
  std::string lang;
  std::string world = "core";
  std::string dir;  // default: ./NAME
};

struct Lang {
  std::string_view name;       // as --lang takes it
  std::string_view full_name;  // for the README
  std::string_view source;     // the handler's file in the project
  std::vector<std::string_view> worlds;
};

const std::vector<Lang>& Langs() {
  static const std::vector<Lang> langs = {
      {"c", "C", "app.c", {"core", "request-reply", "0.1.0", "async", "async-request-reply"}},
      {"cpp", "C++", "app.cc", {"core", "request-reply", "0.1.0"}},
      {"python", "Python", "app.py", {"core", "request-reply", "async", "async-request-reply"}},
      {"js", "JavaScript", "app.js", {"core", "request-reply"}},
  };
  return langs;
}

struct World {
  std::string_view name;     // as --world takes it
  std::string_view wit_world;
  std::string_view package;  // folder under wit/
};

const std::vector<World>& Worlds() {
  static const std::vector<World> worlds = {
      {"core", "messaging-core", "messaging-0.2.0-draft"},
      {"request-reply", "messaging-request-reply", "messaging-0.2.0-draft"},
      {"0.1.0", "messaging", "messaging-0.1.0"},
      // The async shape (WASI 0.3): the same worlds, handle/send/reply async.
      {"async", "messaging-core", "messaging-0.2.0-draft-async"},
      {"async-request-reply", "messaging-request-reply", "messaging-0.2.0-draft-async"},
  };
  return worlds;
}

// Letters, digits, '-' and '_', starting with a letter: it names the
// directory, the .wasm and the topics (NAME.in, NAME.out), so it must be a
// single topic token and a plain file name.
bool IsGoodName(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalpha(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string Replace(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

std::string_view Embedded(std::string_view path) {
  for (const auto& f : EmbeddedFiles())
    if (f.path == path) return f.bytes;
  return {};
}

struct Project {
  const Lang& lang;
  const World& world;
  std::string name;

  std::string Fill(std::string text) const {
    std::string world_c(world.wit_world);
    std::replace(world_c.begin(), world_c.end(), '-', '_');
    text = Replace(std::move(text), "@NAME@", name);
    text = Replace(std::move(text), "@WORLD_C@", world_c);
    text = Replace(std::move(text), "@WORLD@", world.wit_world);
    text = Replace(std::move(text), "@SOURCE@", lang.source);
    text = Replace(std::move(text), "@LANG_NAME@", lang.full_name);
    return text;
  }

  // `ferry run` arguments after the .wasm: 0.1.0 components subscribe
  // themselves in configure().
  std::string RunArgs() const {
    return world.name == "0.1.0" ? "" : " -s " + name + ".in";
  }

  std::string Readme() const {
    std::string what, tryit;
    if (world.wit_world == "messaging-request-reply") {
      what = "It answers each request on `" + name + ".in` with \"hello, <request>\".";
      tryit = "ferry request " + name + ".in world      # prints: hello, world";
    } else {
      what = "It sends each message on `" + name + ".in` on to `" + name +
             ".out`, upper-cased" + (world.name == "0.1.0" ? "." : ", with `handled-by: " + name + "`.");
      tryit = "ferry subscribe " + name + ".out &\nferry publish " + name + ".in hello   # the subscriber prints HELLO";
    }
    if (world.package == "messaging-0.2.0-draft-async")
      what += "\nIts handler is async (WASI 0.3): while one call waits for the broker, the\n"
              "instance runs others, up to `max_concurrent_per_instance` (ferry.toml, default 16).";
    std::string text = Fill(std::string(Embedded("templates/README.md")));
    text = Replace(std::move(text), "@WHAT@", what);
    text = Replace(std::move(text), "@TRY@", tryit);
    return Replace(std::move(text), "@RUN_ARGS@", RunArgs());
  }
};

Status WriteFile(const fs::path& path, std::string_view bytes, bool executable) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return Error::Internal("cannot write " + path.string());
  if (executable) {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add, ec);
    if (ec) return Error::Internal("cannot make " + path.string() + " executable: " + ec.message());
  }
  return Status::Ok();
}

Status WriteProject(const Project& p, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir / "wit", ec);
  if (ec) return Error::Internal("cannot create " + (dir / "wit").string() + ": " + ec.message());
  const std::string lang(p.lang.name);
  std::string_view source = Embedded("templates/" + lang + "/" + std::string(p.world.name) +
                                     fs::path(p.lang.source).extension().string());
  std::string_view build = Embedded("templates/build-" + lang + ".sh");
  if (source.empty() || build.empty())
    return Error::Internal("this ferry lacks the template for " + lang + " " + std::string(p.world.name));
  FERRY_RETURN_IF_ERROR(WriteFile(dir / p.lang.source, p.Fill(std::string(source)), false));
  FERRY_RETURN_IF_ERROR(WriteFile(dir / "build.sh", p.Fill(std::string(build)), true));
  FERRY_RETURN_IF_ERROR(WriteFile(dir / "README.md", p.Readme(), false));
  FERRY_RETURN_IF_ERROR(WriteFile(dir / ".gitignore", "build/\n*.wasm\n", false));
  const std::string prefix = "wit/" + std::string(p.world.package) + "/";
  int wit_files = 0;
  for (const auto& f : EmbeddedFiles()) {
    if (!f.path.starts_with(prefix)) continue;
    FERRY_RETURN_IF_ERROR(WriteFile(dir / "wit" / f.path.substr(prefix.size()), f.bytes, false));
    ++wit_files;
  }
  if (wit_files == 0) return Error::Internal("this ferry lacks the WIT package " + prefix);
  return Status::Ok();
}

template <typename T>
std::string Names(const std::vector<T>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + std::string(i.name);
  return out;
}

std::string Join(const std::vector<std::string_view>& words) {
  std::string out;
  for (auto w : words) out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

// The languages with a template for `world`.
std::string LangsWith(std::string_view world) {
  std::vector<std::string_view> names;
  for (const Lang& l : Langs())
    if (std::find(l.worlds.begin(), l.worlds.end(), world) != l.worlds.end()) names.push_back(l.name);
  return Join(names);
}

int New(const NewOptions& options) {
  if (!IsGoodName(options.name)) {
    PrintError("new: '" + options.name +
               "' is not a usable name: letters, digits, '-' and '_', starting with a letter, "
               "at most 64 (it names the component and its topics)");
    return kExitUsage;
  }
  auto lang = std::find_if(Langs().begin(), Langs().end(),
                           [&](const Lang& l) { return l.name == options.lang; });
  if (lang == Langs().end()) {
    PrintError("new: unknown --lang '" + options.lang + "' (one of " + Names(Langs()) + ")");
    return kExitUsage;
  }
  auto world = std::find_if(Worlds().begin(), Worlds().end(),
                            [&](const World& w) { return w.name == options.world; });
  if (world == Worlds().end()) {
    PrintError("new: unknown --world '" + options.world + "' (one of " + Names(Worlds()) + ")");
    return kExitUsage;
  }
  if (std::find(lang->worlds.begin(), lang->worlds.end(), world->name) == lang->worlds.end()) {
    PrintError("new: --world " + options.world + " has no " + std::string(lang->name) +
               " template (" + options.world + ": " + LangsWith(world->name) + "; " +
               std::string(lang->name) + ": " + Join(lang->worlds) + ")");
    return kExitUsage;
  }
  const fs::path dir = options.dir.empty() ? fs::path(options.name) : fs::path(options.dir);
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      PrintError("new: " + dir.string() + " exists and is not a directory");
      return kExitUsage;
    }
    if (!fs::is_empty(dir, ec)) {
      PrintError("new: " + dir.string() + " already exists and is not empty");
      return kExitUsage;
    }
  }
  Project project{*lang, *world, options.name};
  if (Status written = WriteProject(project, dir); !written.ok()) {
    PrintError("new: " + written.error().message());
    return kExitFailure;
  }
  const bool async = world->package == "messaging-0.2.0-draft-async";
  std::printf("created %s: a %s component (world %s%s) in %s, built by build.sh\n",
              dir.string().c_str(), std::string(lang->full_name).c_str(),
              std::string(world->wit_world).c_str(), async ? ", async" : "",
              std::string(lang->source).c_str());
  std::printf("next: cd %s && ./build.sh && ferry run %s.wasm%s\n", dir.string().c_str(),
              options.name.c_str(), project.RunArgs().c_str());
  return 0;
}

}  // namespace

void AddNewCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<NewOptions>();
  CLI::App* cmd = app.add_subcommand("new", "Create a component project (source, WIT, build.sh)");
  cmd->add_option("name", options->name, "The component's name; also its directory and topics")
      ->required();
  cmd->add_option("-l,--lang", options->lang, "c, cpp, python or js")->required();
  cmd->add_option("-w,--world", options->world,
                  "core (handle and send), request-reply (answer requests), 0.1.0 "
                  "(wasi:messaging@0.1.0; c and cpp), or async / async-request-reply (the same "
                  "with an async handler, WASI 0.3, many calls per instance; c and python)");
  cmd->add_option("-o,--dir", options->dir, "Where to create it (default: ./NAME)");
  cmd->callback([options, &exit_code] { exit_code = New(*options); });
}

}  // namespace ferry::cli
