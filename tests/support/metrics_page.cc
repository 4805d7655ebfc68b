#include "support/metrics_page.h"

#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>

namespace ferry::testing {
namespace {

bool ValidName(const std::string& name) {
  static const std::regex pattern("[a-zA-Z_:][a-zA-Z0-9_:]*");
  return std::regex_match(name, pattern);
}

// The family a sample name belongs to: histogram samples carry a suffix.
std::string FamilyOf(const std::string& name, const std::map<std::string, std::string>& types) {
  if (types.count(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      if (auto it = types.find(base); it != types.end() && it->second == "histogram") return base;
    }
  }
  return "";
}

}  // namespace

Result<MetricsPage> MetricsPage::Parse(const std::string& text) {
  MetricsPage page;
  std::map<std::string, std::string> types;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  const auto bad = [&](const std::string& why) {
    return Error::InvalidArgument("line " + std::to_string(number) + " (" + line + "): " + why);
  };
  if (text.empty() || text.back() != '\n') return Error::InvalidArgument("the page does not end in a line feed");
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, name, rest;
      words >> hash >> keyword >> name;
      if (keyword == "TYPE") {
        words >> rest;
        static const std::set<std::string> kTypes{"counter", "gauge", "histogram", "summary", "untyped"};
        if (!ValidName(name) || !kTypes.count(rest)) return bad("bad TYPE line");
        if (types.count(name)) return bad("a second TYPE for " + name);
        types[name] = rest;
      } else if (keyword == "HELP" && !ValidName(name)) {
        return bad("bad HELP line");
      }
      continue;
    }
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!ValidName(s.name)) return bad("bad metric name");
    if (FamilyOf(s.name, types).empty()) return bad("a sample before its family's TYPE line");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        if (eq == std::string::npos) return bad("a label without '='");
        const std::string key = line.substr(i, eq - i);
        if (!ValidName(key) || key.find(':') != std::string::npos) return bad("bad label name " + key);
        if (eq + 1 >= line.size() || line[eq + 1] != '"') return bad("an unquoted label value");
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] != '\\') {
            value += line[j];
            continue;
          }
          if (++j >= line.size()) return bad("a dangling escape");
          if (line[j] == 'n') value += '\n';
          else if (line[j] == '\\' || line[j] == '"') value += line[j];
          else return bad("an unknown escape");
        }
        if (j >= line.size()) return bad("an unterminated label value");
        if (!s.labels.emplace(key, value).second) return bad("label " + key + " twice");
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return bad("unterminated labels");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') return bad("no space before the value");
    const std::string value = line.substr(i + 1);
    char* end = nullptr;
    s.value = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size()) {
      if (value != "+Inf" && value != "-Inf" && value != "NaN") return bad("a value that is not a number");
    }
    page.samples_.push_back(std::move(s));
  }
  return page;
}

std::vector<std::pair<MetricsPage::Labels, double>> MetricsPage::Samples(const std::string& name,
                                                                         const Labels& subset) const {
  std::vector<std::pair<Labels, double>> out;
  for (const Sample& s : samples_) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : subset) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (match) out.emplace_back(s.labels, s.value);
  }
  return out;
}

double MetricsPage::Value(const std::string& name, const Labels& subset) const {
  const auto found = Samples(name, subset);
  if (found.empty()) return -1;
  if (found.size() > 1) return -2;
  return found[0].second;
}

}  // namespace ferry::testing
