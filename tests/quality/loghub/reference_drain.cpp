// SPDX-License-Identifier: Apache-2.0
#include "tests/quality/loghub/reference_drain.hpp"

#include <map>
#include <memory>

#include <re2/re2.h>

namespace medic::quality::loghub {

namespace {

const std::string k_star = "<*>";

struct Node {
  std::map<std::string, std::unique_ptr<Node>> children;
  std::vector<std::size_t> clusters; // cluster indexes, oldest first
};

struct Cluster {
  std::vector<std::string> tokens;
};

// Python's str.split() with no argument on ASCII text.
std::vector<std::string> python_split(std::string_view s) {
  const auto space = [](char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
  };
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && space(s[i])) {
      ++i;
    }
    const std::size_t begin = i;
    while (i < s.size() && !space(s[i])) {
      ++i;
    }
    if (i > begin) {
      out.emplace_back(s.substr(begin, i - begin));
    }
  }
  return out;
}

bool has_digit(const std::string& token) {
  return token.find_first_of("0123456789") != std::string::npos;
}

class Drain {
public:
  explicit Drain(const DrainSettings& settings)
      : m_layers(settings.depth - 2), m_st(settings.similarity), m_max(settings.max_children) {}

  std::size_t add(std::vector<std::string> tokens) {
    const std::size_t match = search(tokens);
    if (match == k_no_match) {
      m_clusters.push_back(Cluster{std::move(tokens)});
      insert(m_clusters.size() - 1);
      return m_clusters.size() - 1;
    }
    std::vector<std::string>& t = m_clusters[match].tokens;
    for (std::size_t i = 0; i < t.size(); ++i) {
      t[i] = t[i] == tokens[i] ? t[i] : k_star;
    }
    return match;
  }

  [[nodiscard]] std::string text(std::size_t cluster) const {
    std::string out;
    const auto& tokens = m_clusters[cluster].tokens;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      out += i == 0 ? tokens[i] : " " + tokens[i];
    }
    return out;
  }

private:
  static constexpr std::size_t k_no_match = static_cast<std::size_t>(-1);

  // treeSearch: the walk stops after depth - 3 tokens or at the end of the message.
  std::size_t search(const std::vector<std::string>& seq) const {
    const auto length = m_root.children.find(std::to_string(seq.size()));
    if (length == m_root.children.end()) {
      return k_no_match;
    }
    const Node* node = length->second.get();
    for (std::size_t depth = 1; depth - 1 < seq.size(); ++depth) {
      if (static_cast<int>(depth) >= m_layers || depth > seq.size()) {
        break;
      }
      auto next = node->children.find(seq[depth - 1]);
      if (next == node->children.end()) {
        next = node->children.find(k_star);
      }
      if (next == node->children.end()) {
        return k_no_match;
      }
      node = next->second.get();
    }
    return fast_match(node->clusters, seq);
  }

  std::size_t fast_match(const std::vector<std::size_t>& candidates,
                         const std::vector<std::string>& seq) const {
    double best_sim = -1;
    long best_params = -1;
    std::size_t best = k_no_match;
    for (const std::size_t c : candidates) {
      const auto& t = m_clusters[c].tokens;
      std::size_t same = 0;
      long params = 0;
      for (std::size_t i = 0; i < t.size(); ++i) {
        params += t[i] == k_star ? 1 : 0;
        same += t[i] != k_star && t[i] == seq[i] ? 1 : 0;
      }
      const double sim = static_cast<double>(same) / static_cast<double>(t.size());
      if (sim > best_sim || (sim == best_sim && params > best_params)) {
        best_sim = sim;
        best_params = params;
        best = c;
      }
    }
    return best_sim >= m_st ? best : k_no_match;
  }

  // addSeqToPrefixTree, including its quirk: the cluster is only attached when the walk reaches
  // the leaf layer, so messages shorter than depth - 2 tokens never land in the tree.
  void insert(std::size_t cluster) {
    const auto& seq = m_clusters[cluster].tokens;
    auto& slot = m_root.children[std::to_string(seq.size())];
    if (!slot) {
      slot = std::make_unique<Node>();
    }
    Node* node = slot.get();
    for (std::size_t depth = 1; depth - 1 < seq.size(); ++depth) {
      if (static_cast<int>(depth) >= m_layers || depth > seq.size()) {
        node->clusters.push_back(cluster);
        return;
      }
      node = step(*node, seq[depth - 1]);
    }
  }

  Node* step(Node& node, const std::string& token) {
    const auto found = node.children.find(token);
    if (found != node.children.end()) {
      return found->second.get();
    }
    const bool has_star = node.children.count(k_star) > 0;
    const std::size_t n = node.children.size();
    std::string key = k_star;
    if (!has_digit(token) && (has_star ? n < m_max : n + 1 < m_max)) {
      key = token;
    }
    auto& child = node.children[key];
    if (!child) {
      child = std::make_unique<Node>();
    }
    return child.get();
  }

  int m_layers;
  double m_st;
  std::size_t m_max;
  Node m_root;
  std::vector<Cluster> m_clusters;
};

} // namespace

