// SPDX-License-Identifier: Apache-2.0
// What PostgresStore::record_batches builds a group's statements in (postgres_store_group.cpp):
// each statement's rows as PostgreSQL array literals, and the group's scratch, kept from group to
// group so that a warm store allocates little. Private to the PostgreSQL backend; the storage
// worker thread only.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <pqxx/pqxx>

#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/postgres/postgres_text.hpp"

namespace medic::coordinator::storage {

// The rows of one statement, column by column, as PostgreSQL array literals ("{...}") that
// grow row by row; reused from group to group (allocated once, grown to the largest).
class PostgresStore::Rows {
public:
  explicit Rows(std::size_t columns) : m_columns(columns) { clear(); }

  Rows& text(std::string_view value) {
    pg::append_array_text(next(), value);
    return *this;
  }
  Rows& integer(std::int64_t value) {
    pg::append_array_int(next(), value);
    return *this;
  }
  Rows& real(double value) {
    pg::append_array_double(next(), value);
    return *this;
  }
  Rows& null() {
    pg::append_array_null(next());
    return *this;
  }
  Rows& bytes(std::string_view raw) {
    pg::append_array_bytea(next(), raw);
    return *this;
  }
  void end_row() {
    if (m_at != m_columns.size()) {
      throw std::logic_error("a row of " + std::to_string(m_at) + " values for " +
                             std::to_string(m_columns.size()) + " columns");
    }
    m_at = 0;
    ++m_rows;
  }
  [[nodiscard]] std::size_t rows() const noexcept { return m_rows; }

  // Runs prepared `statement` over the rows (nothing when there are none) and starts over.
  pqxx::result exec(pqxx::transaction_base& tx, const char* statement) {
    pqxx::result result;
    if (m_rows > 0) {
      for (auto& column : m_columns) {
        column += '}';
      }
      result = tx.exec_prepared(statement, pqxx::prepare::make_dynamic_params(m_columns));
    }
    clear();
    return result;
  }

  void clear() {
    for (auto& column : m_columns) {
      column.assign(1, '{');
    }
    m_at = 0;
    m_rows = 0;
  }

private:
  std::string& next() {
    if (m_at >= m_columns.size()) {
      throw std::logic_error("more values than the " + std::to_string(m_columns.size()) +
                             " columns of a row");
    }
    return m_columns[m_at++];
  }

  std::vector<std::string> m_columns;
  std::size_t m_at = 0;
  std::size_t m_rows = 0;
};

// Everything a group needs, kept between groups so that a warm store allocates little.
struct PostgresStore::GroupBuffers {
  Rows claims{6};
  Rows new_series{3};
  Rows raw{5};
  Rows signals{12};
  Rows logs{13};
  Rows results{20};
  Rows budgets{8};
  Rows evidence{9};
  std::vector<std::string> agents; // pg::text of each slice batch's agent id
  std::vector<std::size_t> claimed;
  std::unordered_map<std::string, std::int64_t> numbered; // series key -> id, this slice
  struct PendingBudget {
    const std::string* agent;
    const protocol::BudgetReport* budget;
    std::int64_t received_ms;
  };
  std::vector<PendingBudget> budgets_pending;
  std::string key;
  std::string pack;

  // Forgets what an attempt that threw midway left behind.
  void clear() {
    for (Rows* rows :
         {&claims, &new_series, &raw, &signals, &logs, &results, &budgets, &evidence}) {
      rows->clear();
    }
    budgets_pending.clear();
  }
};

} // namespace medic::coordinator::storage
