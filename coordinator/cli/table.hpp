// SPDX-License-Identifier: Apache-2.0
// Plain-text tables for medicctl's human output: left-aligned columns, two spaces apart.
#pragma once

#include <string>
#include <vector>

namespace medic::coordinator::cli {

class Table {
public:
  explicit Table(std::vector<std::string> headers) : m_headers(std::move(headers)) {}
  void add_row(std::vector<std::string> cells) { m_rows.push_back(std::move(cells)); }
  [[nodiscard]] std::string render() const;

private:
  std::vector<std::string> m_headers;
  std::vector<std::vector<std::string>> m_rows;
};

// "4s ago", "3m ago", "2h ago", "5d ago"; "never" for 0.
[[nodiscard]] std::string format_age(std::int64_t then_ms, std::int64_t now_ms);

} // namespace medic::coordinator::cli
