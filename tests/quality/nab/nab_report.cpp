// SPDX-License-Identifier: Apache-2.0
#include "tests/quality/nab/nab_report.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace medic::quality::nab {

namespace fs = std::filesystem;

namespace {

fs::path scores_path(const fs::path& results_dir, const std::string& detector,
                     const std::string& profile) {
  return results_dir / detector / (detector + "_" + profile + "_scores.csv");
}

void compare(Mismatch& mismatch, double tolerance, double expected, double actual,
             const std::string& what) {
  const double difference = std::abs(expected - actual);
  mismatch.worst = std::max(mismatch.worst, difference);
  if (!(difference <= tolerance)) {
    mismatch.problems.push_back(what + ": published " + fmt::format("{:.12g}", expected) +
                                ", rescored " + fmt::format("{:.12g}", actual));
  }
}

void compare_counts(Mismatch& mismatch, const PublishedRow& row, const FileScore& score,
                    std::size_t rows, const std::string& what) {
  const bool same = row.tp == score.tp && row.tn == score.tn && row.fp == score.fp &&
                    row.fn == score.fn && row.total == rows;
  if (!same) {
    mismatch.problems.push_back(what + ": TP/TN/FP/FN/Total differ");
  }
}

// Compares one file's per-row S(t) column, when the output has it.
void compare_rows(Mismatch& mismatch, double tolerance, const Columns& columns,
                  const DataFile& file, const std::vector<double>& scores, const Profile& profile,
                  double threshold) {
  const auto column = columns.find("S(t)_" + profile.name);
  if (column == columns.end()) {
    return;
  }
  const auto mine = row_contributions(file.labels, scores, profile, threshold);
  for (std::size_t i = 0; i < mine.size(); ++i) {
    compare(mismatch, tolerance, column->second[i], mine[i],
            file.labels.name + " row " + std::to_string(i + 2) + " " + profile.name);
  }
}

} // namespace

DetectorResult score_rows(const Corpus& corpus, const std::string& detector,
                          const CorpusScores& scores, const std::vector<Profile>& profiles,
                          const Thresholds* stored) {
  const std::vector<LabelledFile> files = corpus.labelled();
  DetectorResult result{detector, stored != nullptr ? "stored thresholds" : "sweep", {}};
  for (const Profile& profile : profiles) {
    ProfileResult out{profile.name, 0, 0, 0, {}};
    if (stored != nullptr) {
      out.threshold = stored->at(detector).at(profile.name);
      out.raw = corpus_score(files, scores, profile, out.threshold);
    } else {
      const Optimum best = optimise_threshold(files, scores, profile);
      out.threshold = best.threshold;
      out.raw = best.score;
    }
    for (std::size_t f = 0; f < files.size(); ++f) {
      out.files.push_back(score_file(files[f], scores[f], profile, out.threshold));
    }
    out.normalised = normaliser(files, profile).normalise(out.raw);
    result.profiles.push_back(std::move(out));
  }
  return result;
}

Result<CorpusScores> load_detector_rows(const Corpus& corpus, const fs::path& results_dir,
                                        const std::string& detector) {
  CorpusScores out;
  for (const DataFile& file : corpus.files) {
    auto scores =
        load_result_scores(result_path(results_dir, detector, file.labels.name), file, nullptr);
    if (!scores) {
      return fail(std::move(scores).error());
    }
    out.push_back(std::move(*scores));
  }
  return out;
}

Result<DetectorResult> score_published(const Corpus& corpus, const fs::path& results_dir,
                                       const std::string& detector,
                                       const std::vector<Profile>& profiles) {
  const std::vector<LabelledFile> files = corpus.labelled();
  DetectorResult result{detector, "published per-file scores", {}};
  for (const Profile& profile : profiles) {
    auto published = load_published_scores(scores_path(results_dir, detector, profile.name));
    if (!published) {
      return fail(std::move(published).error());
    }
    ProfileResult out{profile.name, 0, 0, 0, {}};
    for (const DataFile& file : corpus.files) {
      const auto row = std::find_if(published->files.begin(), published->files.end(),
                                    [&](const auto& r) { return r.file == file.labels.name; });
      if (row == published->files.end()) {
        return fail(ErrorCode::not_found,
                    detector + " " + profile.name + ": no published score for " + file.labels.name);
      }
      out.threshold = row->threshold;
      out.raw += row->score;
    }
    out.normalised = normaliser(files, profile).normalise(out.raw);
    result.profiles.push_back(std::move(out));
  }
  return result;
}

