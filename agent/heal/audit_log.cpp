// SPDX-License-Identifier: Apache-2.0
#include "agent/heal/audit_log.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace medic::agent::heal {

namespace {

constexpr std::string_view k_schema = R"sql(
CREATE TABLE IF NOT EXISTS heal_audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  origin TEXT NOT NULL,
  command_id TEXT NOT NULL,
  rule TEXT NOT NULL,
  action TEXT NOT NULL,
  params BLOB NOT NULL,
  target TEXT NOT NULL,
  status TEXT NOT NULL,
  exit_code INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  output BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS heal_budget (
  target TEXT NOT NULL,
  action TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  window_attempts INTEGER NOT NULL,
  window_start_ms INTEGER NOT NULL,
  last_attempt_ms INTEGER NOT NULL,
  next_allowed_ms INTEGER NOT NULL,
  last_delay_ms INTEGER NOT NULL,
  needs_person INTEGER NOT NULL,
  target_flapping INTEGER NOT NULL,
  healthy_since_ms INTEGER NOT NULL,
  PRIMARY KEY (target, action)
);
CREATE TABLE IF NOT EXISTS heal_cooldown (
  key BLOB PRIMARY KEY,
  until_ms INTEGER NOT NULL
);
)sql";

constexpr std::int64_t k_max_seq = std::numeric_limits<std::int64_t>::max();

std::span<const std::byte> bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

Error storage_error(const Error& error, std::string_view what) {
  return Error(ErrorCode::storage, std::string(what) + ": " + error.message());
}

// One "<length>:<bytes>" field from the front of `text`.
Result<std::string_view> take_field(std::string_view& text) {
  const std::size_t colon = text.find(':');
  std::size_t length = 0;
  const auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + std::min(colon, text.size()), length);
  if (colon == std::string_view::npos || ec != std::errc() || ptr != text.data() + colon ||
      length > text.size() - colon - 1) {
    return fail(ErrorCode::storage, "heal_audit: malformed params column");
  }
  const std::string_view field = text.substr(colon + 1, length);
  text.remove_prefix(colon + 1 + length);
  return field;
}

AuditRecord read_record(const sqlite::Statement& s, std::vector<protocol::Label> params) {
  AuditRecord r;
  r.seq = static_cast<std::uint64_t>(s.column_int(0));
  r.time_ms = s.column_int(1);
  r.origin = s.column_text(2);
  r.command_id = s.column_text(3);
  r.rule = s.column_text(4);
  r.action = s.column_text(5);
  r.params = std::move(params);
  r.target = s.column_text(7);
  r.status = s.column_text(8);
  r.exit_code = s.column_int(9);
  r.duration_ms = s.column_int(10);
  r.reason = s.column_text(11);
  r.output = s.column_blob(12);
  return r;
}

// A stored count read back; a value out of range (a damaged file) is clamped, not trusted.
std::uint32_t counter(std::int64_t value) {
  return static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(value, 0, std::numeric_limits<std::uint32_t>::max()));
}

} // namespace

std::string encode_params(const std::vector<protocol::Label>& params) {
  std::string out;
  for (const auto& label : params) {
    for (const std::string* field : {&label.name, &label.value}) {
      out += std::to_string(field->size());
      out += ':';
      out += *field;
    }
  }
  return out;
}

Result<std::vector<protocol::Label>> decode_params(std::string_view text) {
  std::vector<protocol::Label> params;
  while (!text.empty()) {
    auto name = take_field(text);
    if (!name) {
      return fail(std::move(name).error());
    }
    auto value = take_field(text);
    if (!value) {
      return fail(std::move(value).error());
    }
    params.push_back({std::string(*name), std::string(*value)});
  }
  return params;
}

Result<void> AuditLog::create_tables(sqlite::Database& db) {
  if (auto created = db.exec(k_schema); !created) {
    return fail(storage_error(created.error(), "creating the heal tables"));
  }
  return {};
}

