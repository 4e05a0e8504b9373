// SPDX-License-Identifier: Apache-2.0
// Online log template mining in the manner of Drain (He et al., ICWS 2017): every message is
// mapped to a template id as it arrives. Messages are tokenized and their variables masked
// (TokenMasker), then routed through a fixed-depth prefix tree keyed by token count and the
// leading tokens to a short list of clusters; the most similar cluster takes the message if
// the similarity reaches the threshold and generalises the positions that differ to `<*>`,
// otherwise the message starts a new cluster (a new template).
//
// Differences from the published Drain, measured on the Loghub 2k samples with one setting for
// every system (tests/quality/loghub, BENCHMARKS.md "Detection quality: Loghub"):
// - richer masking before the tree (token_masker.hpp): numbers, ids, units, repeated shapes;
// - token classes: two different *words* (letters, no digit, no path or dotted name) at one
//   position are two events (begin/end, true/false, WindowsUpdateAgent/SPP), so they never
//   merge by similarity; only when `words_for_variable` different words have been seen there
//   (user names, services) are those templates merged, the position becoming `<*>`. Other
//   differences (values with digits, paths, dotted names, punctuation) count against the
//   similarity threshold as in Drain;
// - a `<*>` position of a template accepts any token as equal (Drain counts it as different,
//   which keeps short templates from ever taking a new value);
// - when a template gains a `<*>`, the templates of its leaf it now covers are merged into it;
// - memory and time are bounded: at most max_clusters templates and max_leaf_templates per
//   leaf (so a line is compared with at most that many); the least recently used template is
//   evicted (its id is never reused), and tree nodes left empty by an eviction are freed.
//
// Merging means a line's id may later name a template that was merged into another one:
// current_id() follows it (for the last 64 ids merged into each template).
//
// Feed it the message part of a line (after the syslog/journal header), otherwise the leading
// tokens of the tree are timestamps and host names and the tree does little.
//
// Cost: no allocation per line once the templates seen are known (token and scratch buffers
// are reused); creating or merging templates allocates. Not thread-safe: one miner per thread
// (the agent's loop).
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
  double similarity_threshold = 0.7;   // 0 < st <= 1: share of equal positions to join a cluster
  std::size_t prefix_depth = 1;        // leading tokens keyed in the tree (Drain depth - 3)
  std::size_t words_for_variable = 4;  // >= 2: different words at a position that make it <*>
  std::size_t max_children = 100;      // per tree node; past it tokens go to the `<*>` child
  std::size_t max_clusters = 4096;     // templates kept; the least recently used is evicted
  std::size_t max_leaf_templates = 64; // per tree leaf (bounds the work per line), LRU evicted
  std::size_t max_tokens = 64;         // tokens per line considered; the rest fold into `<*>`
  std::string extra_delimiters;        // split on these as on whitespace
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
  // text) when the id is unknown or was evicted. Allocates; not meant for every line. An id
  // merged into another template gives that template's text.
  [[nodiscard]] bool template_text(std::uint32_t template_id, std::string& out) const;
  [[nodiscard]] std::string template_text(std::uint32_t template_id) const;

  // Lines that went to a template since it was created (with those of templates merged in).
  [[nodiscard]] std::uint64_t template_size(std::uint32_t template_id) const;

  // The id under which the template that `template_id` named now lives: itself, or the
  // template it was merged into; 0 when unknown or evicted.
  [[nodiscard]] std::uint32_t current_id(std::uint32_t template_id) const;

  [[nodiscard]] std::size_t template_count() const noexcept { return m_live_clusters; }
  [[nodiscard]] std::uint64_t evicted_count() const noexcept { return m_evicted; }
  [[nodiscard]] std::uint64_t merged_count() const noexcept { return m_merged; }
  [[nodiscard]] const TemplateMinerOptions& options() const noexcept { return m_options; }

private:
  [[nodiscard]] std::uint64_t wildcard_hash() const noexcept { return m_masker.wildcard_hash(); }
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
    std::uint64_t last_used = 0;        // m_tick when a line last went to it
    std::vector<std::uint64_t> hashes;  // per token; wildcard_hash() where generalised
    std::vector<TokenKind> kinds;       // per token, of the creating line
    std::string text;                   // the creating line's masked tokens, joined by ' '
    std::vector<std::uint32_t> ends;    // end offset of each token in text
    std::vector<std::uint32_t> aliases; // ids of templates merged into this one, oldest first
  };

  // How a message compares with a template of the same length.
  struct Comparison {
    std::size_t equal = 0;           // same token, or a `<*>` in the template
    std::size_t word_mismatches = 0; // positions where two different words meet
    std::uint32_t word_position = 0; // the last such position
  };

  // A template that differs from the message by one word only, at `position`.
  struct NearMiss {
    std::uint32_t slot = 0;
    std::uint32_t position = 0;
  };

  explicit TemplateMiner(TemplateMinerOptions options);

  // Matching and merging (template_miner.cpp).
  [[nodiscard]] Comparison compare(const Cluster& cluster,
                                   std::span<const MaskedToken> tokens) const noexcept;
  [[nodiscard]] std::uint32_t best_cluster(std::uint32_t leaf, std::span<const MaskedToken> tokens);
  [[nodiscard]] std::uint32_t merge_near_misses();
  void join(std::uint32_t slot, std::span<const MaskedToken> tokens, bool generalised);
  bool generalise(Cluster& cluster, std::span<const MaskedToken> tokens) noexcept;
  void absorb_covered(std::uint32_t slot);
  void absorb(std::uint32_t survivor, std::uint32_t absorbed);
  std::uint32_t create_cluster(std::span<const MaskedToken> tokens);

  // Tree, eviction and lookup (template_miner_tree.cpp).
  [[nodiscard]] std::uint32_t find_leaf(std::span<const MaskedToken> tokens) const;
  [[nodiscard]] std::uint32_t insert_leaf(std::span<const MaskedToken> tokens);
  [[nodiscard]] std::uint32_t child(std::uint32_t node, std::uint64_t key) const;
  std::uint32_t add_child(std::uint32_t node, std::uint64_t key);
  [[nodiscard]] std::uint32_t least_recent_in(std::uint32_t leaf) const noexcept;
  void evict(std::uint32_t slot);
  void release_leaf_path(std::uint32_t node);
  void lru_unlink(std::uint32_t slot) noexcept;
  void lru_push_front(std::uint32_t slot) noexcept;
  [[nodiscard]] const Cluster* find(std::uint32_t template_id) const;

  TemplateMinerOptions m_options;
  TokenMasker m_masker;
  std::vector<Node> m_nodes; // [0] is the root
  std::vector<std::uint32_t> m_free_nodes;
  FlatIndex m_edges; // edge_key(parent, key) -> node
  std::vector<Cluster> m_clusters;
  std::vector<std::uint32_t> m_free_slots;
  FlatIndex m_slot_of;                  // template id (or merged id) -> slot
  std::vector<NearMiss> m_near;         // scratch of best_cluster, reused
  std::vector<std::uint32_t> m_covered; // scratch of absorb_covered, reused
  std::uint32_t m_lru_head = k_none;
  std::uint32_t m_lru_tail = k_none;
  std::uint32_t m_next_id = 1;
  std::size_t m_live_clusters = 0;
  std::uint64_t m_evicted = 0;
  std::uint64_t m_merged = 0;
  std::uint64_t m_tick = 0; // counts lines, for last_used
};

} // namespace medic::logs
