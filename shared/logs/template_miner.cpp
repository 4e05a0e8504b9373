// SPDX-License-Identifier: Apache-2.0
#include "shared/logs/template_miner.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace medic::logs {

namespace {

constexpr std::size_t k_max_prefix_depth = 16;
constexpr std::size_t k_max_clusters = std::size_t{1} << 24;
constexpr std::size_t k_max_tokens = 1024;

std::uint64_t edge_key(std::uint32_t parent, std::uint64_t key) noexcept {
  std::uint64_t x = key ^ (std::uint64_t{parent} * 0x9e3779b97f4a7c15ULL);
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 32;
  return x;
}

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
  if (options.max_children < 2) {
    return bad("max_children must be at least 2, got " + std::to_string(options.max_children));
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
                                  m_options.mask_variables}),
      m_wildcard_hash(hash_token(k_wildcard)) {
  m_nodes.emplace_back(); // the root
  // Small to start with (the agent stays tiny); both grow only when templates are created.
  m_slot_of.reserve(std::min<std::size_t>(m_options.max_clusters, 256));
  m_edges.reserve(std::min<std::size_t>(m_options.max_clusters * 2, 512));
}

MineResult TemplateMiner::add(std::string_view message) {
  const std::span<const MaskedToken> tokens = m_masker.tokenize(message);
  const std::uint32_t leaf = find_leaf(tokens);
  if (leaf != k_none) {
    const std::uint32_t slot = best_cluster(leaf, tokens);
    if (slot != k_none) {
      Cluster& cluster = m_clusters[slot];
      merge_into(cluster, tokens);
      ++cluster.size;
      lru_unlink(slot);
      lru_push_front(slot);
      return MineResult{cluster.id, false};
    }
  }
  const std::uint32_t slot = create_cluster(tokens);
  return MineResult{m_clusters[slot].id, true};
}

std::uint32_t TemplateMiner::child(std::uint32_t node, std::uint64_t key) const {
  return m_edges.find(edge_key(node, key));
}

std::uint32_t TemplateMiner::add_child(std::uint32_t node, std::uint64_t key) {
  std::uint32_t index = 0;
  if (!m_free_nodes.empty()) {
    index = m_free_nodes.back();
    m_free_nodes.pop_back();
    m_nodes[index].clusters.clear();
  } else {
    index = static_cast<std::uint32_t>(m_nodes.size());
    m_nodes.emplace_back();
  }
  Node& created = m_nodes[index];
  created.parent = node;
  created.edge = key;
  created.children = 0;
  created.has_wildcard_child = false;
  m_edges.insert(edge_key(node, key), index);
  Node& parent = m_nodes[node];
  ++parent.children;
  if (node != 0 && key == m_wildcard_hash) {
    parent.has_wildcard_child = true;
  }
  return index;
}

std::uint32_t TemplateMiner::find_leaf(std::span<const MaskedToken> tokens) const {
  std::uint32_t node = child(0, tokens.size());
  const std::size_t depth = std::min(m_options.prefix_depth, tokens.size());
  for (std::size_t i = 0; i < depth && node != k_none; ++i) {
    std::uint32_t next = tokens[i].has_variable ? k_none : child(node, tokens[i].hash);
    if (next == k_none && m_nodes[node].has_wildcard_child) {
      next = child(node, m_wildcard_hash);
    }
    node = next;
  }
  return node;
}

// Drain's insertion rules: tokens with variables go under `<*>`; a node takes new token
// children until max_children, keeping the last place for `<*>`.
std::uint32_t TemplateMiner::insert_leaf(std::span<const MaskedToken> tokens) {
  std::uint32_t node = child(0, tokens.size());
  if (node == k_none) {
    node = add_child(0, tokens.size());
  }
  const std::size_t depth = std::min(m_options.prefix_depth, tokens.size());
  for (std::size_t i = 0; i < depth; ++i) {
    const MaskedToken& token = tokens[i];
    std::uint32_t next = token.has_variable ? k_none : child(node, token.hash);
    if (next == k_none) {
      const Node& current = m_nodes[node];
      const bool room = current.has_wildcard_child ? current.children < m_options.max_children
                                                   : current.children + 1 < m_options.max_children;
      if (!token.has_variable && room) {
        next = add_child(node, token.hash);
      } else {
        next = child(node, m_wildcard_hash);
        if (next == k_none) {
          next = add_child(node, m_wildcard_hash);
        }
      }
    }
    node = next;
  }
  return node;
}

