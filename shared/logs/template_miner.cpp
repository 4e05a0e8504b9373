// SPDX-License-Identifier: Apache-2.0
// Matching a message against the templates of its leaf, and merging templates. The tree, the
// eviction and the id lookups are in template_miner_tree.cpp.
#include "shared/logs/template_miner.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace medic::logs {

namespace {

constexpr std::size_t k_max_prefix_depth = 16;
constexpr std::size_t k_max_clusters = std::size_t{1} << 24;
constexpr std::size_t k_max_tokens = 1024;
// Ids of merged templates remembered per template; older ones are forgotten (bounded memory).
constexpr std::size_t k_max_aliases = 64;

} // namespace

Result<TemplateMiner> TemplateMiner::create(TemplateMinerOptions options) {
  const auto bad = [](std::string what) {
    return fail(ErrorCode::invalid_argument, "template miner: " + std::move(what));
  };
  if (!(options.similarity_threshold > 0.0 && options.similarity_threshold <= 1.0)) {
    return bad("similarity_threshold must be in (0, 1], got " +
               std::to_string(options.similarity_threshold));
  }
  if (options.prefix_depth > k_max_prefix_depth) {
    return bad("prefix_depth must be at most 16, got " + std::to_string(options.prefix_depth));
  }
  if (options.words_for_variable < 2) {
    return bad("words_for_variable must be at least 2, got " +
               std::to_string(options.words_for_variable));
  }
  if (options.max_children < 2) {
    return bad("max_children must be at least 2, got " + std::to_string(options.max_children));
  }
  if (options.max_leaf_templates < 1) {
    return bad("max_leaf_templates must be at least 1, got " +
               std::to_string(options.max_leaf_templates));
  }
  if (options.max_clusters < 1 || options.max_clusters > k_max_clusters) {
    return bad("max_clusters must be in 1..16777216, got " + std::to_string(options.max_clusters));
  }
  if (options.max_tokens < 2 || options.max_tokens > k_max_tokens) {
    return bad("max_tokens must be in 2..1024, got " + std::to_string(options.max_tokens));
  }
  return TemplateMiner(std::move(options));
}

TemplateMiner::TemplateMiner(TemplateMinerOptions options)
    : m_options(std::move(options)),
      m_masker(TokenMaskerOptions{m_options.max_tokens, m_options.extra_delimiters,
                                  m_options.mask_variables}) {
  m_nodes.emplace_back(); // the root
  // Small to start with (the agent stays tiny: a host's logs have tens of templates, and 256
  // reserved here held 24 KiB); both grow by doubling only when templates are created.
  m_slot_of.reserve(std::min<std::size_t>(m_options.max_clusters, 16));
  m_edges.reserve(std::min<std::size_t>(m_options.max_clusters * 2, 32));
}

MineResult TemplateMiner::add(std::string_view message) {
  const std::span<const MaskedToken> tokens = m_masker.tokenize(message);
  const std::uint32_t leaf = find_leaf(tokens);
  if (leaf != k_none) {
    std::uint32_t slot = best_cluster(leaf, tokens);
    bool generalised = false;
    if (slot == k_none) {
      slot = merge_near_misses();
      generalised = slot != k_none;
    }
    if (slot != k_none) {
      join(slot, tokens, generalised);
      return MineResult{m_clusters[slot].id, false};
    }
  }
  const std::uint32_t slot = create_cluster(tokens);
  return MineResult{m_clusters[slot].id, true};
}

TemplateMiner::Comparison TemplateMiner::compare(
    const Cluster& cluster, std::span<const MaskedToken> tokens) const noexcept {
  Comparison c;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::uint64_t h = cluster.hashes[i];
    // A variable in the message is the token `<*>`, so it equals a wildcard position.
    if (h == tokens[i].hash || h == wildcard_hash()) {
      ++c.equal;
    } else if (cluster.kinds[i] == TokenKind::word && tokens[i].kind == TokenKind::word) {
      ++c.word_mismatches;
      c.word_position = static_cast<std::uint32_t>(i);
    }
  }
  return c;
}

