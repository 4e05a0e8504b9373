// SPDX-License-Identifier: Apache-2.0
// The NAB scorer on small cases computed by hand from SCORING.md (A(y) = 2 / (1 + e^{5y}) - 1).
#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/quality/nab/nab_scorer.hpp"

namespace nab = medic::quality::nab;
using Catch::Matchers::WithinAbs;

namespace {

constexpr double k_eps = 1e-12;
const nab::Profile k_standard{"standard", 1.0, 0.11, 1.0};
const nab::Profile k_low_fn{"reward_low_FN_rate", 1.0, 0.11, 2.0};

// 20 rows (probation: 3), one window over rows 10..13 (W = 4).
nab::LabelledFile one_window() {
  return {"a.csv", 20, {{10, 13}}};
}
nab::LabelledFile no_window() {
  return {"b.csv", 20, {}};
}

std::vector<double> with(std::size_t rows, std::vector<std::pair<std::size_t, double>> hits) {
  std::vector<double> scores(rows, 0.0);
  for (const auto& [row, score] : hits) {
    scores[row] = score;
  }
  return scores;
}

} // namespace

TEST_CASE("nab: scaled sigmoid reference values", "[nab]") {
  CHECK_THAT(nab::scaled_sigmoid(-1), WithinAbs(0.9866142981514305, k_eps));
  CHECK_THAT(nab::scaled_sigmoid(-0.5), WithinAbs(0.8482836399575131, k_eps));
  CHECK(nab::scaled_sigmoid(0) == 0);
  CHECK_THAT(nab::scaled_sigmoid(1), WithinAbs(-0.9866142981514305, k_eps));
  CHECK_THAT(nab::scaled_sigmoid(3), WithinAbs(-0.9999993881955461, k_eps)); // not clamped
  CHECK(nab::scaled_sigmoid(3.0000001) == -1);
}

TEST_CASE("nab: probationary period is 15% of the file, at most 750 rows", "[nab]") {
  CHECK(nab::probationary_rows(20) == 3);
  CHECK(nab::probationary_rows(100) == 15);
  CHECK(nab::probationary_rows(4999) == 749); // floor(749.85)
  CHECK(nab::probationary_rows(5000) == 750);
  CHECK(nab::probationary_rows(100000) == 750);
  CHECK(nab::probationary_rows(0) == 0);
}

TEST_CASE("nab: row weights before, inside and after a window", "[nab]") {
  const nab::RowWeights w = nab::row_weights(one_window(), k_standard);
  CHECK(w.weight[0] == -0.11);                     // no earlier window: the full FP cost
  CHECK(w.weight[9] == -0.11);                     // just before the window: still the full cost
  CHECK_THAT(w.weight[10], WithinAbs(1.0, k_eps)); // the earliest row is worth A_TP
  CHECK_THAT(w.weight[11], WithinAbs(0.9669890878000605, k_eps));         // A(-3/4) / A(-1)
  CHECK_THAT(w.weight[13], WithinAbs(0.5621241486044827, k_eps));         // A(-1/4) / A(-1)
  CHECK_THAT(w.weight[14], WithinAbs(0.11 * -0.6822617902381697, k_eps)); // A(1/3): 1/(W-1)
  CHECK_THAT(w.weight[19], WithinAbs(0.11 * -0.9999092042625951, k_eps)); // A(6/3)
  CHECK(w.window[9] == nab::k_outside);
  CHECK(w.window[10] == 0);
  CHECK(w.window[13] == 0);
  CHECK(w.window[14] == nab::k_outside);
}

TEST_CASE("nab: a one-row window makes every later row a full false positive", "[nab]") {
  const nab::RowWeights w = nab::row_weights({"c.csv", 10, {{4, 4}}}, k_standard);
  CHECK_THAT(w.weight[4], WithinAbs(1.0, k_eps));
  CHECK(w.weight[5] == -0.11);
}

TEST_CASE("nab: a file's score counts the earliest detection and every false positive", "[nab]") {
  // Row 1 is probationary (ignored), row 5 a false positive before the window, rows 11 and 12
  // detections in the window (only row 11 counts), row 19 a false positive 6 rows after it.
  const auto scores = with(20, {{1, 1.0}, {5, 0.9}, {11, 0.8}, {12, 0.8}, {19, 0.9}});
  const nab::FileScore s = nab::score_file(one_window(), scores, k_standard, 0.8);
  CHECK_THAT(s.score, WithinAbs(0.9669890878000605 - 0.11 + 0.11 * -0.9999092042625951, k_eps));
  CHECK(s.tp == 2);
  CHECK(s.fn == 2);
  CHECK(s.fp == 2);
  CHECK(s.tn == 17 - 6);

  // Detection is inclusive (>=): at 0.9 the window is missed.
  const nab::FileScore missed = nab::score_file(one_window(), scores, k_low_fn, 0.9);
  CHECK_THAT(missed.score, WithinAbs(-2.0 - 0.11 + 0.11 * -0.9999092042625951, k_eps));
}

