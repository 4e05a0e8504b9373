// SPDX-License-Identifier: Apache-2.0
// Reads a rule's `when:` mapping into Conditions: one reader per key, each checking its value
// where it stands in the file. Message patterns are compiled here (RE2), once.
#include <algorithm>
#include <array>

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include "coordinator/diagnose/rule_loader.hpp"

namespace medic::coordinator::diagnose::detail {

namespace {

using Reader = Result<void> (*)(const YAML::Node&, const LoadContext&, Conditions&);

// Calls `each` on every element of a list, or on the node itself when it is not a list.
template <class Each>
Result<void> for_each_item(const YAML::Node& node, const LoadContext& context,
                           std::string_view what, Each each) {
  if (node.IsSequence()) {
    if (node.size() == 0) {
      return fail(context.error(node, std::string(what) + " must not be an empty list"));
    }
    for (const auto& item : node) {
      if (auto done = each(YAML::Node(item)); !done) {
        return done;
      }
    }
    return {};
  }
  return each(node);
}

Result<void> read_category(const YAML::Node& node, const LoadContext& context, Conditions& out) {
  return for_each_item(node, context, "category", [&](const YAML::Node& item) -> Result<void> {
    auto text = read_text(item, context, "category");
    if (!text) {
      return fail(std::move(text).error());
    }
    const auto category = protocol::parse_category(*text);
    if (!category) {
      return fail(context.error(item, "unknown category '" + *text +
                                          "' (authentication, database, api, performance, "
                                          "integration, resource, configuration, network)"));
    }
    out.categories.push_back(*category);
    return {};
  });
}

Result<void> read_globs(const YAML::Node& node, const LoadContext& context, std::string_view what,
                        std::vector<std::string>& out) {
  auto list = read_text_list(node, context, what);
  if (!list) {
    return fail(std::move(list).error());
  }
  out = std::move(*list);
  return {};
}

Result<void> read_rule(const YAML::Node& node, const LoadContext& context, Conditions& out) {
  return read_globs(node, context, "rule", out.rules);
}
Result<void> read_service(const YAML::Node& node, const LoadContext& context, Conditions& out) {
  return read_globs(node, context, "service", out.services);
}
Result<void> read_host(const YAML::Node& node, const LoadContext& context, Conditions& out) {
  return read_globs(node, context, "host", out.hosts);
}
Result<void> read_log_rule(const YAML::Node& node, const LoadContext& context, Conditions& out) {
  return read_globs(node, context, "log_rule", out.log_rules);
}

Result<void> read_severity(const YAML::Node& node, const LoadContext& context, Conditions& out) {
  auto text = read_text(node, context, "severity_at_least");
  if (!text) {
    return fail(std::move(text).error());
  }
  out.severity_at_least = protocol::parse_severity(*text);
  if (!out.severity_at_least) {
    return fail(context.error(
        node, "unknown severity '" + *text + "' (critical, high, medium, low, info)"));
  }
  return {};
}

Result<void> read_kind(const YAML::Node& node, const LoadContext& context, Conditions& out) {
  return for_each_item(node, context, "kind", [&](const YAML::Node& item) -> Result<void> {
    auto text = read_text(item, context, "kind");
    if (!text) {
      return fail(std::move(text).error());
    }
    if (*text != "host" && *text != "fleet") {
      return fail(context.error(item, "kind must be host or fleet, got '" + *text + "'"));
    }
    out.kinds.push_back(*text == "host" ? correlate::IncidentKind::host
                                        : correlate::IncidentKind::fleet);
    return {};
  });
}

Result<void> read_labels(const YAML::Node& node, const LoadContext& context, Conditions& out) {
  if (!node.IsMap() || node.size() == 0) {
    return fail(context.error(node, "labels must be a mapping {name: glob or [globs]}"));
  }
  for (const auto& entry : node) {
    auto name = read_text(entry.first, context, "a label name");
    auto values = read_text_list(entry.second, context, "labels." + entry.first.Scalar());
    if (!name || !values) {
      return fail(!name ? std::move(name).error() : std::move(values).error());
    }
    out.labels.push_back({std::move(*name), std::move(*values)});
  }
  return {};
}

Result<void> read_message(const YAML::Node& node, const LoadContext& context, Conditions& out) {
  return for_each_item(node, context, "message", [&](const YAML::Node& item) -> Result<void> {
    auto text = read_text(item, context, "message");
    if (!text) {
      return fail(std::move(text).error());
    }
    RE2::Options options;
    options.set_log_errors(false);
    auto compiled = std::make_shared<const RE2>(*text, options);
    if (!compiled->ok()) {
      return fail(context.error(
          item, "message pattern '" + *text + "' is not RE2 syntax: " + compiled->error()));
    }
    out.messages.push_back({std::move(*text), std::move(compiled)});
    return {};
  });
}

Result<void> read_metric_labels(const YAML::Node& node, const LoadContext& context,
                                MetricCondition& metric) {
  if (!node.IsMap()) {
    return fail(context.error(node, "metric labels must be a mapping {name: glob}"));
  }
  for (const auto& entry : node) {
    auto name = read_text(entry.first, context, "a label name");
    auto value = read_text(entry.second, context, "metric label " + entry.first.Scalar());
    if (!name || !value) {
      return fail(!name ? std::move(name).error() : std::move(value).error());
    }
    MetricLabel label{std::move(*name), std::move(*value), {}};
    if (label.value.starts_with("{label:") && label.value.ends_with("}")) {
      label.incident_label = label.value.substr(7, label.value.size() - 8);
    }
    metric.labels.push_back(std::move(label));
  }
  return {};
}

Result<MetricCondition> read_one_metric(const YAML::Node& node, const LoadContext& context) {
  if (auto keys = check_keys(node, {"name", "labels", "above", "below"}, context, "metric");
      !keys) {
    return fail(std::move(keys).error());
  }
  MetricCondition metric;
  for (const auto& entry : node) {
    const std::string& key = entry.first.Scalar();
    Result<void> done;
    if (key == "name") {
      auto name = read_text(entry.second, context, "metric name");
      done = name ? (metric.name = std::move(*name), Result<void>()) : fail(name.error());
    } else if (key == "labels") {
      done = read_metric_labels(entry.second, context, metric);
    } else {
      auto level = read_number(entry.second, context, "metric " + key);
      done = level ? ((key == "above" ? metric.above : metric.below) = *level, Result<void>())
                   : fail(level.error());
    }
    if (!done) {
      return fail(std::move(done).error());
    }
  }
  if (metric.name.empty() || (!metric.above && !metric.below)) {
    return fail(context.error(node, "a metric condition needs a name and above and/or below"));
  }
  return metric;
}

Result<void> read_metric(const YAML::Node& node, const LoadContext& context, Conditions& out) {
  return for_each_item(node, context, "metric", [&](const YAML::Node& item) -> Result<void> {
    auto metric = read_one_metric(item, context);
    if (!metric) {
      return fail(std::move(metric).error());
    }
    out.metrics.push_back(std::move(*metric));
    return {};
  });
}

Result<void> read_log_template(const YAML::Node& node, const LoadContext& context,
                               Conditions& out) {
  return for_each_item(node, context, "log_template", [&](const YAML::Node& item) -> Result<void> {
    auto id = read_count(item, context, "log_template");
    if (!id) {
      return fail(std::move(id).error());
    }
    out.log_templates.push_back(*id);
    return {};
  });
}

Result<void> read_recent_incidents(const YAML::Node& node, const LoadContext& context,
                                   Conditions& out) {
  if (auto keys = check_keys(node, {"at_least", "at_most"}, context, "recent_incidents"); !keys) {
    return keys;
  }
  CountRange range;
  for (const auto& entry : node) {
    auto count = read_count(entry.second, context, "recent_incidents." + entry.first.Scalar());
    if (!count) {
      return fail(std::move(count).error());
    }
    (entry.first.Scalar() == "at_least" ? range.at_least : range.at_most) = *count;
  }
  if (!range.at_least && !range.at_most) {
    return fail(context.error(node, "recent_incidents needs at_least and/or at_most"));
  }
  out.recent_incidents = range;
  return {};
}

Result<void> read_statuses(const YAML::Node& node, const LoadContext& context,
                           RecoveryCondition& recovery) {
  return for_each_item(node, context, "status", [&](const YAML::Node& item) -> Result<void> {
    auto text = read_text(item, context, "status");
    if (!text) {
      return fail(std::move(text).error());
    }
    const auto status = protocol::parse_result_status(*text);
    if (!status) {
      return fail(context.error(item, "unknown result status '" + *text +
                                          "' (succeeded, failed, rejected, expired, duplicate, "
                                          "timed-out, dry-run, needs-person)"));
    }
    recovery.statuses.push_back(*status);
    return {};
  });
}

Result<RecoveryCondition> read_one_recovery(const YAML::Node& node, const LoadContext& context) {
  if (auto keys =
          check_keys(node, {"action", "status", "at_least", "within"}, context, "recent_recovery");
      !keys) {
    return fail(std::move(keys).error());
  }
  RecoveryCondition recovery;
  for (const auto& entry : node) {
    const std::string& key = entry.first.Scalar();
    Result<void> done;
    if (key == "action") {
      done = read_globs(entry.second, context, "recent_recovery.action", recovery.actions);
    } else if (key == "status") {
      done = read_statuses(entry.second, context, recovery);
    } else if (key == "at_least") {
      auto count = read_count(entry.second, context, "recent_recovery.at_least");
      done = count ? (recovery.at_least = *count, Result<void>()) : fail(count.error());
    } else {
      auto within = read_duration(entry.second, context, "recent_recovery.within");
      done = within ? (recovery.within_ms = *within, Result<void>()) : fail(within.error());
    }
    if (!done) {
      return fail(std::move(done).error());
    }
  }
  if (recovery.at_least == 0) {
    return fail(context.error(node, "recent_recovery.at_least must be at least 1"));
  }
  return recovery;
}

Result<void> read_recovery(const YAML::Node& node, const LoadContext& context, Conditions& out) {
  return for_each_item(node, context, "recent_recovery",
                       [&](const YAML::Node& item) -> Result<void> {
                         auto recovery = read_one_recovery(item, context);
                         if (!recovery) {
                           return fail(std::move(recovery).error());
                         }
                         out.recent_recoveries.push_back(std::move(*recovery));
                         return {};
                       });
}

} // namespace

Result<Conditions> read_conditions(const YAML::Node& when, const LoadContext& context) {
  static constexpr std::array<std::pair<std::string_view, Reader>, 13> k_readers = {{
      {"category", read_category},
      {"rule", read_rule},
      {"severity_at_least", read_severity},
      {"kind", read_kind},
      {"service", read_service},
      {"host", read_host},
      {"labels", read_labels},
      {"message", read_message},
      {"metric", read_metric},
      {"log_template", read_log_template},
      {"log_rule", read_log_rule},
      {"recent_incidents", read_recent_incidents},
      {"recent_recovery", read_recovery},
  }};
  std::vector<std::string_view> known;
  for (const auto& reader : k_readers) {
    known.push_back(reader.first);
  }
  if (auto keys = check_keys(when, known, context, "when"); !keys) {
    return fail(std::move(keys).error());
  }
  Conditions conditions;
  for (const auto& entry : when) {
    const auto reader = std::find_if(k_readers.begin(), k_readers.end(), [&](const auto& r) {
      return r.first == entry.first.Scalar();
    });
    if (auto done = reader->second(entry.second, context, conditions); !done) {
      return fail(std::move(done).error());
    }
  }
  return conditions;
}

} // namespace medic::coordinator::diagnose::detail
