// SPDX-License-Identifier: Apache-2.0
#include "agent/heal/maintenance.hpp"

#include <algorithm>
#include <array>

#include "protocol/codec.hpp"

namespace medic::agent::heal {

namespace {

constexpr std::string_view k_schema = R"sql(
CREATE TABLE IF NOT EXISTS heal_policy (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  frame BLOB NOT NULL
);
)sql";

// The signal labels that name what a service-scoped window covers.
constexpr std::array<std::string_view, 3> k_scope_labels = {"service", "process", "unit"};

bool names_one_of(const std::vector<std::string>& services, std::string_view value) {
  return std::find(services.begin(), services.end(), value) != services.end();
}

bool applies(const protocol::MaintenanceWindow& window, const std::vector<protocol::Label>& labels,
             const std::vector<protocol::Label>& params) {
  if (window.services.empty()) {
    return true;
  }
  const bool by_label = std::any_of(labels.begin(), labels.end(), [&](const protocol::Label& l) {
    return std::find(k_scope_labels.begin(), k_scope_labels.end(), l.name) !=
               k_scope_labels.end() &&
           names_one_of(window.services, l.value);
  });
  return by_label || std::any_of(params.begin(), params.end(), [&](const protocol::Label& p) {
           return names_one_of(window.services, p.value);
         });
}

Error storage_error(const Error& error, std::string_view what) {
  return Error(ErrorCode::storage, "heal_policy: " + std::string(what) + ": " + error.message());
}

} // namespace

std::string describe(const MaintenanceHold& hold) {
  switch (hold.kind) {
  case MaintenanceHold::Kind::freeze: return "fleet freeze";
  case MaintenanceHold::Kind::window: return "maintenance window " + std::string(hold.window_id);
  case MaintenanceHold::Kind::none: break;
  }
  return {};
}

bool Maintenance::accept(protocol::Policy policy) {
  if (policy.version <= m_policy.version) {
    return false;
  }
  m_policy = std::move(policy);
  return true;
}

bool Maintenance::frozen(std::int64_t now_ms) const noexcept {
  const protocol::Freeze& freeze = m_policy.freeze;
  return freeze.on && (freeze.until_ms == 0 || now_ms < freeze.until_ms);
}

MaintenanceHold Maintenance::holds(const std::vector<protocol::Label>& labels,
                                   const std::vector<protocol::Label>& params,
                                   std::int64_t now_ms) const noexcept {
  if (frozen(now_ms)) {
    return {MaintenanceHold::Kind::freeze, {}};
  }
  for (const auto& window : m_policy.windows) {
    if (window.start_ms <= now_ms && now_ms < window.end_ms && applies(window, labels, params)) {
      return {MaintenanceHold::Kind::window, window.id};
    }
  }
  return {};
}

std::string Maintenance::summary() const {
  return "version " + std::to_string(m_policy.version) + ", freeze " +
         (m_policy.freeze.on ? "on" : "off") + ", " + std::to_string(m_policy.windows.size()) +
         " windows";
}

Result<void> Maintenance::create_table(sqlite::Database& db) {
  if (auto made = db.exec(k_schema); !made) {
    return fail(storage_error(made.error(), "creating"));
  }
  return {};
}

Result<void> Maintenance::save(sqlite::Database& db, const protocol::Policy& policy) {
  // The frame is the wire encoding, so loading goes through the same strict decoder.
  std::string frame;
  protocol::Envelope envelope;
  envelope.agent_id = "spool";
  protocol::encode_policy(frame, envelope, policy);
  auto s = db.prepare("INSERT OR REPLACE INTO heal_policy (id, frame) VALUES (1, ?)");
  if (!s) {
    return fail(storage_error(s.error(), "saving"));
  }
  s->bind_blob(1, std::as_bytes(std::span(frame.data(), frame.size())));
  if (auto done = s->run(); !done) {
    return fail(storage_error(done.error(), "saving"));
  }
  return {};
}

Result<std::optional<protocol::Policy>> Maintenance::load(sqlite::Database& db) {
  auto s = db.prepare("SELECT frame FROM heal_policy WHERE id = 1");
  if (!s) {
    return fail(storage_error(s.error(), "loading"));
  }
  sqlite::ResetOnExit reset(*s);
  auto row = s->step();
  if (!row) {
    return fail(storage_error(row.error(), "loading"));
  }
  if (!*row) {
    return std::optional<protocol::Policy>();
  }
  const std::string frame = s->column_blob(0);
  auto decoded = protocol::decode(frame);
  if (!decoded || !std::holds_alternative<protocol::Policy>(decoded->body)) {
    return fail(ErrorCode::storage,
                "heal_policy: the saved policy does not decode: " +
                    (decoded ? std::string("not a POLICY") : decoded.error().message()));
  }
  return std::optional<protocol::Policy>(std::get<protocol::Policy>(std::move(decoded->body)));
}

} // namespace medic::agent::heal