TEST_CASE("nab: per-row contributions put a window's score on its first row", "[nab]") {
  const auto scores = with(20, {{5, 0.9}, {12, 0.8}});
  const auto rows = nab::row_contributions(one_window(), scores, k_standard, 0.8);
  CHECK(rows[5] == -0.11);
  CHECK_THAT(rows[10], WithinAbs(nab::row_weights(one_window(), k_standard).weight[12], k_eps));
  CHECK(rows[12] == 0);
  double total = 0;
  for (const double row : rows) {
    total += row;
  }
  CHECK_THAT(total, WithinAbs(nab::score_file(one_window(), scores, k_standard, 0.8).score, k_eps));
  const auto missed = nab::row_contributions(one_window(), scores, k_standard, 0.95);
  CHECK(missed[10] == -1.0);
}

TEST_CASE("nab: the sweep finds the best corpus threshold", "[nab]") {
  const std::vector<nab::LabelledFile> files{one_window(), no_window()};
  const std::vector<std::vector<double>> scores{with(20, {{5, 0.9}, {11, 0.7}, {12, 0.7}}),
                                                with(20, {{8, 0.8}})};
  // S(1.1) = -1; S(0.9) = -1.11; S(0.8) = -1.22; S(0.7) = -0.22 + w11; below: 31 more FPs.
  const nab::Optimum best = nab::optimise_threshold(files, scores, k_standard);
  CHECK(best.threshold == 0.7);
  CHECK_THAT(best.score, WithinAbs(0.9669890878000605 - 0.22, k_eps));
  CHECK_THAT(nab::corpus_score(files, scores, k_standard, 0.7), WithinAbs(best.score, k_eps));
}

TEST_CASE("nab: the sweep breaks ties toward the highest threshold", "[nab]") {
  // The detection at 0.8 lies in the window after the one at 0.9: it changes nothing.
  const std::vector<nab::LabelledFile> files{one_window()};
  const std::vector<std::vector<double>> scores{with(20, {{10, 0.9}, {12, 0.8}})};
  const nab::Optimum best = nab::optimise_threshold(files, scores, k_standard);
  CHECK(best.threshold == 0.9);
  CHECK_THAT(best.score, WithinAbs(1.0, k_eps));

  // Nothing worth detecting (no window): the sweep stays at 1.1 with nothing detected.
  const std::vector<nab::LabelledFile> quiet{no_window()};
  const std::vector<std::vector<double>> noise{with(20, {{5, 0.9}})};
  const nab::Optimum none = nab::optimise_threshold(quiet, noise, k_standard);
  CHECK(none.threshold == 1.1);
  CHECK(none.score == 0.0);
}

TEST_CASE("nab: normalisation puts the null detector at 0 and the perfect one at 100", "[nab]") {
  const std::vector<nab::LabelledFile> files{
      one_window(), no_window(), {"d.csv", 40, {{8, 10}, {20, 30}}}};
  const nab::Normaliser standard = nab::normaliser(files, k_standard);
  CHECK_THAT(standard.null_score, WithinAbs(-3.0, k_eps));
  CHECK_THAT(standard.perfect_score, WithinAbs(3.0, k_eps));
  CHECK_THAT(standard.normalise(0.0), WithinAbs(50.0, k_eps));
  const nab::Normaliser low_fn = nab::normaliser(files, k_low_fn);
  CHECK_THAT(low_fn.null_score, WithinAbs(-6.0, k_eps));
  CHECK_THAT(low_fn.normalise(3.0), WithinAbs(100.0, k_eps));
  CHECK_THAT(low_fn.normalise(-6.0), WithinAbs(0.0, k_eps));
}

TEST_CASE("nab: a window wholly inside the probation counts for nothing", "[nab]") {
  // 40 rows: probation 6; the window 1..3 is never scored, 20..22 is.
  const nab::LabelledFile file{"e.csv", 40, {{1, 3}, {20, 22}}};
  CHECK(nab::scored_windows(file) == 1);
  const auto scores = with(40, {{2, 1.0}, {20, 1.0}});
  CHECK_THAT(nab::score_file(file, scores, k_standard, 0.5).score, WithinAbs(1.0, k_eps));
  // The first window still sets the distance for rows after it (row 4: y = 1 / 2).
  CHECK_THAT(nab::row_weights(file, k_standard).weight[4],
             WithinAbs(0.11 * nab::scaled_sigmoid(0.5), k_eps));
}