// The most similar template that differs from the message by no word, if it reaches the
// threshold; ties go to the template with more `<*>`, then the oldest. Templates that miss by
// one word only are noted in m_near for merge_near_misses.
std::uint32_t TemplateMiner::best_cluster(std::uint32_t leaf, std::span<const MaskedToken> tokens) {
  // Equal positions needed to reach the threshold (a small epsilon absorbs rounding).
  const auto needed = static_cast<std::size_t>(
      std::ceil(m_options.similarity_threshold * static_cast<double>(tokens.size()) - 1e-9));
  m_near.clear();
  std::uint32_t best = k_none;
  std::size_t best_equal = 0;
  std::uint32_t best_wildcards = 0;
  for (const std::uint32_t slot : m_nodes[leaf].clusters) {
    const Cluster& cluster = m_clusters[slot];
    const Comparison c = compare(cluster, tokens);
    if (c.word_mismatches == 1 && c.equal + 1 >= needed) {
      m_near.push_back(NearMiss{slot, c.word_position});
    }
    if (c.word_mismatches > 0 || c.equal < needed) {
      continue;
    }
    if (best == k_none || c.equal > best_equal ||
        (c.equal == best_equal && cluster.wildcards > best_wildcards)) {
      best = slot;
      best_equal = c.equal;
      best_wildcards = cluster.wildcards;
    }
  }
  return best;
}

// Two or three words at one position are often two or three events (begin/end, true/false,
// GET/POST/DELETE); more make it a variable (user names, services). When the message brings
// the words_for_variable-th word, the templates that differ from it by that word only are
// merged into the oldest of them, which gets `<*>` there and takes the message.
std::uint32_t TemplateMiner::merge_near_misses() {
  for (std::size_t i = 0; i < m_near.size(); ++i) {
    const std::uint32_t position = m_near[i].position;
    std::size_t words = 1; // the message's
    for (std::size_t j = i; j < m_near.size(); ++j) {
      words += m_near[j].position == position ? 1 : 0;
    }
    if (words < m_options.words_for_variable) {
      continue;
    }
    const std::uint32_t survivor = m_near[i].slot; // leaf lists are oldest first
    Cluster& kept = m_clusters[survivor];
    kept.hashes[position] = wildcard_hash();
    ++kept.wildcards;
    for (std::size_t j = i + 1; j < m_near.size(); ++j) {
      if (m_near[j].position == position) {
        absorb(survivor, m_near[j].slot);
      }
    }
    return survivor;
  }
  return k_none;
}

void TemplateMiner::join(std::uint32_t slot, std::span<const MaskedToken> tokens,
                         bool generalised) {
  Cluster& cluster = m_clusters[slot];
  generalised = generalise(cluster, tokens) || generalised;
  ++cluster.size;
  cluster.last_used = ++m_tick;
  lru_unlink(slot);
  lru_push_front(slot);
  if (generalised) {
    absorb_covered(slot);
  }
}

// Puts `<*>` where the message differs; true when a position changed.
bool TemplateMiner::generalise(Cluster& cluster, std::span<const MaskedToken> tokens) noexcept {
  bool changed = false;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::uint64_t& h = cluster.hashes[i];
    if (h != wildcard_hash() && h != tokens[i].hash) {
      h = wildcard_hash();
      ++cluster.wildcards;
      changed = true;
    }
  }
  return changed;
}

// A template that just gained a `<*>` may now cover others of its leaf (they differ from it
// only where it has `<*>`): lines of its event that came before the position was known to vary.
// They are merged into it, so that the event ends as one template.
void TemplateMiner::absorb_covered(std::uint32_t slot) {
  const Cluster& kept = m_clusters[slot];
  m_covered.clear();
  for (const std::uint32_t other : m_nodes[kept.leaf].clusters) {
    const Cluster& candidate = m_clusters[other];
    bool covered = other != slot;
    for (std::size_t i = 0; i < kept.hashes.size() && covered; ++i) {
      covered = kept.hashes[i] == wildcard_hash() || kept.hashes[i] == candidate.hashes[i];
    }
    if (covered) {
      m_covered.push_back(other);
    }
  }
  for (const std::uint32_t other : m_covered) {
    absorb(slot, other);
  }
}

