// SPDX-License-Identifier: Apache-2.0
#include "tests/quality/nab/nab_scorer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

namespace medic::quality::nab {

namespace {

constexpr std::size_t k_probation_cap = 750;
constexpr double k_probation_share = 0.15;
constexpr double k_sweep_start = 1.1;
// NAB's null detector and its published threshold (config/thresholds.json): it detects nothing.
constexpr double k_null_score = 0.5;
constexpr double k_null_threshold = 0.6;

// One scored row of the corpus, for the sweep.
struct PooledRow {
  double score;
  double weight;
  std::size_t window; // corpus-wide window index, or k_outside
};

// A window's contribution so far: -fn until its first detection, then the best weight.
struct WindowState {
  std::optional<double> best;
};

} // namespace

std::vector<Profile> published_profiles() {
  return {Profile{"standard", 1.0, 0.11, 1.0}, Profile{"reward_low_FP_rate", 1.0, 0.22, 1.0},
          Profile{"reward_low_FN_rate", 1.0, 0.11, 2.0}};
}

std::size_t probationary_rows(std::size_t rows) noexcept {
  const auto share =
      static_cast<std::size_t>(std::floor(k_probation_share * static_cast<double>(rows)));
  return std::min(share, k_probation_cap);
}

double scaled_sigmoid(double y) noexcept {
  if (y > 3) {
    return -1;
  }
  return 2 / (1 + std::exp(5 * y)) - 1;
}

RowWeights row_weights(const LabelledFile& file, const Profile& profile) {
  RowWeights out;
  out.weight.resize(file.rows);
  out.window.assign(file.rows, k_outside);
  const double tp_scale = profile.tp / scaled_sigmoid(-1);
  std::size_t next = 0; // the next window to enter
  std::optional<std::size_t> current;
  std::optional<Window> previous;
  for (std::size_t i = 0; i < file.rows; ++i) {
    if (!current && next < file.windows.size() && file.windows[next].left == i) {
      current = next++;
    }
    if (current) {
      const Window& w = file.windows[*current];
      const auto width = static_cast<double>(w.right - w.left + 1);
      out.weight[i] = tp_scale * scaled_sigmoid(-static_cast<double>(w.right - i + 1) / width);
      out.window[i] = *current;
      if (i == w.right) {
        previous = w;
        current.reset();
      }
      continue;
    }
    if (!previous) {
      out.weight[i] = -profile.fp;
      continue;
    }
    // A one-row window has W - 1 = 0: every later row is infinitely far, A = -1.
    const std::size_t span = previous->right - previous->left; // W_prev - 1
    const double distance = static_cast<double>(i - previous->right);
    out.weight[i] = profile.fp * (span == 0 ? -1.0 : scaled_sigmoid(distance / double(span)));
  }
  return out;
}

std::size_t scored_windows(const LabelledFile& file) noexcept {
  const std::size_t first = probationary_rows(file.rows);
  return static_cast<std::size_t>(std::count_if(file.windows.begin(), file.windows.end(),
                                                [&](const Window& w) { return w.right >= first; }));
}

FileScore score_file(const LabelledFile& file, std::span<const double> scores,
                     const Profile& profile, double threshold) {
  const RowWeights weights = row_weights(file, profile);
  std::vector<WindowState> windows(file.windows.size());
  FileScore out;
  double false_positives = 0;
  for (std::size_t i = probationary_rows(file.rows); i < file.rows && i < scores.size(); ++i) {
    const bool detected = scores[i] >= threshold;
    const std::size_t window = weights.window[i];
    if (window == k_outside) {
      out.fp += detected ? 1 : 0;
      out.tn += detected ? 0 : 1;
      false_positives += detected ? weights.weight[i] : 0.0;
      continue;
    }
    out.tp += detected ? 1 : 0;
    out.fn += detected ? 0 : 1;
    if (detected) {
      auto& best = windows[window].best;
      best = std::max(best.value_or(weights.weight[i]), weights.weight[i]);
    }
  }
  const std::size_t first = probationary_rows(file.rows);
  for (std::size_t w = 0; w < windows.size(); ++w) {
    if (file.windows[w].right >= first) {
      out.score += windows[w].best.value_or(-profile.fn);
    }
  }
  out.score += false_positives;
  return out;
}

std::vector<double> row_contributions(const LabelledFile& file, std::span<const double> scores,
                                      const Profile& profile, double threshold) {
  const RowWeights weights = row_weights(file, profile);
  const std::size_t first = probationary_rows(file.rows);
  std::vector<double> out(file.rows, 0.0);
  for (std::size_t w = 0; w < file.windows.size(); ++w) {
    const Window& window = file.windows[w];
    if (window.right < first) {
      continue;
    }
    std::optional<double> best;
    for (std::size_t i = std::max(window.left, first); i <= window.right; ++i) {
      if (i < scores.size() && scores[i] >= threshold) {
        best = std::max(best.value_or(weights.weight[i]), weights.weight[i]);
      }
    }
    out[window.left] = best.value_or(-profile.fn);
  }
  for (std::size_t i = first; i < file.rows && i < scores.size(); ++i) {
    if (weights.window[i] == k_outside && scores[i] >= threshold) {
      out[i] = weights.weight[i];
    }
  }
  return out;
}

double corpus_score(std::span<const LabelledFile> files,
                    std::span<const std::vector<double>> scores, const Profile& profile,
                    double threshold) {
  double total = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    total += score_file(files[f], scores[f], profile, threshold).score;
  }
  return total;
}

