// SPDX-License-Identifier: Apache-2.0
// Silences, as Alertmanager users know them: matchers on an incident (host, service, rule,
// category, severity-or-worse, and its labels with =, !=, =~, !~; regexes are RE2, anchored at
// both ends) and a time range. While an open incident matches an active silence its escalation
// notifications are not sent; remediation goes on. Pure values and functions, any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/correlate/incident.hpp"
#include "shared/error.hpp"

namespace re2 {
class RE2;
} // namespace re2

namespace medic::coordinator::escalate {

enum class MatchField : std::uint8_t { host, service, rule, category, severity, label };
enum class MatchOp : std::uint8_t {
  equal,     // =
  not_equal, // !=
  regex,     // =~ (the whole value must match)
  not_regex, // !~
  at_least,  // >= : severity only, "this or worse"
};

struct Matcher {
  MatchField field = MatchField::label;
  std::string name; // the label's name (MatchField::label only)
  MatchOp op = MatchOp::equal;
  std::string value;
  std::shared_ptr<const re2::RE2> regex; // compiled by make_matcher for regex and not_regex
};

// Checks and compiles a matcher: regexes must be RE2 syntax, category and severity values must be
// known names, >= is for severity only, a label matcher needs a name. Errors say what to write.
[[nodiscard]] Result<Matcher> make_matcher(MatchField field, std::string name, MatchOp op,
                                           std::string value);
// "name=value", "name!=value", "name=~regex", "name!~regex" (the --label form).
[[nodiscard]] Result<Matcher> parse_label_matcher(std::string_view text);
// A label that is absent matches as the empty string (as in Alertmanager).
[[nodiscard]] bool matches(const Matcher& matcher, const correlate::Incident& incident);

[[nodiscard]] std::string_view to_string(MatchField field) noexcept;
[[nodiscard]] std::string_view to_string(MatchOp op) noexcept;
// "host=web-1", "severity>=high", "env=~prod-.*".
[[nodiscard]] std::string describe(const Matcher& matcher);
[[nodiscard]] std::string describe(const std::vector<Matcher>& matchers);

// [{"field": "host", "op": "=", "value": "web-1"}, {"field": "label", "name": "env", ...}]
[[nodiscard]] nlohmann::json matchers_to_json(const std::vector<Matcher>& matchers);
[[nodiscard]] Result<std::vector<Matcher>> matchers_from_json(const nlohmann::json& list);

enum class SilenceState : std::uint8_t { pending, active, expired };
[[nodiscard]] std::string_view to_string(SilenceState state) noexcept;

struct Silence {
  std::string id;
  std::vector<Matcher> matchers; // all must match
  std::int64_t starts_ms = 0;
  std::int64_t ends_ms = 0; // exclusive; expiring early sets it to the expiry time
  std::string created_by;   // "operator:uid=1000"
  std::int64_t created_ms = 0;
  std::string comment;
  std::int64_t expired_ms = 0; // when an operator expired it early (0: never)
  std::string expired_by;
};

inline constexpr std::size_t k_max_matchers = 32;
inline constexpr std::size_t k_max_comment_bytes = 4096;

// A silence an operator may create: one matcher at least, a comment, ends after it starts and
// after now.
[[nodiscard]] Result<void> check_new_silence(const Silence& silence, std::int64_t now_ms);
[[nodiscard]] SilenceState state_of(const Silence& silence, std::int64_t now_ms) noexcept;
// Active now and every matcher matches.
[[nodiscard]] bool silences(const Silence& silence, const correlate::Incident& incident,
                            std::int64_t now_ms);
[[nodiscard]] nlohmann::json silence_json(const Silence& silence, std::int64_t now_ms);
// A fresh random id (UUID v4 text), as Alertmanager's.
[[nodiscard]] std::string new_silence_id();

} // namespace medic::coordinator::escalate