Result<std::uint64_t> AuditLog::append(sqlite::Database& db, const AuditRecord& r) {
  auto s = db.prepare(
      "INSERT INTO heal_audit (time_ms, origin, command_id, rule, action, params, target, "
      "status, exit_code, duration_ms, reason, output) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq");
  if (!s) {
    return fail(storage_error(s.error(), "heal_audit"));
  }
  const std::string params = encode_params(r.params);
  s->bind(1, r.time_ms).bind(2, std::string_view(r.origin)).bind(3, std::string_view(r.command_id));
  s->bind(4, std::string_view(r.rule)).bind(5, std::string_view(r.action));
  s->bind_blob(6, bytes(params)).bind(7, std::string_view(r.target));
  s->bind(8, std::string_view(r.status)).bind(9, r.exit_code).bind(10, r.duration_ms);
  s->bind(11, std::string_view(r.reason)).bind_blob(12, bytes(r.output));
  sqlite::ResetOnExit reset(*s);
  auto row = s->step();
  if (!row || !*row) {
    return fail(row ? Error(ErrorCode::storage, "heal_audit: the insert returned no seq")
                    : storage_error(row.error(), "heal_audit: appending"));
  }
  return static_cast<std::uint64_t>(s->column_int(0));
}

Result<std::vector<AuditRecord>> AuditLog::after(sqlite::Database& db, std::uint64_t after_seq,
                                                 std::size_t limit) {
  auto s = db.prepare(
      "SELECT seq, time_ms, origin, command_id, rule, action, params, target, status, "
      "exit_code, duration_ms, reason, output FROM heal_audit WHERE seq > ? ORDER BY seq "
      "LIMIT ?");
  if (!s) {
    return fail(storage_error(s.error(), "heal_audit"));
  }
  s->bind(1, static_cast<std::int64_t>(std::min<std::uint64_t>(after_seq, k_max_seq)));
  s->bind(2, static_cast<std::int64_t>(std::min<std::uint64_t>(limit, k_max_seq)));
  sqlite::ResetOnExit reset(*s);
  std::vector<AuditRecord> records;
  for (;;) {
    auto row = s->step();
    if (!row) {
      return fail(storage_error(row.error(), "heal_audit: reading"));
    }
    if (!*row) {
      return records;
    }
    auto params = decode_params(s->column_blob(6));
    if (!params) {
      return fail(std::move(params).error().context("seq " + std::to_string(s->column_int(0))));
    }
    records.push_back(read_record(*s, std::move(*params)));
  }
}

Result<void> AuditLog::remove_through(sqlite::Database& db, std::uint64_t seq) {
  auto s = db.prepare("DELETE FROM heal_audit WHERE seq <= ?");
  if (!s) {
    return fail(storage_error(s.error(), "heal_audit"));
  }
  s->bind(1, static_cast<std::int64_t>(std::min<std::uint64_t>(seq, k_max_seq)));
  if (auto done = s->run(); !done) {
    return fail(storage_error(done.error(), "heal_audit: removing"));
  }
  return {};
}

Result<std::uint64_t> AuditLog::trim(sqlite::Database& db, std::uint64_t max_records) {
  auto s = db.prepare(
      "DELETE FROM heal_audit WHERE seq <= (SELECT seq FROM heal_audit ORDER BY seq DESC "
      "LIMIT 1 OFFSET ?) RETURNING seq");
  if (!s) {
    return fail(storage_error(s.error(), "heal_audit"));
  }
  s->bind(1, static_cast<std::int64_t>(std::min<std::uint64_t>(max_records, k_max_seq)));
  sqlite::ResetOnExit reset(*s);
  std::uint64_t removed = 0;
  for (;;) {
    auto row = s->step();
    if (!row) {
      return fail(storage_error(row.error(), "heal_audit: trimming"));
    }
    if (!*row) {
      return removed;
    }
    ++removed;
  }
}

