// SPDX-License-Identifier: Apache-2.0
#include "coordinator/diagnose/rule_match.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <initializer_list>

#include <re2/re2.h>

#include "coordinator/diagnose/glob.hpp"

namespace medic::coordinator::diagnose::detail {

namespace {

// Collects "what matched" only when asked, so the plain evaluation never allocates.
class Explainer {
public:
  explicit Explainer(std::string* out) noexcept : m_out(out) {}
  [[nodiscard]] bool on() const noexcept { return m_out != nullptr; }
  void note(std::initializer_list<std::string_view> parts) const {
    if (m_out == nullptr) {
      return;
    }
    if (!m_out->empty() && m_out->back() != '(') {
      *m_out += ", ";
    }
    for (const auto part : parts) {
      *m_out += part;
    }
  }

private:
  std::string* m_out;
};

// Shortest round-trip text of a number, in a caller's buffer.
std::string_view number_text(double value, std::array<char, 32>& buffer) noexcept {
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return ec == std::errc() ? std::string_view(buffer.data(), end - buffer.data()) : "?";
}

bool incident_holds(const Conditions& when, const DiagnosisInput& input, const Explainer& ex) {
  const auto& incident = input.incident;
  if (!when.kinds.empty()) {
    if (std::find(when.kinds.begin(), when.kinds.end(), incident.kind) == when.kinds.end()) {
      return false;
    }
    ex.note({incident.kind == correlate::IncidentKind::fleet ? "a fleet" : "a host", " incident"});
  }
  if (!when.categories.empty()) {
    if (std::find(when.categories.begin(), when.categories.end(), incident.category) ==
        when.categories.end()) {
      return false;
    }
    ex.note({"category ", protocol::to_string(incident.category)});
  }
  if (!when.rules.empty()) {
    if (!glob_any(when.rules, incident.rule)) {
      return false;
    }
    ex.note({"rule ", incident.rule});
  }
  if (when.severity_at_least) {
    if (static_cast<int>(incident.severity) > static_cast<int>(*when.severity_at_least)) {
      return false;
    }
    ex.note({"severity ", protocol::to_string(incident.severity), " (at least ",
             protocol::to_string(*when.severity_at_least), ")"});
  }
  if (!when.services.empty()) {
    if (!glob_any(when.services, incident.service)) {
      return false;
    }
    ex.note({"service ", incident.service});
  }
  if (!when.hosts.empty()) {
    if (!glob_any(when.hosts, incident.host)) {
      return false;
    }
    ex.note({"host ", incident.host});
  }
  return true;
}

bool labels_hold(const Conditions& when, const DiagnosisInput& input, const Explainer& ex) {
  for (const auto& condition : when.labels) {
    const std::string* value = incident_label(input.incident, condition.name);
    if (value == nullptr || !glob_any(condition.values, *value)) {
      return false;
    }
    ex.note({"label ", condition.name, "=", *value});
  }
  if (!when.messages.empty()) {
    const auto hit = std::find_if(when.messages.begin(), when.messages.end(), [&](const auto& m) {
      return RE2::PartialMatch(input.incident.message, *m.compiled);
    });
    if (hit == when.messages.end()) {
      return false;
    }
    ex.note({"message matching '", hit->text, "'"});
  }
  return true;
}

bool sample_matches(const MetricCondition& condition, const MetricValue& sample,
                    const correlate::Incident& incident) noexcept {
  if (!glob_match(condition.name, sample.name) ||
      (condition.above && !(sample.value > *condition.above)) ||
      (condition.below && !(sample.value < *condition.below))) {
    return false;
  }
  return std::all_of(condition.labels.begin(), condition.labels.end(), [&](const auto& label) {
    std::string_view value;
    if (!canonical_label(sample.labels, label.name, value)) {
      return false;
    }
    if (label.incident_label.empty()) {
      return glob_match(label.value, value);
    }
    const std::string* wanted = incident_label(incident, label.incident_label);
    return wanted != nullptr && *wanted == value;
  });
}

bool metrics_hold(const Conditions& when, const DiagnosisInput& input, const Explainer& ex) {
  if (when.metrics.empty()) {
    return true;
  }
  for (const auto& condition : when.metrics) {
    for (const auto& sample : input.metrics) {
      if (sample_matches(condition, sample, input.incident)) {
        std::array<char, 32> value{};
        std::array<char, 32> level{};
        const bool above = condition.above.has_value();
        ex.note({sample.name, sample.labels.empty() ? "" : "{", sample.labels,
                 sample.labels.empty() ? "" : "}", " ", number_text(sample.value, value),
                 above ? " above " : " below ",
                 number_text(above ? *condition.above : condition.below.value_or(0), level)});
        return true;
      }
    }
  }
  return false;
}

bool logs_hold(const Conditions& when, const DiagnosisInput& input, const Explainer& ex) {
  if (!when.log_templates.empty()) {
    const auto hit = std::find_first_of(input.log_templates.begin(), input.log_templates.end(),
                                        when.log_templates.begin(), when.log_templates.end());
    if (hit == input.log_templates.end()) {
      return false;
    }
    std::array<char, 32> id{};
    ex.note({"log template ", number_text(*hit, id)});
  }
  if (!when.log_rules.empty()) {
    const auto hit =
        std::find_if(input.log_rules.begin(), input.log_rules.end(),
                     [&](const std::string& rule) { return glob_any(when.log_rules, rule); });
    if (hit == input.log_rules.end()) {
      return false;
    }
    ex.note({"log rule ", *hit});
  }
  return true;
}

std::uint32_t count_recoveries(const RecoveryCondition& condition, const DiagnosisInput& input) {
  std::uint32_t count = 0;
  for (const auto& recovery : input.recent_recoveries) {
    const bool action = condition.actions.empty() || glob_any(condition.actions, recovery.action);
    const bool status = condition.statuses.empty() ||
                        std::find(condition.statuses.begin(), condition.statuses.end(),
                                  recovery.status) != condition.statuses.end();
    const bool recent = condition.within_ms == 0 ||
                        input.incident.last_seen_ms - recovery.time_ms <= condition.within_ms;
    count += (action && status && recent) ? 1 : 0;
  }
  return count;
}

bool history_holds(const Conditions& when, const DiagnosisInput& input, const Explainer& ex) {
  if (when.recent_incidents) {
    const auto& range = *when.recent_incidents;
    if ((range.at_least && input.recent_incidents < *range.at_least) ||
        (range.at_most && input.recent_incidents > *range.at_most)) {
      return false;
    }
    std::array<char, 32> count{};
    ex.note({number_text(input.recent_incidents, count), " recent incidents on the host"});
  }
  if (when.recent_recoveries.empty()) {
    return true;
  }
  for (const auto& condition : when.recent_recoveries) {
    if (const auto count = count_recoveries(condition, input); count >= condition.at_least) {
      std::array<char, 32> text{};
      ex.note({number_text(count, text), " recent ",
               condition.actions.empty() ? "recoveries" : condition.actions.front(),
               condition.statuses.empty() ? "" : " ",
               condition.statuses.empty() ? "" : protocol::to_string(condition.statuses.front())});
      return true;
    }
  }
  return false;
}

} // namespace

const std::string* incident_label(const correlate::Incident& incident,
                                  std::string_view name) noexcept {
  for (const auto& label : incident.labels) {
    if (label.name == name) {
      return &label.value;
    }
  }
  return nullptr;
}

bool conditions_hold(const Conditions& when, const DiagnosisInput& input, std::string* explain) {
  const Explainer ex(explain);
  return incident_holds(when, input, ex) && labels_hold(when, input, ex) &&
         logs_hold(when, input, ex) && history_holds(when, input, ex) &&
         metrics_hold(when, input, ex);
}

} // namespace medic::coordinator::diagnose::detail
