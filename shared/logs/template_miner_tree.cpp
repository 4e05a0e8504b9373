// SPDX-License-Identifier: Apache-2.0
// The template miner's prefix tree (edges in a FlatIndex keyed by parent and token hash),
// eviction of the least recently used template, and id lookups. Matching and merging are in
// template_miner.cpp.
#include <algorithm>

#include "shared/logs/template_miner.hpp"

namespace medic::logs {

namespace {

std::uint64_t edge_key(std::uint32_t parent, std::uint64_t key) noexcept {
  std::uint64_t x = key ^ (std::uint64_t{parent} * 0x9e3779b97f4a7c15ULL);
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 32;
  return x;
}

} // namespace

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
  if (node != 0 && key == wildcard_hash()) {
    parent.has_wildcard_child = true;
  }
  return index;
}

std::uint32_t TemplateMiner::find_leaf(std::span<const MaskedToken> tokens) const {
  std::uint32_t node = child(0, tokens.size());
  const std::size_t depth = std::min(m_options.prefix_depth, tokens.size());
  for (std::size_t i = 0; i < depth && node != k_none; ++i) {
    std::uint32_t next = tokens[i].kind == TokenKind::value ? k_none : child(node, tokens[i].hash);
    if (next == k_none && m_nodes[node].has_wildcard_child) {
      next = child(node, wildcard_hash());
    }
    node = next;
  }
  return node;
}

// Drain's insertion rules: values (tokens with variables, paths, dotted names) go under `<*>`;
// a node takes new token children until max_children, keeping the last place for `<*>`.
std::uint32_t TemplateMiner::insert_leaf(std::span<const MaskedToken> tokens) {
  std::uint32_t node = child(0, tokens.size());
  if (node == k_none) {
    node = add_child(0, tokens.size());
  }
  const std::size_t depth = std::min(m_options.prefix_depth, tokens.size());
  for (std::size_t i = 0; i < depth; ++i) {
    const MaskedToken& token = tokens[i];
    std::uint32_t next = token.kind == TokenKind::value ? k_none : child(node, token.hash);
    if (next == k_none) {
      const Node& current = m_nodes[node];
      const bool room = current.has_wildcard_child ? current.children < m_options.max_children
                                                   : current.children + 1 < m_options.max_children;
      if (token.kind != TokenKind::value && room) {
        next = add_child(node, token.hash);
      } else {
        next = child(node, wildcard_hash());
        if (next == k_none) {
          next = add_child(node, wildcard_hash());
        }
      }
    }
    node = next;
  }
  return node;
}

// The least recently used template of a leaf (the leaf holds at least one).
std::uint32_t TemplateMiner::least_recent_in(std::uint32_t leaf) const noexcept {
  std::uint32_t oldest = k_none;
  for (const std::uint32_t slot : m_nodes[leaf].clusters) {
    if (oldest == k_none || m_clusters[slot].last_used < m_clusters[oldest].last_used) {
      oldest = slot;
    }
  }
  return oldest;
}

void TemplateMiner::evict(std::uint32_t slot) {
  if (slot == k_none) {
    return;
  }
  lru_unlink(slot);
  Cluster& cluster = m_clusters[slot];
  auto& list = m_nodes[cluster.leaf].clusters;
  list.erase(std::find(list.begin(), list.end(), slot));
  release_leaf_path(cluster.leaf);
  m_slot_of.erase(cluster.id);
  for (const std::uint32_t alias : cluster.aliases) {
    m_slot_of.erase(alias);
  }
  cluster.aliases.clear();
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
    if (parent != 0 && edge == wildcard_hash()) {
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

} // namespace medic::logs
