// SPDX-License-Identifier: Apache-2.0
#include "coordinator/service/config_reload.hpp"

#include <algorithm>
#include <array>
#include <fstream>

#include <yaml-cpp/yaml.h>

namespace medic::coordinator::service {

namespace {

constexpr std::size_t k_max_config_bytes = 4 * 1024 * 1024;

// Prefixes (whole dotted segments) of keys read only at start-up.
constexpr std::array<std::string_view, 18> k_restart_keys = {
    "agents.listen",
    "agents.receive_queue",
    "agents.stale_after",
    "agents.lost_after",
    "security",
    "storage",
    "admin",
    "alertmanager_input",
    "metrics",
    "learn.max_posteriors",
    "learn.max_patterns",
    "learn.max_baselines",
    "learn.max_actions",
    "plan.max_tracked",
    "plan.max_pending_approvals",
    "plan.approval_timeout",
    "correlation.group_label",
    "diagnosis.recent_window",
};

bool under(std::string_view key, std::string_view prefix) {
  return key == prefix ||
         (key.starts_with(prefix) && key.size() > prefix.size() && key[prefix.size()] == '.');
}

void flatten(const YAML::Node& node, const std::string& prefix, ConfigKeys& keys) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      const std::string name = entry.first.as<std::string>();
      flatten(entry.second, prefix.empty() ? name : prefix + "." + name, keys);
    }
    return;
  }
  YAML::Emitter out;
  out << YAML::Flow << node;
  keys[prefix] = out.c_str();
}

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) {
    text += (text.empty() ? "" : ", ") + word;
  }
  return text;
}

} // namespace

Result<ConfigKeys> parse_config_keys(std::string_view text, std::string_view origin) {
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    ConfigKeys keys;
    if (root.IsMap()) {
      flatten(root, "", keys);
    }
    return keys;
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::config, std::string(origin) + ":" + std::to_string(e.mark.line + 1) +
                                       ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

Result<ConfigKeys> read_config_keys(const std::filesystem::path& path) {
  if (path.empty()) {
    return ConfigKeys{};
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return fail(ErrorCode::config, path.string() + ": cannot be read");
  }
  std::string text(k_max_config_bytes + 1, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(file.gcount()));
  if (text.size() > k_max_config_bytes) {
    return fail(ErrorCode::config, path.string() + ": larger than 4 MiB");
  }
  return parse_config_keys(text, path.string());
}

bool needs_restart(std::string_view key) {
  for (const auto prefix : k_restart_keys) {
    if (under(key, prefix)) {
      return true;
    }
  }
  return false;
}

ConfigChanges compare_config_keys(const ConfigKeys& before, const ConfigKeys& after) {
  std::vector<std::string> changed;
  for (const auto& [key, value] : after) {
    const auto it = before.find(key);
    if (it == before.end() || it->second != value) {
      changed.push_back(key);
    }
  }
  for (const auto& [key, value] : before) {
    if (!after.contains(key)) {
      changed.push_back(key); // back to its default
    }
  }
  std::sort(changed.begin(), changed.end());
  ConfigChanges changes;
  for (auto& key : changed) {
    if (needs_restart(key)) {
      changes.needs_restart.push_back(std::move(key));
      continue;
    }
    if (under(key, "escalation") && !under(key, "escalation.rules")) {
      changes.sinks = true;
    }
    if (under(key, "log")) {
      changes.log_level = true;
    }
    changes.applied.push_back(std::move(key));
  }
  return changes;
}

std::string describe_reload(std::string_view file, const ConfigChanges& changes,
                            std::size_t rules_before, std::size_t rules_after) {
  std::string text = "reloaded ";
  text += file.empty() ? std::string_view("the config (no file: defaults)") : file;
  text += ": " + std::to_string(rules_after) + " diagnosis rules";
  if (rules_before != rules_after) {
    text += " (were " + std::to_string(rules_before) + ")";
  }
  if (changes.empty()) {
    text += "; no key changed";
  }
  if (!changes.applied.empty()) {
    text += "; changed: " + join(changes.applied);
  }
  if (!changes.needs_restart.empty()) {
    text += "; changed but needs a restart: " + join(changes.needs_restart);
  }
  return text;
}

} // namespace medic::coordinator::service