// Moves a template's lines and ids into `survivor` (same leaf) and frees its slot.
void TemplateMiner::absorb(std::uint32_t survivor, std::uint32_t absorbed) {
  Cluster& kept = m_clusters[survivor];
  Cluster& gone = m_clusters[absorbed];
  for (std::size_t i = 0; i < kept.hashes.size(); ++i) {
    if (kept.hashes[i] != wildcard_hash() && kept.hashes[i] != gone.hashes[i]) {
      kept.hashes[i] = wildcard_hash();
      ++kept.wildcards;
    }
  }
  kept.size += gone.size;
  gone.aliases.push_back(gone.id);
  for (const std::uint32_t id : gone.aliases) {
    m_slot_of.insert(id, survivor);
    kept.aliases.push_back(id);
  }
  if (kept.aliases.size() > k_max_aliases) {
    const auto drop = static_cast<std::ptrdiff_t>(kept.aliases.size() - k_max_aliases);
    for (auto it = kept.aliases.begin(); it != kept.aliases.begin() + drop; ++it) {
      m_slot_of.erase(*it);
    }
    kept.aliases.erase(kept.aliases.begin(), kept.aliases.begin() + drop);
  }
  gone.aliases.clear();
  auto& list = m_nodes[gone.leaf].clusters;
  list.erase(std::find(list.begin(), list.end(), absorbed));
  lru_unlink(absorbed);
  gone.id = 0;
  gone.leaf = k_none;
  m_free_slots.push_back(absorbed);
  --m_live_clusters;
  ++m_merged;
}

std::uint32_t TemplateMiner::create_cluster(std::span<const MaskedToken> tokens) {
  if (m_live_clusters >= m_options.max_clusters) {
    evict(m_lru_tail);
  }
  // A full leaf gives up its least recently used template: a line costs at most
  // max_leaf_templates comparisons, whatever the log throws at the miner. The eviction may free
  // the leaf's path, so the path is looked up again.
  std::uint32_t leaf = insert_leaf(tokens);
  if (m_nodes[leaf].clusters.size() >= m_options.max_leaf_templates) {
    evict(least_recent_in(leaf));
    leaf = insert_leaf(tokens);
  }
  std::uint32_t slot = 0;
  if (!m_free_slots.empty()) {
    slot = m_free_slots.back();
    m_free_slots.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(m_clusters.size());
    m_clusters.emplace_back();
  }
  Cluster& cluster = m_clusters[slot];
  cluster.id = m_next_id;
  // Ids wrap only after 4 billion templates; 0 stays reserved for "none".
  m_next_id = m_next_id == 0xffffffffU ? 1 : m_next_id + 1;
  cluster.size = 1;
  cluster.last_used = ++m_tick;
  cluster.wildcards = 0;
  cluster.hashes.clear();
  cluster.kinds.clear();
  cluster.text.clear();
  cluster.ends.clear();
  cluster.aliases.clear();
  for (const MaskedToken& token : tokens) {
    cluster.hashes.push_back(token.hash);
    cluster.kinds.push_back(token.kind);
    cluster.wildcards += token.hash == wildcard_hash() ? 1 : 0;
    if (!cluster.text.empty() || !cluster.ends.empty()) {
      cluster.text.push_back(' ');
    }
    cluster.text.append(token.text);
    cluster.ends.push_back(static_cast<std::uint32_t>(cluster.text.size()));
  }
  cluster.leaf = leaf;
  m_nodes[leaf].clusters.push_back(slot);
  m_slot_of.insert(cluster.id, slot);
  lru_push_front(slot);
  ++m_live_clusters;
  return slot;
}

bool TemplateMiner::template_text(std::uint32_t template_id, std::string& out) const {
  out.clear();
  const Cluster* cluster = find(template_id);
  if (cluster == nullptr) {
    return false;
  }
  std::uint32_t begin = 0;
  for (std::size_t i = 0; i < cluster->hashes.size(); ++i) {
    if (i > 0) {
      out.push_back(' ');
    }
    const std::uint32_t end = cluster->ends[i];
    if (cluster->hashes[i] == wildcard_hash()) {
      out.append(k_wildcard);
    } else {
      out.append(cluster->text, begin, end - begin);
    }
    begin = end + 1;
  }
  return true;
}

std::string TemplateMiner::template_text(std::uint32_t template_id) const {
  std::string text;
  (void)template_text(template_id, text);
  return text;
}

std::uint64_t TemplateMiner::template_size(std::uint32_t template_id) const {
  const Cluster* cluster = find(template_id);
  return cluster == nullptr ? 0 : cluster->size;
}

std::uint32_t TemplateMiner::current_id(std::uint32_t template_id) const {
  const Cluster* cluster = find(template_id);
  return cluster == nullptr ? 0 : cluster->id;
}

} // namespace medic::logs
