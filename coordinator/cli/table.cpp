// SPDX-License-Identifier: Apache-2.0
#include "coordinator/cli/table.hpp"

#include <algorithm>
#include <cstdint>

namespace medic::coordinator::cli {

std::string Table::render() const {
  std::vector<std::size_t> widths(m_headers.size());
  auto measure = [&widths](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], cells[i].size());
    }
  };
  measure(m_headers);
  for (const auto& row : m_rows) {
    measure(row);
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      line += cell;
      if (i + 1 < widths.size()) {
        line.append(widths[i] - cell.size() + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line + "\n";
  };
  emit(m_headers);
  for (const auto& row : m_rows) {
    emit(row);
  }
  return out;
}

std::string format_age(std::int64_t then_ms, std::int64_t now_ms) {
  if (then_ms <= 0) {
    return "never";
  }
  const std::int64_t seconds = std::max<std::int64_t>(0, (now_ms - then_ms) / 1000);
  if (seconds < 120) {
    return std::to_string(seconds) + "s ago";
  }
  if (seconds < 120 * 60) {
    return std::to_string(seconds / 60) + "m ago";
  }
  if (seconds < 48 * 3600) {
    return std::to_string(seconds / 3600) + "h ago";
  }
  return std::to_string(seconds / 86400) + "d ago";
}

} // namespace medic::coordinator::cli
