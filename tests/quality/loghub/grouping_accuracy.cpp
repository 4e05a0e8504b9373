// SPDX-License-Identifier: Apache-2.0
#include "tests/quality/loghub/grouping_accuracy.hpp"

#include <map>
#include <unordered_map>

namespace medic::quality::loghub {

namespace {

double pairs(std::size_t n) noexcept {
  return static_cast<double>(n) * static_cast<double>(n - (n > 0 ? 1 : 0)) / 2.0;
}

// Dense labels 0..k-1 in order of first appearance.
template <class Label>
std::vector<std::uint32_t> densify(std::span<const Label> labels, std::size_t& distinct) {
  std::unordered_map<Label, std::uint32_t> index;
  std::vector<std::uint32_t> out;
  out.reserve(labels.size());
  for (const Label& label : labels) {
    const auto [it, added] = index.emplace(label, static_cast<std::uint32_t>(index.size()));
    out.push_back(it->second);
  }
  distinct = index.size();
  return out;
}

GroupingScore score_dense(const std::vector<std::uint32_t>& truth, std::size_t true_count,
                          const std::vector<std::uint32_t>& parsed, std::size_t parsed_count) {
  GroupingScore s;
  s.lines = truth.size();
  std::vector<std::size_t> true_size(true_count);
  std::vector<std::size_t> parsed_size(parsed_count);
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::size_t> joint; // (parsed, true) -> lines
  for (std::size_t i = 0; i < truth.size(); ++i) {
    ++true_size[truth[i]];
    ++parsed_size[parsed[i]];
    ++joint[{parsed[i], truth[i]}];
  }
  double real = 0;
  double parsed_pairs = 0;
  double accurate = 0;
  for (const std::size_t n : true_size) {
    s.true_groups += n > 0 ? 1 : 0;
    real += pairs(n);
  }
  for (const std::size_t n : parsed_size) {
    s.parsed_groups += n > 0 ? 1 : 0;
    parsed_pairs += pairs(n);
  }
  // A parser group is right when all its lines share one true event and that event has no line
  // elsewhere: then its (parsed, true) cell holds the whole of both.
  for (const auto& [key, n] : joint) {
    accurate += pairs(n);
    if (n == parsed_size[key.first] && n == true_size[key.second]) {
      s.correct_lines += n;
    }
  }
  s.accuracy =
      s.lines == 0 ? 0 : static_cast<double>(s.correct_lines) / static_cast<double>(s.lines);
  s.precision = parsed_pairs == 0 ? 0 : accurate / parsed_pairs;
  s.recall = real == 0 ? 0 : accurate / real;
  s.f1 = s.precision + s.recall == 0 ? 0 : 2 * s.precision * s.recall / (s.precision + s.recall);
  return s;
}

template <class Label>
Result<GroupingScore> score_any(std::span<const std::string> truth, std::span<const Label> parsed) {
  if (truth.size() != parsed.size()) {
    return fail(ErrorCode::invalid_argument,
                "grouping accuracy: " + std::to_string(parsed.size()) + " parsed labels for " +
                    std::to_string(truth.size()) + " ground-truth lines");
  }
  std::vector<std::string> kept_truth;
  std::vector<Label> kept_parsed;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (!truth[i].empty()) {
      kept_truth.push_back(truth[i]);
      kept_parsed.push_back(parsed[i]);
    }
  }
  std::size_t true_count = 0;
  std::size_t parsed_count = 0;
  const auto t = densify<std::string>(kept_truth, true_count);
  const auto p = densify<Label>(kept_parsed, parsed_count);
  return score_dense(t, true_count, p, parsed_count);
}

} // namespace

Result<GroupingScore> score_grouping(std::span<const std::string> truth,
                                     std::span<const std::string> parsed) {
  return score_any<std::string>(truth, parsed);
}

Result<GroupingScore> score_grouping(std::span<const std::string> truth,
                                     std::span<const std::uint64_t> parsed) {
  return score_any<std::uint64_t>(truth, parsed);
}

} // namespace medic::quality::loghub
