// SPDX-License-Identifier: Apache-2.0
#include "coordinator/maintenance/maintenance.hpp"

#include <algorithm>

namespace medic::coordinator::maintenance {
namespace {

Result<void> check_names(const std::vector<std::string>& names, std::string_view what) {
  if (names.size() > k_max_names) {
    return fail(ErrorCode::invalid_argument, std::string(what) + ": " +
                                                 std::to_string(names.size()) + " given, at most " +
                                                 std::to_string(k_max_names));
  }
  for (const auto& name : names) {
    if (name.empty() || name.size() > k_max_name_bytes) {
      return fail(ErrorCode::invalid_argument,
                  std::string(what) + ": '" + name.substr(0, k_max_name_bytes) + "' must be 1 to " +
                      std::to_string(k_max_name_bytes) + " bytes");
    }
  }
  return {};
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return !name.empty() && std::find(names.begin(), names.end(), name) != names.end();
}

// Whole host or some of its services: the host side of a window's scope.
bool covers_host(const Window& window, std::string_view host, std::string_view group) {
  if (window.hosts.empty() && window.groups.empty()) {
    return true; // a services-only window: those services on every host
  }
  return contains(window.hosts, host) || contains(window.groups, group);
}

} // namespace

Result<std::string> Maintenance::add(Window window, std::int64_t now_ms) {
  if (window.hosts.empty() && window.groups.empty() && window.services.empty()) {
    return fail(ErrorCode::invalid_argument,
                "a maintenance window needs a host, a group or a service "
                "(for the whole fleet, use the freeze)");
  }
  for (const auto& [names, what] :
       {std::pair{&window.hosts, "hosts"}, std::pair{&window.groups, "groups"},
        std::pair{&window.services, "services"}}) {
    if (auto ok = check_names(*names, what); !ok) {
      return fail(ok.error());
    }
  }
  if (window.reason.size() > k_max_reason_bytes) {
    return fail(ErrorCode::invalid_argument,
                "reason: at most " + std::to_string(k_max_reason_bytes) + " bytes");
  }
  if (window.end_ms <= window.start_ms || window.end_ms <= now_ms) {
    return fail(ErrorCode::invalid_argument, "the window must end after it starts and after now");
  }
  if (window.end_ms - window.start_ms > k_max_length_ms) {
    return fail(ErrorCode::invalid_argument, "a maintenance window lasts at most 366 days");
  }
  expire(now_ms);
  if (m_windows.size() >= k_max_windows) {
    return fail(ErrorCode::busy, "there are already " + std::to_string(k_max_windows) +
                                     " maintenance windows; remove one first");
  }
  window.id = "mw-" + std::to_string(m_next_id++);
  window.created_ms = now_ms;
  const auto at =
      std::upper_bound(m_windows.begin(), m_windows.end(), window,
                       [](const Window& a, const Window& b) { return a.start_ms < b.start_ms; });
  const std::string id = window.id;
  m_windows.insert(at, std::move(window));
  changed(now_ms);
  return id;
}

Result<Window> Maintenance::remove(std::string_view id, std::int64_t now_ms) {
  const auto it =
      std::find_if(m_windows.begin(), m_windows.end(), [&](const Window& w) { return w.id == id; });
  if (it == m_windows.end()) {
    return fail(ErrorCode::not_found, "no maintenance window '" + std::string(id) +
                                          "' (see `medicctl maintenance list`)");
  }
  Window removed = std::move(*it);
  m_windows.erase(it);
  changed(now_ms);
  return removed;
}

Result<void> Maintenance::set_freeze(Freeze freeze, std::int64_t now_ms) {
  if (freeze.reason.size() > k_max_reason_bytes) {
    return fail(ErrorCode::invalid_argument,
                "reason: at most " + std::to_string(k_max_reason_bytes) + " bytes");
  }
  if (freeze.on && freeze.until_ms != 0 && freeze.until_ms <= now_ms) {
    return fail(ErrorCode::invalid_argument, "the freeze must last until a time after now");
  }
  if (!freeze.on) {
    freeze = Freeze{};
  } else {
    freeze.since_ms = now_ms;
  }
  m_freeze = std::move(freeze);
  changed(now_ms);
  return {};
}

bool Maintenance::frozen(std::int64_t now_ms) const noexcept {
  return m_freeze.on && (m_freeze.until_ms == 0 || now_ms < m_freeze.until_ms);
}

const Window* Maintenance::covering(const Target& target, std::int64_t now_ms) const {
  for (const auto& window : m_windows) {
    if (window.start_ms > now_ms) {
      break; // ordered by start
    }
    if (now_ms >= window.end_ms || !covers_host(window, target.host, target.group)) {
      continue;
    }
    if (window.services.empty()) {
      return &window;
    }
    for (const auto& service : target.services) {
      if (contains(window.services, service)) {
        return &window;
      }
    }
  }
  return nullptr;
}

std::vector<const Window*> Maintenance::windows_for(std::string_view host,
                                                    std::string_view group) const {
  std::vector<const Window*> out;
  for (const auto& window : m_windows) {
    if (covers_host(window, host, group)) {
      out.push_back(&window);
    }
  }
  return out;
}

bool Maintenance::expire(std::int64_t now_ms) {
  const auto before = m_windows.size();
  std::erase_if(m_windows, [now_ms](const Window& w) { return w.end_ms <= now_ms; });
  bool change = m_windows.size() != before;
  if (m_freeze.on && m_freeze.until_ms != 0 && m_freeze.until_ms <= now_ms) {
    m_freeze = Freeze{};
    change = true;
  }
  if (change) {
    changed(now_ms);
  }
  return change;
}

void Maintenance::changed(std::int64_t now_ms) noexcept {
  m_version =
      std::max(m_version + 1, static_cast<std::uint64_t>(std::max<std::int64_t>(now_ms, 0)));
}

} // namespace medic::coordinator::maintenance
