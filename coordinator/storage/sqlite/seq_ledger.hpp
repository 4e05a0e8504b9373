// SPDX-License-Identifier: Apache-2.0
// Which batches of each agent are stored, without a row per batch: every sequence number up to
// the highest stored one, except the gaps (ranges passed over when a higher number was stored
// first). A batch is new when it is above the highest or inside a gap; anything else is a
// redelivery. Agents number batches in order and resend in order, so the usual batch moves the
// highest by one and changes no gap; a gap opens when batches were lost before reaching the
// spool's send (a full spool dropped them), when a new spool numbers from the clock, or when a
// batch failed to store while a later one was stored.
//
// Memory only, no SQL: SqliteStore loads an agent's state on first sight and writes the gap
// changes each claim reports. Not thread-safe (the storage thread's).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace medic::coordinator::storage {

struct SeqGap {
  std::int64_t first = 0; // both inclusive, first <= last
  std::int64_t last = 0;
  friend bool operator==(const SeqGap&, const SeqGap&) = default;
};

// What one claim changed: gaps to delete and gaps to insert (a gap that shrinks is one of each).
struct SeqClaim {
  bool fresh = false; // false: a redelivery, nothing changed
  std::array<SeqGap, 2> removed{};
  std::size_t removed_count = 0;
  std::array<SeqGap, 2> added{};
  std::size_t added_count = 0;
};

class SeqLedger {
public:
  // Gaps kept per agent. An agent whose numbers jump again and again (a broken or hostile one)
  // loses its oldest gap beyond this: batches in it count as already stored.
  static constexpr std::size_t k_max_gaps = 1'024;

  [[nodiscard]] bool loaded(std::string_view agent) const;
  // `highest` 0: nothing stored yet. `gaps` in any order; more than k_max_gaps keeps the newest.
  void load(std::string_view agent, std::int64_t highest, std::vector<SeqGap> gaps);
  // Decides `seq` (> 0) for a loaded agent and records it as stored when it is new.
  [[nodiscard]] SeqClaim claim(std::string_view agent, std::int64_t seq);
  // Forgets every agent (after a rollback, or gaps deleted behind its back): reloaded on use.
  void clear() noexcept { m_agents.clear(); }
  [[nodiscard]] std::size_t agents() const noexcept { return m_agents.size(); }

private:
  struct Agent {
    std::int64_t highest = 0;
    std::vector<SeqGap> gaps; // sorted by first, disjoint, all below highest
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept {
      return std::hash<std::string_view>{}(key);
    }
  };
  std::unordered_map<std::string, Agent, Hash, std::equal_to<>> m_agents;
};

} // namespace medic::coordinator::storage
