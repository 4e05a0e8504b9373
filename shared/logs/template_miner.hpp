// SPDX-License-Identifier: Apache-2.0
// Online log template mining in the manner of Drain (He et al., ICWS 2017): every message is
// mapped to a template id as it arrives. Messages are tokenized and their variables masked
// (TokenMasker), then routed through a fixed-depth prefix tree keyed by token count and the
// leading tokens to a short list of clusters; the most similar cluster takes the message if
// the similarity reaches the threshold and generalises the positions that differ to `<*>`,
// otherwise the message starts a new cluster (a new template).
//
// Differences from the published Drain, chosen on the Loghub 2k samples with one setting for
// every system (see tests/unit/shared/logs/template_miner_loghub_test.cpp):
// - richer masking before the tree (see token_masker.hpp), consecutive variables collapse;
// - a position where both the template and the message hold a variable counts as similar, so
//   a line always matches the template it produced (Drain would make a duplicate cluster);
// - memory is bounded: at most max_clusters templates, the least recently used is evicted
//   (its id is never reused), and tree nodes left empty by an eviction are freed.
//
// Feed it the message part of a line (after the syslog/journal header), otherwise the leading
// tokens of the tree are timestamps and host names and the tree does little.
//
// Cost: no allocation per line once the templates seen are known (token and scratch buffers
// are reused); creating a template allocates its token arrays. Not thread-safe: one miner per
// thread (the agent's loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.hpp"
#include "shared/logs/flat_index.hpp"
#include "shared/logs/token_masker.hpp"

namespace medic::logs {

struct TemplateMinerOptions {
  double similarity_threshold = 0.7; // 0 < st <= 1: share of equal positions to join a cluster
  std::size_t prefix_depth = 2;      // leading tokens keyed in the tree (Drain depth - 3)
  std::size_t max_children = 100;    // per tree node; past it tokens go to the `<*>` child
  std::size_t max_clusters = 4096;   // templates kept; the least recently used is evicted
  std::size_t max_tokens = 64;       // tokens per line considered; the rest fold into `<*>`
  std::string extra_delimiters;      // split on these as on whitespace
  bool mask_variables = true;
};

struct MineResult {
  std::uint32_t template_id = 0; // >= 1; ids are never reused, even after eviction
  bool is_new_template = false;  // this line created the template
};

class TemplateMiner {
public:
  // Fails with invalid_argument naming the option when a value is out of range.
  [[nodiscard]] static Result<TemplateMiner> create(TemplateMinerOptions options);

  // Maps one message to its template. Never fails: any bytes are accepted (NUL, invalid
  // UTF-8); lines longer than 64 KiB are mined on their first 64 KiB.
  MineResult add(std::string_view message);

  // The template's text (tokens joined by one space, variables as `<*>`); false (and an empty
  // text) when the id is unknown or was evicted. Allocates; not meant for every line.
  [[nodiscard]] bool template_text(std::uint32_t template_id, std::string& out) const;
  [[nodiscard]] std::string template_text(std::uint32_t template_id) const;

  // Lines that went to a template since it was created.
  [[nodiscard]] std::uint64_t template_size(std::uint32_t template_id) const;

  [[nodiscard]] std::size_t template_count() const noexcept { return m_live_clusters; }
  [[nodiscard]] std::uint64_t evicted_count() const noexcept { return m_evicted; }
  [[nodiscard]] const TemplateMinerOptions& options() const noexcept { return m_options; }

private:
  static constexpr std::uint32_t k_none = 0xffffffffU;

  struct Node {
    std::uint32_t parent = k_none;
    std::uint64_t edge = 0;     // key of the edge from the parent
    std::uint32_t children = 0; // edges to nodes below
    bool has_wildcard_child = false;
    std::vector<std::uint32_t> clusters; // leaves only: cluster slots, oldest first
  };

  struct Cluster {
    std::uint32_t id = 0; // 0: free slot
    std::uint32_t leaf = k_none;
    std::uint32_t wildcards = 0;
    std::uint32_t lru_prev = k_none;
    std::uint32_t lru_next = k_none;
    std::uint64_t size = 0;
    std::vector<std::uint64_t> hashes; // per token; k_wildcard_hash where generalised
    std::string text;                  // the creating line's masked tokens, joined by ' '
    std::vector<std::uint32_t> ends;   // end offset of each token in text
  };

  explicit TemplateMiner(TemplateMinerOptions options);

  [[nodiscard]] std::uint32_t find_leaf(std::span<const MaskedToken> tokens) const;
  [[nodiscard]] std::uint32_t best_cluster(std::uint32_t leaf,
                                           std::span<const MaskedToken> tokens) const;
  [[nodiscard]] std::uint32_t insert_leaf(std::span<const MaskedToken> tokens);
  [[nodiscard]] std::uint32_t child(std::uint32_t node, std::uint64_t key) const;
  std::uint32_t add_child(std::uint32_t node, std::uint64_t key);
  std::uint32_t create_cluster(std::span<const MaskedToken> tokens);
  void merge_into(Cluster& cluster, std::span<const MaskedToken> tokens) noexcept;
  void evict_one();
  void release_leaf_path(std::uint32_t node);
  void lru_unlink(std::uint32_t slot) noexcept;
  void lru_push_front(std::uint32_t slot) noexcept;
  [[nodiscard]] const Cluster* find(std::uint32_t template_id) const;

  TemplateMinerOptions m_options;
  TokenMasker m_masker;
  std::uint64_t m_wildcard_hash;
  std::vector<Node> m_nodes; // [0] is the root
  std::vector<std::uint32_t> m_free_nodes;
  FlatIndex m_edges; // edge_key(parent, key) -> node
  std::vector<Cluster> m_clusters;
  std::vector<std::uint32_t> m_free_slots;
  FlatIndex m_slot_of; // template id -> slot
  std::uint32_t m_lru_head = k_none;
  std::uint32_t m_lru_tail = k_none;
  std::uint32_t m_next_id = 1;
  std::size_t m_live_clusters = 0;
  std::uint64_t m_evicted = 0;
};

} // namespace medic::logs