std::uint32_t TemplateMiner::best_cluster(std::uint32_t leaf,
                                          std::span<const MaskedToken> tokens) const {
  const std::size_t n = tokens.size();
  // Equal positions needed to reach the threshold (a small epsilon absorbs rounding).
  const auto needed = static_cast<std::size_t>(
      std::ceil(m_options.similarity_threshold * static_cast<double>(n) - 1e-9));
  std::uint32_t best = k_none;
  std::size_t best_equal = 0;
  std::uint32_t best_wildcards = 0;
  for (const std::uint32_t slot : m_nodes[leaf].clusters) {
    const Cluster& cluster = m_clusters[slot];
    std::size_t equal = 0;
    for (std::size_t i = 0; i < n; ++i) {
      // A variable in the message is the token `<*>`, so it equals a wildcard position.
      equal += cluster.hashes[i] == tokens[i].hash ? 1 : 0;
    }
    if (equal < needed) {
      continue;
    }
    if (best == k_none || equal > best_equal ||
        (equal == best_equal && cluster.wildcards > best_wildcards)) {
      best = slot;
      best_equal = equal;
      best_wildcards = cluster.wildcards;
    }
  }
  return best;
}

void TemplateMiner::merge_into(Cluster& cluster, std::span<const MaskedToken> tokens) noexcept {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::uint64_t& h = cluster.hashes[i];
    if (h != m_wildcard_hash && h != tokens[i].hash) {
      h = m_wildcard_hash;
      ++cluster.wildcards;
    }
  }
}

std::uint32_t TemplateMiner::create_cluster(std::span<const MaskedToken> tokens) {
  if (m_live_clusters >= m_options.max_clusters) {
    evict_one();
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
  cluster.wildcards = 0;
  cluster.hashes.clear();
  cluster.text.clear();
  cluster.ends.clear();
  for (const MaskedToken& token : tokens) {
    cluster.hashes.push_back(token.hash);
    cluster.wildcards += token.hash == m_wildcard_hash ? 1 : 0;
    if (!cluster.text.empty() || !cluster.ends.empty()) {
      cluster.text.push_back(' ');
    }
    cluster.text.append(token.text);
    cluster.ends.push_back(static_cast<std::uint32_t>(cluster.text.size()));
  }
  cluster.leaf = insert_leaf(tokens);
  m_nodes[cluster.leaf].clusters.push_back(slot);
  m_slot_of.insert(cluster.id, slot);
  lru_push_front(slot);
  ++m_live_clusters;
  return slot;
}

void TemplateMiner::evict_one() {
  const std::uint32_t slot = m_lru_tail;
  if (slot == k_none) {
    return;
  }
  lru_unlink(slot);
  Cluster& cluster = m_clusters[slot];
  auto& list = m_nodes[cluster.leaf].clusters;
  list.erase(std::find(list.begin(), list.end(), slot));
  release_leaf_path(cluster.leaf);
  m_slot_of.erase(cluster.id);
  cluster.id = 0;
  cluster.leaf = k_none;
  m_free_slots.push_back(slot);
  --m_live_clusters;
  ++m_evicted;
}

// Frees the leaf and the inner nodes above it that nothing hangs from any more, so that the
// tree stays bounded by the live clusters.
void TemplateMiner::release_leaf_path(std::uint32_t node) {
  while (node != 0 && m_nodes[node].children == 0 && m_nodes[node].clusters.empty()) {
    const std::uint32_t parent = m_nodes[node].parent;
    const std::uint64_t edge = m_nodes[node].edge;
    m_edges.erase(edge_key(parent, edge));
    Node& above = m_nodes[parent];
    --above.children;
    if (parent != 0 && edge == m_wildcard_hash) {
      above.has_wildcard_child = false;
    }
    m_free_nodes.push_back(node);
    node = parent;
  }
}

void TemplateMiner::lru_unlink(std::uint32_t slot) noexcept {
  Cluster& cluster = m_clusters[slot];
  if (cluster.lru_prev != k_none) {
    m_clusters[cluster.lru_prev].lru_next = cluster.lru_next;
  } else {
    m_lru_head = cluster.lru_next;
  }
  if (cluster.lru_next != k_none) {
    m_clusters[cluster.lru_next].lru_prev = cluster.lru_prev;
  } else {
    m_lru_tail = cluster.lru_prev;
  }
  cluster.lru_prev = k_none;
  cluster.lru_next = k_none;
}

void TemplateMiner::lru_push_front(std::uint32_t slot) noexcept {
  Cluster& cluster = m_clusters[slot];
  cluster.lru_prev = k_none;
  cluster.lru_next = m_lru_head;
  if (m_lru_head != k_none) {
    m_clusters[m_lru_head].lru_prev = slot;
  }
  m_lru_head = slot;
  if (m_lru_tail == k_none) {
    m_lru_tail = slot;
  }
}

const TemplateMiner::Cluster* TemplateMiner::find(std::uint32_t template_id) const {
  const std::uint32_t slot = m_slot_of.find(template_id);
  return slot == FlatIndex::k_absent ? nullptr : &m_clusters[slot];
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
    if (cluster->hashes[i] == m_wildcard_hash) {
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

} // namespace medic::logs
