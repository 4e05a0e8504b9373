// SPDX-License-Identifier: Apache-2.0
#include "agent/act/cooldown.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

namespace medic::agent::act {

std::string cooldown_key(const Action& action, const BoundParams& params) {
  std::string key = std::to_string(action.name.size()) + ':' + action.name;
  for (const auto& [name, value] : params.values) {
    key += '\n';
    key += std::to_string(name.size());
    key += ':';
    key += name;
    key += std::to_string(value.size());
    key += ':';
    key += value;
  }
  return key;
}

std::string describe_cooldown(std::string_view action, std::int64_t until_ms, std::int64_t now_ms) {
  const std::time_t seconds = static_cast<std::time_t>(until_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  const std::int64_t left = std::max<std::int64_t>(until_ms - now_ms, 0);
  std::array<char, 160> when{};
  std::snprintf(when.data(), when.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ (in %lld.%llds)",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                utc.tm_sec, static_cast<int>(until_ms % 1000), static_cast<long long>(left / 1000),
                static_cast<long long>((left % 1000) / 100));
  return "the cooldown of '" + std::string(action) + "' for these parameters ends at " +
         when.data();
}

Cooldowns::Cooldowns(std::size_t capacity) : m_capacity(std::max<std::size_t>(capacity, 1)) {}

std::optional<std::int64_t> Cooldowns::until(const Action& action, const BoundParams& params,
                                             std::int64_t now_ms) const {
  if (action.cooldown.count() <= 0 || m_until.empty()) {
    return std::nullopt;
  }
  const auto found = m_until.find(cooldown_key(action, params));
  if (found == m_until.end() || found->second <= now_ms) {
    return std::nullopt;
  }
  return found->second;
}

std::optional<CooldownEntry> Cooldowns::started(const Action& action, const BoundParams& params,
                                                std::int64_t now_ms) {
  if (action.cooldown.count() <= 0) {
    return std::nullopt;
  }
  CooldownEntry entry{cooldown_key(action, params), now_ms + action.cooldown.count()};
  put(entry.key, entry.until_ms, now_ms);
  return entry;
}

void Cooldowns::restore(const std::vector<CooldownEntry>& entries, std::int64_t now_ms) {
  m_until.clear();
  for (const auto& entry : entries) {
    if (entry.until_ms > now_ms) {
      put(entry.key, entry.until_ms, now_ms);
    }
  }
}

void Cooldowns::put(std::string key, std::int64_t until_ms, std::int64_t now_ms) {
  auto found = m_until.find(key);
  if (found != m_until.end()) {
    found->second = std::max(found->second, until_ms);
    return;
  }
  if (m_until.size() >= m_capacity) {
    make_room(now_ms);
  }
  m_until.emplace(std::move(key), until_ms);
}

// Expired entries hold nothing back: all go. When every entry is still live (more distinct
// targets within one cooldown than the capacity), the one ending soonest goes: the least
// protection lost. Linear, but only when a new key arrives at capacity.
void Cooldowns::make_room(std::int64_t now_ms) {
  std::erase_if(m_until, [now_ms](const auto& entry) { return entry.second <= now_ms; });
  if (m_until.size() < m_capacity) {
    return;
  }
  const auto soonest =
      std::min_element(m_until.begin(), m_until.end(),
                       [](const auto& a, const auto& b) { return a.second < b.second; });
  m_until.erase(soonest);
}

} // namespace medic::agent::act
