// SPDX-License-Identifier: Apache-2.0
// A real Alertmanager for tests (Debian's prometheus-alertmanager): its own config and storage
// in a temp dir, a free loopback port, no clustering. It routes every alert to one webhook
// receiver (optional bearer token) with short group waits so deliveries come within a second.
// Queried and fed through its API v2 with curl. Killed at scope exit.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/loopback_server.hpp" // free_loopback_port
#include "tests/support/process.hpp"

namespace medic::test {

inline constexpr const char* k_alertmanager_binary = "/usr/bin/prometheus-alertmanager";

struct AlertmanagerOptions {
  std::string webhook_url;   // "" = a receiver with no webhook (alerts only kept)
  std::string webhook_token; // "" = no Authorization; else sent as a bearer token
  std::string group_wait = "0s";
  std::string group_interval = "1s";
  std::string repeat_interval = "1h";
  std::string resolve_timeout = "5m";
};

// Options routing every alert to `url` (with a bearer token when `token` is not empty).
[[nodiscard]] inline AlertmanagerOptions webhook_to(std::string url, std::string token = "") {
  AlertmanagerOptions options;
  options.webhook_url = std::move(url);
  options.webhook_token = std::move(token);
  return options;
}

class Alertmanager {
public:
  // Writes <dir>/alertmanager.yml and starts the process; call wait_ready() before use.
  Alertmanager(const std::filesystem::path& dir, AlertmanagerOptions options = {});
  Alertmanager(const Alertmanager&) = delete;
  Alertmanager& operator=(const Alertmanager&) = delete;
  ~Alertmanager();

  // Polls /-/ready; false after `timeout` (its log is in <dir>/alertmanager.log).
  [[nodiscard]] bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  [[nodiscard]] int port() const noexcept { return m_port; }
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(m_port); }
  [[nodiscard]] std::string url() const { return "http://" + address(); }
  [[nodiscard]] std::string log() const;

  // GET `path`; nullopt when it failed or answered >= 400.
  [[nodiscard]] std::optional<std::string> get(const std::string& path) const;
  // GET /api/v2/alerts (?active=true&silenced=false&inhibited=false when active_only).
  [[nodiscard]] nlohmann::json alerts(bool active_only = true) const;
  // POST /api/v2/alerts: an array of {labels, annotations, startsAt, endsAt, generatorURL}.
  [[nodiscard]] bool post_alerts(const nlohmann::json& alerts) const;
  // SIGTERM and wait (5 s, then the Process destructor kills it).
  void stop();

private:
  std::filesystem::path m_dir;
  int m_port;
  std::optional<Process> m_process;
};

// An RFC 3339 UTC time `offset` from now, as Alertmanager's API takes it.
[[nodiscard]] std::string rfc3339_from_now(std::chrono::milliseconds offset);

} // namespace medic::test
