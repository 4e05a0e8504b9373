// SPDX-License-Identifier: Apache-2.0
#include "tests/support/alertmanager.hpp"

#include <csignal>
#include <ctime>

#include "tests/support/temp_dir.hpp"

namespace medic::test {

namespace {

std::string config_text(const AlertmanagerOptions& o) {
  std::string text =
      "global:\n  resolve_timeout: " + o.resolve_timeout +
      "\nroute:\n  receiver: medic\n  group_by: ['...']\n  group_wait: " + o.group_wait +
      "\n  group_interval: " + o.group_interval + "\n  repeat_interval: " + o.repeat_interval +
      "\nreceivers:\n  - name: medic\n";
  if (o.webhook_url.empty()) {
    return text;
  }
  text +=
      "    webhook_configs:\n      - url: '" + o.webhook_url + "'\n        send_resolved: true\n";
  if (!o.webhook_token.empty()) {
    text +=
        "        http_config:\n          authorization:\n            type: Bearer\n"
        "            credentials: '" +
        o.webhook_token + "'\n";
  }
  return text;
}

} // namespace

Alertmanager::Alertmanager(const std::filesystem::path& dir, AlertmanagerOptions options)
    : m_dir(dir), m_port(free_loopback_port()) {
  write_file(dir / "alertmanager.yml", config_text(options));
  m_process.emplace(
      std::vector<std::string>{
          k_alertmanager_binary, "--config.file=" + (dir / "alertmanager.yml").string(),
          "--storage.path=" + (dir / "alertmanager-data").string(),
          "--web.listen-address=" + address(), "--cluster.listen-address=", "--log.level=warn"},
      dir / "alertmanager.log");
}

Alertmanager::~Alertmanager() {
  stop();
}

void Alertmanager::stop() {
  if (m_process && m_process->running()) {
    m_process->signal(SIGTERM);
    (void)m_process->wait_for(std::chrono::seconds(5));
  }
}

bool Alertmanager::wait_ready(std::chrono::milliseconds timeout) {
  return wait_until([&] { return get("/-/ready").has_value(); }, timeout,
                    std::chrono::milliseconds(100));
}

std::string Alertmanager::log() const {
  return read_file(m_dir / "alertmanager.log");
}

std::optional<std::string> Alertmanager::get(const std::string& path) const {
  auto result = run_command({"/usr/bin/curl", "-sf", "--max-time", "2", url() + path},
                            std::chrono::seconds(5));
  return result.status.exited_with(0) ? std::optional(result.output) : std::nullopt;
}

nlohmann::json Alertmanager::alerts(bool active_only) const {
  auto body = get(active_only ? "/api/v2/alerts?active=true&silenced=false&inhibited=false"
                              : "/api/v2/alerts");
  if (!body) {
    return nlohmann::json::array();
  }
  auto parsed = nlohmann::json::parse(*body, nullptr, false);
  return parsed.is_array() ? parsed : nlohmann::json::array();
}

bool Alertmanager::post_alerts(const nlohmann::json& alerts) const {
  auto result = run_command(
      {"/usr/bin/curl", "-sf", "--max-time", "2", "-X", "POST", "-H",
       "Content-Type: application/json", "--data-binary", alerts.dump(), url() + "/api/v2/alerts"},
      std::chrono::seconds(5));
  return result.status.exited_with(0);
}

std::string rfc3339_from_now(std::chrono::milliseconds offset) {
  const auto when = std::chrono::system_clock::now() + offset;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

} // namespace medic::test
