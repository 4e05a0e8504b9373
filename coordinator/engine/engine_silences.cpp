// SPDX-License-Identifier: Apache-2.0
// The engine's side of silences (docs/silences.md): an incident an active silence matches is not
// escalated (remediation goes on: maintenance windows and the freeze stop actions, silences only
// stop notifications); its timeline says which silence held it; when no silence covers it any
// more (ended, expired by an operator) and it still needs a person, the notification goes out
// then. Every change is written through: the operator is answered once the store committed it.
// Loop thread only, but for the storage worker jobs.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "coordinator/engine/engine.hpp"

namespace medic::coordinator::engine {
namespace {

constexpr std::size_t k_max_silences = 10'000; // pending and active at once
constexpr std::size_t k_max_listed = 1000;     // silence.list --all: the newest ones

storage::SilenceRecord to_record(const escalate::Silence& silence) {
  return {silence.id,         escalate::matchers_to_json(silence.matchers).dump(),
          silence.starts_ms,  silence.ends_ms,
          silence.created_by, silence.created_ms,
          silence.comment,    silence.expired_ms,
          silence.expired_by};
}

Result<escalate::Silence> from_record(const storage::SilenceRecord& record) {
  const auto parsed = nlohmann::json::parse(record.matchers_json, nullptr, false);
  auto matchers = escalate::matchers_from_json(parsed);
  if (!matchers) {
    return fail(ErrorCode::storage,
                "silence " + record.id + " has unreadable matchers: " + matchers.error().message());
  }
  return escalate::Silence{record.id,      std::move(*matchers), record.starts_ms,
                           record.ends_ms, record.created_by,    record.created_ms,
                           record.comment, record.expired_ms,    record.expired_by};
}

Error as_error(Error error, const char* what) {
  return std::move(error).context(what);
}

} // namespace

bool Engine::silence_holds(const correlate::Incident& incident, std::int64_t now_ms) {
  const auto it = std::find_if(m_silences.begin(), m_silences.end(), [&](const auto& silence) {
    return escalate::silences(silence, incident, now_ms);
  });
  if (it == m_silences.end()) {
    m_silenced.erase(incident.id);
    return false;
  }
  auto& held_by = m_silenced[incident.id];
  if (held_by != it->id) { // audited once per silence, not on every reconsideration
    held_by = it->id;
    audit(incident.id, now_ms, "coordinator", "silenced",
          "not escalated: silence " + it->id + " (" + escalate::describe(it->matchers) + ", by " +
              it->created_by + ": " + it->comment +
              ") is active; escalated when it ends if still needed",
          {{"silence", it->id}, {"ends_ms", it->ends_ms}});
  }
  return true;
}

void Engine::silences_changed(std::int64_t now_ms) {
  std::vector<std::pair<correlate::IncidentId, std::string>> held(m_silenced.begin(),
                                                                  m_silenced.end());
  for (const auto& [id, silence_id] : held) {
    const correlate::Incident* incident = m_correlator.find(id);
    if (incident == nullptr || incident->state != correlate::IncidentState::open) {
      m_silenced.erase(id);
      continue;
    }
    const bool still = std::any_of(m_silences.begin(), m_silences.end(), [&](const auto& s) {
      return escalate::silences(s, *incident, now_ms);
    });
    if (still) {
      continue; // maybe_escalate would hold it again (and audit the other silence then)
    }
    m_silenced.erase(id);
    audit(id, now_ms, "coordinator", "silence",
          "silence " + silence_id + " no longer holds this incident: escalation reconsidered",
          {{"silence", silence_id}});
    maybe_escalate(*incident, now_ms);
  }
}

void Engine::expire_silences(std::int64_t now_ms) {
  const auto ended = std::erase_if(m_silences, [now_ms](const auto& silence) {
    return escalate::state_of(silence, now_ms) == escalate::SilenceState::expired;
  });
  if (ended > 0) {
    silences_changed(now_ms);
  }
}

void Engine::add_silence(escalate::Silence silence, const std::string& actor, Done done) {
  const std::int64_t now_ms = m_clock.now_unix_ms();
  silence.id = escalate::new_silence_id();
  silence.created_by = actor;
  silence.created_ms = now_ms;
  silence.expired_ms = 0;
  silence.expired_by.clear();
  if (silence.starts_ms == 0) {
    silence.starts_ms = now_ms;
  }
  if (auto checked = escalate::check_new_silence(silence, now_ms); !checked) {
    done(fail(std::move(checked).error()));
    return;
  }
  if (m_silences.size() >= k_max_silences) {
    done(fail(ErrorCode::busy, "there are " + std::to_string(k_max_silences) +
                                   " silences already; expire some (medicctl silence list)"));
    return;
  }
  auto record = to_record(silence);
  const bool queued = m_storage_worker.try_submit(
      [this, record = std::move(record), silence = std::move(silence), actor,
       done = std::move(done)]() mutable -> uv::Worker::Completion {
        auto stored = m_store.add_silence(record);
        return [this, stored = std::move(stored), silence = std::move(silence), actor,
                done = std::move(done)]() mutable {
          const std::int64_t at_ms = m_clock.now_unix_ms();
          if (!stored) {
            ++m_counters.store_errors;
            done(fail(as_error(std::move(stored).error(), "storing the silence")));
            return;
          }
          auto answer = escalate::silence_json(silence, at_ms);
          audit(0, at_ms, actor, "silence",
                "silence " + silence.id + " added (" + escalate::describe(silence.matchers) +
                    ") until " + std::to_string(silence.ends_ms) + ": " + silence.comment,
                answer);
          m_silences.push_back(std::move(silence));
          done(std::move(answer));
        };
      });
  if (!queued) {
    done(fail(ErrorCode::busy, "the storage queue is full; try again in a moment"));
  }
}

void Engine::expire_silence(const std::string& id, const std::string& actor, Done done) {
  const std::int64_t now_ms = m_clock.now_unix_ms();
  const bool live = std::any_of(m_silences.begin(), m_silences.end(),
                                [&](const auto& silence) { return silence.id == id; });
  const bool queued = m_storage_worker.try_submit(
      [this, id, actor, now_ms, live, done = std::move(done)]() mutable -> uv::Worker::Completion {
        auto expired = m_store.expire_silence(id, actor, now_ms);
        return [this, id, actor, live, expired = std::move(expired),
                done = std::move(done)]() mutable {
          const std::int64_t at_ms = m_clock.now_unix_ms();
          if (!expired) {
            ++m_counters.store_errors;
            done(fail(as_error(std::move(expired).error(), "expiring the silence")));
            return;
          }
          if (!*expired) {
            done(fail(ErrorCode::not_found,
                      "no silence has id '" + id + "'; `medicctl silence list --all` lists them"));
            return;
          }
          auto silence = from_record(**expired);
          if (!silence) {
            done(fail(std::move(silence).error()));
            return;
          }
          if (!live) {
            done(fail(ErrorCode::invalid_argument, "silence " + id + " has already ended (at " +
                                                       std::to_string(silence->ends_ms) +
                                                       "); nothing to expire"));
            return;
          }
          std::erase_if(m_silences, [&](const auto& s) { return s.id == id; });
          audit(0, at_ms, actor, "silence",
                "silence " + id + " expired (" + escalate::describe(silence->matchers) + ")",
                {{"silence", id}});
          silences_changed(at_ms);
          done(escalate::silence_json(*silence, at_ms));
        };
      });
  if (!queued) {
    done(fail(ErrorCode::busy, "the storage queue is full; try again in a moment"));
  }
}

void Engine::list_silences(bool all, Done done) {
  const std::int64_t now_ms = m_clock.now_unix_ms();
  if (!all) { // the engine's own copy is what is in force (written through: same as stored)
    std::vector<const escalate::Silence*> sorted;
    for (const auto& silence : m_silences) {
      if (escalate::state_of(silence, now_ms) != escalate::SilenceState::expired) {
        sorted.push_back(&silence);
      }
    }
    std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
      return a->ends_ms != b->ends_ms ? a->ends_ms < b->ends_ms : a->id < b->id;
    });
    nlohmann::json list = nlohmann::json::array();
    for (const auto* silence : sorted) {
      list.push_back(escalate::silence_json(*silence, now_ms));
    }
    done(nlohmann::json{{"silences", std::move(list)}});
    return;
  }
  const bool queued = m_storage_worker.try_submit(
      [this, now_ms, done = std::move(done)]() mutable -> uv::Worker::Completion {
        auto listed = m_store.list_silences(true, now_ms, k_max_listed);
        return [this, listed = std::move(listed), done = std::move(done)]() mutable {
          if (!listed) {
            done(fail(as_error(std::move(listed).error(), "listing silences")));
            return;
          }
          const std::int64_t at_ms = m_clock.now_unix_ms();
          nlohmann::json list = nlohmann::json::array();
          for (const auto& record : *listed) {
            auto silence = from_record(record);
            if (!silence) {
              done(fail(std::move(silence).error()));
              return;
            }
            list.push_back(escalate::silence_json(*silence, at_ms));
          }
          done(nlohmann::json{{"silences", std::move(list)}});
        };
      });
  if (!queued) {
    done(fail(ErrorCode::busy, "the storage queue is full; try again in a moment"));
  }
}

Result<void> Engine::restore_silences() {
  const std::int64_t now_ms = m_clock.now_unix_ms();
  auto stored = m_store.list_silences(false, now_ms, k_max_silences);
  if (!stored) {
    return fail(std::move(stored).error().context("restoring silences"));
  }
  m_silences.clear();
  for (const auto& record : *stored) {
    auto silence = from_record(record);
    if (!silence) {
      // Forgetting a silence would page people it was set up to spare: refuse to start.
      return fail(std::move(silence).error().context("restoring silences"));
    }
    m_silences.push_back(std::move(*silence));
  }
  // The open incidents they held before the restart: escalated when the silence ends.
  for (const auto& incident : m_correlator.open_incidents()) {
    const auto it = m_work.find(incident.id);
    if (it != m_work.end() && it->second.escalated) {
      continue;
    }
    for (const auto& silence : m_silences) {
      if (escalate::silences(silence, incident, now_ms)) {
        m_silenced[incident.id] = silence.id;
        break;
      }
    }
  }
  if (!m_silences.empty()) {
    spdlog::info("engine: {} silences restored, holding {} open incidents", m_silences.size(),
                 m_silenced.size());
  }
  return {};
}

} // namespace medic::coordinator::engine
