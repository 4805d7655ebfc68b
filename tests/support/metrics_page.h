// A parsed Prometheus text-format page (version 0.0.4), strict enough to
// catch a malformed line: every sample belongs to a family announced by a
// # TYPE line, names and label names are valid, label values are quoted
// with their escapes, and values are numbers.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ferry/result.h"

namespace ferry::testing {

class MetricsPage {
 public:
  using Labels = std::map<std::string, std::string>;

  static Result<MetricsPage> Parse(const std::string& text);

  // The samples of `name` whose labels include every pair of `subset`, in
  // page order.
  std::vector<std::pair<Labels, double>> Samples(const std::string& name, const Labels& subset) const;
  // The one sample of `name` matching `subset`; -1 when there is none, -2
  // when several match.
  double Value(const std::string& name, const Labels& subset) const;

 private:
  struct Sample {
    std::string name;
    Labels labels;
    double value = 0;
  };
  std::vector<Sample> samples_;
};

}  // namespace ferry::testing