Result<void> AuditLog::save_budget(sqlite::Database& db, const std::vector<BudgetEntry>& entries) {
  if (auto cleared = db.exec("DELETE FROM heal_budget"); !cleared) {
    return fail(storage_error(cleared.error(), "heal_budget: clearing"));
  }
  auto s = db.prepare(
      "INSERT OR REPLACE INTO heal_budget (target, action, attempts, window_attempts, "
      "window_start_ms, last_attempt_ms, next_allowed_ms, last_delay_ms, needs_person, "
      "target_flapping, healthy_since_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!s) {
    return fail(storage_error(s.error(), "heal_budget"));
  }
  for (const BudgetEntry& e : entries) {
    s->bind(1, std::string_view(e.target)).bind(2, std::string_view(e.action));
    s->bind(3, e.attempts).bind(4, e.window_attempts).bind(5, e.window_start_ms);
    s->bind(6, e.last_attempt_ms).bind(7, e.next_allowed_ms).bind(8, e.last_delay_ms);
    s->bind(9, e.needs_person ? 1 : 0).bind(10, e.target_flapping ? 1 : 0);
    s->bind(11, e.healthy_since_ms);
    if (auto done = s->run(); !done) {
      return fail(storage_error(done.error(), "heal_budget: saving"));
    }
  }
  return {};
}

Result<std::vector<BudgetEntry>> AuditLog::load_budget(sqlite::Database& db) {
  auto s = db.prepare(
      "SELECT target, action, attempts, window_attempts, window_start_ms, last_attempt_ms, "
      "next_allowed_ms, last_delay_ms, needs_person, target_flapping, healthy_since_ms "
      "FROM heal_budget ORDER BY target, action");
  if (!s) {
    return fail(storage_error(s.error(), "heal_budget"));
  }
  sqlite::ResetOnExit reset(*s);
  std::vector<BudgetEntry> entries;
  for (;;) {
    auto row = s->step();
    if (!row) {
      return fail(storage_error(row.error(), "heal_budget: loading"));
    }
    if (!*row) {
      return entries;
    }
    BudgetEntry e;
    e.target = s->column_text(0);
    e.action = s->column_text(1);
    e.attempts = counter(s->column_int(2));
    e.window_attempts = counter(s->column_int(3));
    e.window_start_ms = s->column_int(4);
    e.last_attempt_ms = s->column_int(5);
    e.next_allowed_ms = s->column_int(6);
    e.last_delay_ms = s->column_int(7);
    e.needs_person = s->column_int(8) != 0;
    e.target_flapping = s->column_int(9) != 0;
    e.healthy_since_ms = s->column_int(10);
    entries.push_back(std::move(e));
  }
}

Result<void> AuditLog::save_cooldown(sqlite::Database& db, const act::CooldownEntry& entry,
                                     std::int64_t now_ms, std::size_t max_entries) {
  auto s = db.prepare("INSERT OR REPLACE INTO heal_cooldown (key, until_ms) VALUES (?, ?)");
  if (!s) {
    return fail(storage_error(s.error(), "heal_cooldown"));
  }
  s->bind_blob(1, bytes(entry.key)).bind(2, entry.until_ms);
  if (auto done = s->run(); !done) {
    return fail(storage_error(done.error(), "heal_cooldown: saving"));
  }
  auto trim = db.prepare(
      "DELETE FROM heal_cooldown WHERE until_ms <= ? OR key NOT IN (SELECT key FROM "
      "heal_cooldown ORDER BY until_ms DESC LIMIT ?)");
  if (!trim) {
    return fail(storage_error(trim.error(), "heal_cooldown"));
  }
  trim->bind(1, now_ms);
  trim->bind(2, static_cast<std::int64_t>(std::min<std::uint64_t>(max_entries, k_max_seq)));
  if (auto done = trim->run(); !done) {
    return fail(storage_error(done.error(), "heal_cooldown: trimming"));
  }
  return {};
}

Result<std::vector<act::CooldownEntry>> AuditLog::load_cooldowns(sqlite::Database& db,
                                                                 std::int64_t now_ms) {
  auto s =
      db.prepare("SELECT key, until_ms FROM heal_cooldown WHERE until_ms > ? ORDER BY until_ms");
  if (!s) {
    return fail(storage_error(s.error(), "heal_cooldown"));
  }
  s->bind(1, now_ms);
  sqlite::ResetOnExit reset(*s);
  std::vector<act::CooldownEntry> entries;
  for (;;) {
    auto row = s->step();
    if (!row) {
      return fail(storage_error(row.error(), "heal_cooldown: loading"));
    }
    if (!*row) {
      return entries;
    }
    entries.push_back({s->column_blob(0), s->column_int(1)});
  }
}

} // namespace medic::agent::heal