std::vector<std::string> detectors_in(const fs::path& results_dir) {
  std::vector<std::string> out;
  std::error_code error;
  for (fs::directory_iterator it(results_dir, error), end; !error && it != end;
       it.increment(error)) {
    if (it->is_directory()) {
      out.push_back(it->path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<Mismatch> verify_rows(const Corpus& corpus, const fs::path& results_dir,
                             const std::string& detector, const std::vector<Profile>& profiles,
                             double tolerance) {
  auto thresholds = load_thresholds(corpus.root);
  if (!thresholds) {
    return fail(std::move(thresholds).error());
  }
  if (thresholds->count(detector) == 0) {
    return fail(ErrorCode::not_found, "config/thresholds.json has no " + detector);
  }
  Mismatch mismatch;
  for (const DataFile& file : corpus.files) {
    Columns columns;
    auto scores =
        load_result_scores(result_path(results_dir, detector, file.labels.name), file, &columns);
    if (!scores) {
      return fail(std::move(scores).error());
    }
    for (const Profile& profile : profiles) {
      auto published = load_published_scores(scores_path(results_dir, detector, profile.name));
      if (!published) {
        return fail(std::move(published).error());
      }
      const auto& stored = thresholds->at(detector);
      const double threshold = stored.count(profile.name) != 0 ? stored.at(profile.name) : 2.0;
      const FileScore mine = score_file(file.labels, *scores, profile, threshold);
      const std::string what = file.labels.name + " " + profile.name;
      const auto row = std::find_if(published->files.begin(), published->files.end(),
                                    [&](const auto& r) { return r.file == file.labels.name; });
      if (row == published->files.end()) {
        mismatch.problems.push_back(what + ": no published score");
        continue;
      }
      compare(mismatch, tolerance, row->score, mine.score, what);
      compare(mismatch, tolerance, row->threshold, threshold, what + " threshold");
      compare_counts(mismatch, *row, mine, file.labels.rows, what);
      compare_rows(mismatch, tolerance, columns, file, *scores, profile, threshold);
    }
  }
  return mismatch;
}

Result<Mismatch> verify_totals(const fs::path& results_dir, const std::vector<Profile>& profiles,
                               double tolerance, const std::vector<std::string>& skip) {
  auto final_results = load_final_results(results_dir.parent_path());
  if (!final_results) {
    return fail(std::move(final_results).error());
  }
  Mismatch mismatch;
  for (const Profile& profile : profiles) {
    auto null = load_published_scores(scores_path(results_dir, "null", profile.name));
    if (!null || !null->has_total) {
      return fail(ErrorCode::not_found, "no null detector Totals for " + profile.name);
    }
    const Normaliser scale{null->total, profile.tp / profile.fn * -null->total};
    for (const auto& [detector, scores] : *final_results) {
      if (std::find(skip.begin(), skip.end(), detector) != skip.end()) {
        continue;
      }
      const auto published =
          load_published_scores(scores_path(results_dir, detector, profile.name));
      if (!published || !published->has_total || scores.count(profile.name) == 0) {
        mismatch.problems.push_back(detector + " " + profile.name + ": no Totals row");
        continue;
      }
      compare(mismatch, tolerance, scores.at(profile.name), scale.normalise(published->total),
              detector + " " + profile.name + " normalised Totals");
    }
  }
  return mismatch;
}

std::string markdown_table(std::vector<DetectorResult> results) {
  std::stable_sort(results.begin(), results.end(), [](const auto& a, const auto& b) {
    return a.profiles.front().normalised > b.profiles.front().normalised;
  });
  std::string out = "| detector | method |";
  std::string rule = "|---|---|";
  for (const ProfileResult& profile : results.front().profiles) {
    out += " " + profile.profile + " | threshold |";
    rule += "---:|---:|";
  }
  out += "\n" + rule + "\n";
  for (const DetectorResult& result : results) {
    out += "| " + result.detector + " | " + result.method + " |";
    for (const ProfileResult& profile : result.profiles) {
      out += fmt::format(" {:.2f} | {:.6g} |", profile.normalised, profile.threshold);
    }
    out += "\n";
  }
  return out;
}

std::string markdown_per_file(const Corpus& corpus, const DetectorResult& result) {
  std::string out = "| file | windows |";
  std::string rule = "|---|---:|";
  for (const ProfileResult& profile : result.profiles) {
    out += " " + profile.profile + " | TP rows | FP rows |";
    rule += "---:|---:|---:|";
  }
  out += "\n" + rule + "\n";
  for (std::size_t f = 0; f < corpus.files.size(); ++f) {
    out += "| " + corpus.files[f].labels.name + " | " +
           std::to_string(corpus.files[f].labels.windows.size()) + " |";
    for (const ProfileResult& profile : result.profiles) {
      const FileScore& score = profile.files.at(f);
      out += fmt::format(" {:.3f} | {} | {} |", score.score, score.tp, score.fp);
    }
    out += "\n";
  }
  return out;
}

} // namespace medic::quality::nab