std::optional<DrainSettings> published_drain_settings(std::string_view system) {
  static const std::map<std::string, DrainSettings, std::less<>> k_settings = {
      {"HDFS", {{R"(blk_-?\d+)", R"((\d+\.){3}\d+(:\d+)?)"}, 0.5, 4, 100}},
      {"Hadoop", {{R"((\d+\.){3}\d+)"}, 0.5, 4, 100}},
      {"Spark", {{R"((\d+\.){3}\d+)", R"(\b[KGTM]?B\b)", R"(([\w-]+\.){2,}[\w-]+)"}, 0.5, 4, 100}},
      {"Zookeeper", {{R"((/|)(\d+\.){3}\d+(:\d+)?)"}, 0.5, 4, 100}},
      {"BGL", {{R"(core\.\d+)"}, 0.5, 4, 100}},
      {"HPC", {{R"(=\d+)"}, 0.5, 4, 100}},
      {"Thunderbird", {{R"((\d+\.){3}\d+)"}, 0.5, 4, 100}},
      {"Windows", {{R"(0x.*?\s)"}, 0.7, 5, 100}},
      {"Linux", {{R"((\d+\.){3}\d+)", R"(\d{2}:\d{2}:\d{2})"}, 0.39, 6, 100}},
      {"Android",
       {{R"((/[\w-]+)+)", R"(([\w-]+\.){2,}[\w-]+)",
         R"(\b(\-?\+?\d+)\b|\b0[Xx][a-fA-F\d]+\b|\b[a-fA-F\d]{4,}\b)"},
        0.2,
        6,
        100}},
      {"HealthApp", {{}, 0.2, 4, 100}},
      {"Apache", {{R"((\d+\.){3}\d+)"}, 0.5, 4, 100}},
      {"Proxifier",
       {{R"(<\d+\ssec)", R"(([\w-]+\.)+[\w-]+(:\d+)?)", R"(\d{2}:\d{2}(:\d{2})*)", R"([KGTM]B)"},
        0.6,
        3,
        100}},
      {"OpenSSH", {{R"((\d+\.){3}\d+)", R"(([\w-]+\.){2,}[\w-]+)"}, 0.6, 5, 100}},
      {"OpenStack", {{R"(((\d+\.){3}\d+,?)+)", R"(/.+?\s)", R"(\d+)"}, 0.5, 5, 100}},
      {"Mac", {{R"(([\w-]+\.){2,}[\w-]+)"}, 0.7, 6, 100}},
  };
  const auto found = k_settings.find(system);
  return found == k_settings.end() ? std::nullopt : std::optional<DrainSettings>(found->second);
}

Result<std::vector<std::string>> run_reference_drain(const DrainSettings& settings,
                                                     const std::vector<std::string>& contents) {
  if (settings.depth < 3) {
    return fail(ErrorCode::invalid_argument, "Drain depth must be at least 3");
  }
  std::vector<std::unique_ptr<re2::RE2>> regexes;
  for (const std::string& pattern : settings.regexes) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_encoding(RE2::Options::EncodingLatin1);
    regexes.push_back(std::make_unique<re2::RE2>(pattern, options));
    if (!regexes.back()->ok()) {
      return fail(ErrorCode::invalid_argument,
                  "Drain regex '" + pattern + "': " + regexes.back()->error());
    }
  }
  Drain drain(settings);
  std::vector<std::size_t> cluster_of;
  for (std::string content : contents) {
    for (const auto& regex : regexes) {
      RE2::GlobalReplace(&content, *regex, "<*>");
    }
    cluster_of.push_back(drain.add(python_split(content)));
  }
  std::vector<std::string> labels;
  labels.reserve(cluster_of.size());
  for (const std::size_t c : cluster_of) {
    labels.push_back(drain.text(c));
  }
  return labels;
}

} // namespace medic::quality::loghub