Optimum optimise_threshold(std::span<const LabelledFile> files,
                           std::span<const std::vector<double>> scores, const Profile& profile) {
  std::vector<PooledRow> rows;
  std::size_t window_count = 0;
  double total = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    const RowWeights weights = row_weights(files[f], profile);
    for (std::size_t i = probationary_rows(files[f].rows); i < files[f].rows; ++i) {
      // A NaN score is never >= a threshold: it is never a detection.
      if (i < scores[f].size() && !std::isnan(scores[f][i])) {
        const std::size_t w = weights.window[i];
        rows.push_back({scores[f][i], weights.weight[i], w == k_outside ? w : window_count + w});
      }
    }
    total -= profile.fn * static_cast<double>(scored_windows(files[f]));
    window_count += files[f].windows.size();
  }
  std::sort(rows.begin(), rows.end(),
            [](const PooledRow& a, const PooledRow& b) { return a.score > b.score; });
  std::vector<WindowState> windows(window_count);
  Optimum best{k_sweep_start, total};
  for (std::size_t i = 0; i < rows.size();) {
    const double threshold = rows[i].score;
    for (; i < rows.size() && rows[i].score == threshold; ++i) {
      const PooledRow& row = rows[i];
      if (row.window == k_outside) {
        total += row.weight;
        continue;
      }
      auto& window = windows[row.window].best;
      if (!window) {
        total += row.weight + profile.fn;
        window = row.weight;
      } else if (row.weight > *window) {
        total += row.weight - *window;
        window = row.weight;
      }
    }
    if (total > best.score) {
      best = {threshold, total};
    }
  }
  return best;
}

double Normaliser::normalise(double raw) const noexcept {
  return 100 * (raw - null_score) / (perfect_score - null_score);
}

Normaliser normaliser(std::span<const LabelledFile> files, const Profile& profile) {
  std::vector<std::vector<double>> null_scores;
  std::vector<std::vector<double>> perfect_scores;
  for (const LabelledFile& file : files) {
    null_scores.emplace_back(file.rows, k_null_score);
    std::vector<double>& perfect = perfect_scores.emplace_back(file.rows, 0.0);
    const std::size_t first = probationary_rows(file.rows);
    for (const Window& window : file.windows) {
      if (window.right >= first) {
        perfect[std::max(window.left, first)] = 1;
      }
    }
  }
  Normaliser out;
  out.null_score = corpus_score(files, null_scores, profile, k_null_threshold);
  out.perfect_score = corpus_score(files, perfect_scores, profile, 1.0);
  return out;
}

} // namespace medic::quality::nab
