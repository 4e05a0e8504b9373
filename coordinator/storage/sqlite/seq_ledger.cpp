// SPDX-License-Identifier: Apache-2.0
#include "coordinator/storage/sqlite/seq_ledger.hpp"

#include <algorithm>

namespace medic::coordinator::storage {

namespace {

void add(SeqClaim& claim, SeqGap gap) {
  claim.added[claim.added_count++] = gap;
}

// Past the bound the oldest gap goes: deleted, or never inserted when this claim made it.
void drop_oldest(std::vector<SeqGap>& gaps, SeqClaim& claim) {
  const SeqGap oldest = gaps.front();
  gaps.erase(gaps.begin());
  const auto end = claim.added.begin() + static_cast<std::ptrdiff_t>(claim.added_count);
  if (const auto made = std::find(claim.added.begin(), end, oldest); made != end) {
    std::copy(made + 1, end, made);
    --claim.added_count;
    return;
  }
  claim.removed[claim.removed_count++] = oldest;
}

} // namespace

bool SeqLedger::loaded(std::string_view agent) const {
  return m_agents.contains(agent);
}

void SeqLedger::load(std::string_view agent, std::int64_t highest, std::vector<SeqGap> gaps) {
  std::sort(gaps.begin(), gaps.end(),
            [](const SeqGap& a, const SeqGap& b) { return a.first < b.first; });
  if (gaps.size() > k_max_gaps) {
    gaps.erase(gaps.begin(), gaps.end() - static_cast<std::ptrdiff_t>(k_max_gaps));
  }
  m_agents.insert_or_assign(std::string(agent), Agent{highest, std::move(gaps)});
}

SeqClaim SeqLedger::claim(std::string_view agent, std::int64_t seq) {
  auto found = m_agents.find(agent);
  if (found == m_agents.end()) {
    found = m_agents.emplace(std::string(agent), Agent{}).first;
  }
  Agent& state = found->second;
  SeqClaim claim;
  if (seq > state.highest) {
    claim.fresh = true;
    if (seq > state.highest + 1) { // passed over: those may still come
      const SeqGap gap{state.highest + 1, seq - 1};
      state.gaps.push_back(gap);
      add(claim, gap);
      if (state.gaps.size() > k_max_gaps) {
        drop_oldest(state.gaps, claim);
      }
    }
    state.highest = seq;
    return claim;
  }
  auto& gaps = state.gaps;
  auto after =
      std::upper_bound(gaps.begin(), gaps.end(), seq,
                       [](std::int64_t value, const SeqGap& gap) { return value < gap.first; });
  if (after == gaps.begin() || std::prev(after)->last < seq) {
    return claim; // stored already
  }
  const auto at = std::prev(after);
  const SeqGap old = *at;
  claim.fresh = true;
  claim.removed[claim.removed_count++] = old;
  if (old.first == old.last) {
    gaps.erase(at);
  } else if (seq == old.first || seq == old.last) {
    *at = seq == old.first ? SeqGap{seq + 1, old.last} : SeqGap{old.first, seq - 1};
    add(claim, *at);
  } else {
    *at = SeqGap{old.first, seq - 1};
    add(claim, *at);
    const SeqGap right{seq + 1, old.last};
    gaps.insert(std::next(at), right);
    add(claim, right);
    if (gaps.size() > k_max_gaps) {
      drop_oldest(gaps, claim);
    }
  }
  return claim;
}

} // namespace medic::coordinator::storage
