// SPDX-License-Identifier: Apache-2.0
// Published grouping accuracy of Drain, Spell, IPLoM and AEL on the Loghub 2k samples with the
// original ground truth: logparser v1.0 READMEs, transcribed in BENCHMARK.md §5b, and Drain's
// pairwise F1 from the same READMEs. Used to print our results beside them and to prove the
// scorer (reference Drain scored here must give these GA values to 4 decimals).
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace medic::quality::loghub {

struct PublishedAccuracy {
  std::string_view system;
  double drain = 0;
  double spell = 0;
  double iplom = 0;
  double ael = 0;
  double drain_f1 = 0;
};

inline constexpr std::array<PublishedAccuracy, 16> k_published = {{
    {"HDFS", 0.9975, 1, 1, 0.9975, 0.999984},
    {"Hadoop", 0.9475, 0.7775, 0.954, 0.869, 0.998989},
    {"Spark", 0.92, 0.905, 0.92, 0.905, 0.991876},
    {"Zookeeper", 0.9665, 0.9635, 0.9615, 0.921, 0.999536},
    {"BGL", 0.9625, 0.7865, 0.939, 0.957, 0.999599},
    {"HPC", 0.887, 0.654, 0.829, 0.903, 0.990644},
    {"Thunderbird", 0.955, 0.8435, 0.663, 0.941, 0.999329},
    {"Windows", 0.997, 0.9885, 0.567, 0.6895, 0.999994},
    {"Linux", 0.69, 0.605, 0.6715, 0.6725, 0.992437},
    {"Android", 0.911, 0.9185, 0.7115, 0.6815, 0.995913},
    {"HealthApp", 0.78, 0.639, 0.8215, 0.5675, 0.918381},
    {"Apache", 1, 1, 1, 1, 1},
    {"Proxifier", 0.5265, 0.5265, 0.5165, 0.495, 0.784886},
    {"OpenSSH", 0.7875, 0.554, 0.54, 0.538, 0.999221},
    {"OpenStack", 0.7325, 0.764, 0.3305, 0.7575, 0.992536},
    {"Mac", 0.7865, 0.7565, 0.6705, 0.7635, 0.975451},
}};

[[nodiscard]] constexpr std::optional<PublishedAccuracy> published_accuracy(
    std::string_view system) {
  for (const PublishedAccuracy& p : k_published) {
    if (p.system == system) {
      return p;
    }
  }
  return std::nullopt;
}

} // namespace medic::quality::loghub
