// SPDX-License-Identifier: Apache-2.0
#include "agent/heal/fallback_healer.hpp"

#include <algorithm>

#include "agent/act/cooldown.hpp"
#include "agent/heal/label_template.hpp"

namespace medic::agent::heal {

namespace {

std::string seconds_text(std::int64_t ms) {
  return std::to_string(ms / 1000) + "." + std::to_string((ms % 1000) / 100) + "s";
}

bool has_label(const std::vector<protocol::Label>& labels, const std::string& name,
               const std::string& value) {
  return std::any_of(labels.begin(), labels.end(), [&](const protocol::Label& label) {
    return label.name == name && label.value == value;
  });
}

} // namespace

std::string_view to_string(HealDecision::Kind kind) noexcept {
  switch (kind) {
  case HealDecision::Kind::run: return "run";
  case HealDecision::Kind::needs_person: return "needs_person";
  case HealDecision::Kind::flapping: return "flapping";
  case HealDecision::Kind::skipped: return "skipped";
  case HealDecision::Kind::held: return "held";
  }
  return "unknown";
}

FallbackHealer::FallbackHealer(HealConfig config, std::uint64_t seed, std::size_t max_targets)
    : m_config(std::move(config)),
      m_budget(m_config.budget, seed, max_targets),
      m_max_targets(std::max<std::size_t>(max_targets, 1)) {}

bool FallbackHealer::applies(const HealRule& rule, const protocol::Signal& signal) const {
  if (rule.on_rule != signal.rule) {
    return false;
  }
  return std::all_of(rule.match.begin(), rule.match.end(), [&](const auto& pair) {
    return has_label(signal.labels, pair.first, pair.second);
  });
}

bool FallbackHealer::acting(const HealRule& rule, LinkState link, std::int64_t now_ms) const {
  return rule.always || (!link.connected &&
                         now_ms - link.disconnected_since_ms >= m_config.fallback_after.count());
}

std::vector<HealDecision> FallbackHealer::on_signal(const protocol::Signal& signal, LinkState link,
                                                    std::int64_t now_ms) {
  std::vector<HealDecision> out;
  const std::string& target = signal.fingerprint.empty() ? signal.rule : signal.fingerprint;
  auto found = m_tracked.find(target);
  if (signal.state == protocol::SignalState::cleared) {
    const bool relevant = found != m_tracked.end() ||
                          std::any_of(m_config.rules.begin(), m_config.rules.end(),
                                      [&](const HealRule& rule) { return applies(rule, signal); });
    if (relevant) {
      m_budget.target_cleared(target, now_ms); // starts the healthy period (or a flap cycle)
    }
    if (found != m_tracked.end()) {
      found->second.firing = false;
      found->second.last_event_ms = now_ms;
    }
    return out;
  }
  Tracked* tracked = found != m_tracked.end() ? &found->second : track(signal, target, now_ms);
  if (tracked == nullptr) {
    return out; // no heal rule applies
  }
  m_budget.target_fired(target, now_ms);
  tracked->firing = true;
  tracked->last_event_ms = now_ms;
  for (Slot& slot : tracked->slots) {
    if (slot.reported == Reported::ran || slot.reported == Reported::cooling_down ||
        slot.reported == Reported::held) {
      slot.reported = Reported::none; // a new episode: its refusal is news again
    }
  }
  consider(target, *tracked, link, now_ms, Trigger::signal, out);
  return out;
}

std::vector<HealDecision> FallbackHealer::tick(LinkState link, std::int64_t now_ms) {
  std::vector<HealDecision> out;
  m_budget.settle(now_ms);
  for (auto& [target, tracked] : m_tracked) {
    if (tracked.firing) {
      consider(target, tracked, link, now_ms, Trigger::tick, out);
    }
  }
  return out;
}

void FallbackHealer::on_action_done(const std::string& target, const std::string& action,
                                    bool /*succeeded*/, std::int64_t now_ms) {
  m_budget.record_done({target, action}, now_ms);
}

void FallbackHealer::reconnected() {
  m_budget.reconnected();
  for (auto& [target, tracked] : m_tracked) {
    for (Slot& slot : tracked.slots) {
      slot.reported = Reported::none;
    }
  }
}

FallbackHealer::Tracked* FallbackHealer::track(const protocol::Signal& signal,
                                               const std::string& target, std::int64_t now_ms) {
  Tracked tracked;
  for (std::size_t i = 0; i < m_config.rules.size(); ++i) {
    if (applies(m_config.rules[i], signal)) {
      tracked.slots.push_back({i, Reported::none, MaintenanceHold::Kind::none, {}});
    }
  }
  if (tracked.slots.empty()) {
    return nullptr;
  }
  if (m_tracked.size() >= m_max_targets) {
    evict_one();
  }
  tracked.signal_rule = signal.rule;
  tracked.labels = signal.labels;
  tracked.last_event_ms = now_ms;
  return &m_tracked.emplace(target, std::move(tracked)).first->second;
}

void FallbackHealer::consider(const std::string& target, Tracked& tracked, LinkState link,
                              std::int64_t now_ms, Trigger trigger,
                              std::vector<HealDecision>& out) {
  for (Slot& slot : tracked.slots) {
    if (acting(m_config.rules[slot.rule], link, now_ms)) {
      consider_slot(target, tracked, slot, link, now_ms, trigger, out);
    }
  }
}

void FallbackHealer::consider_slot(const std::string& target, Tracked& tracked, Slot& slot,
                                   LinkState link, std::int64_t now_ms, Trigger trigger,
                                   std::vector<HealDecision>& out) {
  const HealRule& rule = m_config.rules[slot.rule];
  const BudgetKey key{target, rule.action};
  const bool ran_now = std::any_of(out.begin(), out.end(), [&](const HealDecision& d) {
    return d.kind == HealDecision::Kind::run && d.target == target && d.action == rule.action;
  });
  if (ran_now || slot.reported == Reported::skipped) {
    return; // two rules, one action: one budget, one run; or parameters that cannot be filled
  }
  const Verdict verdict = m_budget.check(key, now_ms, rule.max_attempts);
  if (verdict.gate == Gate::exhausted) {
    m_budget.mark_needs_person(key);
  }
  // Refusals are reported once per change; the check above each tick allocates nothing.
  const Reported now_reported = verdict.gate == Gate::flapping    ? Reported::flapping
                                : verdict.gate == Gate::exhausted ? Reported::exhausted
                                                                  : Reported::cooling_down;
  if (verdict.gate != Gate::allowed) {
    const bool news = slot.reported != now_reported &&
                      (verdict.gate != Gate::cooling_down || trigger == Trigger::signal);
    if (news) {
      slot.reported = now_reported;
      out.push_back(refusal(target, tracked, rule, verdict, now_ms));
    }
    return;
  }
  HealDecision run = decision(HealDecision::Kind::run, target, tracked, rule);
  for (const auto& [name, templ] : rule.params) {
    auto value = expand_label_template(templ, tracked.labels);
    if (!value) {
      slot.reported = Reported::skipped;
      out.push_back(decision(HealDecision::Kind::skipped, target, tracked, rule));
      out.back().reason = "params." + name + ": " + value.error().message();
      return;
    }
    run.params.push_back({name, std::move(*value)});
  }
  if (held_by_policy(run, tracked, slot, now_ms, out) ||
      held_by_cooldown(run, slot, trigger, now_ms, out)) {
    return;
  }
  m_budget.record_attempt(key, now_ms);
  run.attempt = verdict.attempts + 1;
  run.reason = "attempt " + std::to_string(run.attempt) + ": " +
               (link.connected ? std::string("the rule acts always")
                               : "coordinator unreachable for " +
                                     seconds_text(now_ms - link.disconnected_since_ms));
  slot.reported = Reported::ran;
  out.push_back(std::move(run));
}

bool FallbackHealer::held_by_cooldown(const HealDecision& run, Slot& slot, Trigger trigger,
                                      std::int64_t now_ms, std::vector<HealDecision>& out) {
  const std::int64_t until = m_cooldown_gate ? m_cooldown_gate(run.action, run.params, now_ms) : 0;
  if (until <= now_ms) {
    return false;
  }
  m_budget.defer({run.target, run.action}, until, now_ms);
  if (slot.reported != Reported::cooling_down && trigger == Trigger::signal) {
    slot.reported = Reported::cooling_down;
    HealDecision d = run;
    d.kind = HealDecision::Kind::skipped;
    d.retry_at_ms = until;
    d.reason = act::describe_cooldown(run.action, until, now_ms);
    out.push_back(std::move(d));
  }
  return true;
}

bool FallbackHealer::held_by_policy(const HealDecision& run, const Tracked& tracked, Slot& slot,
                                    std::int64_t now_ms, std::vector<HealDecision>& out) {
  const MaintenanceHold hold = m_maintenance.holds(tracked.labels, run.params, now_ms);
  if (!hold) {
    return false;
  }
  // Compared without allocating: a hold lasts many ticks.
  const bool news = slot.reported != Reported::held || slot.held_kind != hold.kind ||
                    slot.held_window != hold.window_id;
  if (news) {
    slot.reported = Reported::held;
    slot.held_kind = hold.kind;
    slot.held_window = hold.window_id;
    HealDecision d = run;
    d.kind = HealDecision::Kind::held;
    d.reason = describe(hold);
    out.push_back(std::move(d));
  }
  return true;
}

HealDecision FallbackHealer::refusal(const std::string& target, const Tracked& tracked,
                                     const HealRule& rule, const Verdict& verdict,
                                     std::int64_t now_ms) const {
  const BudgetSettings& b = m_config.budget;
  switch (verdict.gate) {
  case Gate::flapping: {
    HealDecision d = decision(HealDecision::Kind::flapping, target, tracked, rule);
    d.attempt = verdict.attempts;
    d.reason = "fired and cleared more than " + std::to_string(b.flap_cycles) + " times within " +
               seconds_text(b.flap_window.count()) + "; not acting until the coordinator is back";
    return d;
  }
  case Gate::exhausted: {
    HealDecision d = decision(HealDecision::Kind::needs_person, target, tracked, rule);
    d.attempt = verdict.attempts;
    d.reason = std::to_string(verdict.attempts) + " attempts did not make it healthy for " +
               seconds_text(b.healthy_for.count()) + "; stopped until the coordinator is back";
    return d;
  }
  case Gate::allowed:
  case Gate::cooling_down: break;
  }
  HealDecision d = decision(HealDecision::Kind::skipped, target, tracked, rule);
  d.attempt = verdict.attempts;
  d.retry_at_ms = verdict.retry_at_ms;
  d.reason = "cooling down after attempt " + std::to_string(verdict.attempts) + " for " +
             seconds_text(std::max<std::int64_t>(verdict.retry_at_ms - now_ms, 0));
  return d;
}

HealDecision FallbackHealer::decision(HealDecision::Kind kind, const std::string& target,
                                      const Tracked& tracked, const HealRule& rule) const {
  HealDecision d;
  d.kind = kind;
  d.rule_id = rule.id;
  d.signal_rule = tracked.signal_rule;
  d.action = rule.action;
  d.target = target;
  d.dry_run = m_config.dry_run;
  return d;
}

void FallbackHealer::evict_one() {
  auto victim = m_tracked.end();
  for (auto it = m_tracked.begin(); it != m_tracked.end(); ++it) {
    const bool better = victim == m_tracked.end() ||
                        (!it->second.firing && victim->second.firing) ||
                        (it->second.firing == victim->second.firing &&
                         it->second.last_event_ms < victim->second.last_event_ms);
    if (better) {
      victim = it;
    }
  }
  if (victim != m_tracked.end()) {
    m_tracked.erase(victim);
  }
}

} // namespace medic::agent::heal
