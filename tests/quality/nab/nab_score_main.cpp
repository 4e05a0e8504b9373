// SPDX-License-Identifier: Apache-2.0
// medic-nab-score: scores anomaly detectors on a NAB-format corpus (SCORING.md).
//
//   medic-nab-score <corpus> [--results DIR] [--detector NAME]... [--stored] [--per-file]
//   medic-nab-score <corpus> --verify TOLERANCE [--detector NAME]... [--skip-totals NAME]...
//
// Scoring: every detector in the results folder (default <corpus>/results) with per-row outputs
// for all corpus files is scored by the exhaustive threshold sweep (current NAB), or at
// config/thresholds.json with --stored. Detectors of <corpus>/results that only have published
// per-file scores are summed over the corpus files. Prints Markdown tables; all scores are
// normalised on the corpus' own windows (null 0, perfect 100).
//
// --verify: rescores the per-row outputs at the stored thresholds and compares them with the
// published per-file scores, counts and per-row S(t) columns, and the published Totals with
// final_results.json (but not for --skip-totals detectors); prints the largest difference and
// exits 1 beyond TOLERANCE.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "tests/quality/nab/nab_report.hpp"

namespace nab = medic::quality::nab;
namespace fs = std::filesystem;

namespace {

struct Options {
  fs::path corpus;
  fs::path results;
  std::vector<std::string> detectors;
  bool stored = false;
  bool per_file = false;
  double verify = -1; // tolerance; < 0: no verification
  std::vector<std::string> skip_totals;
};

[[noreturn]] void usage(const char* problem) {
  std::fprintf(
      stderr,
      "medic-nab-score: %s\nusage: medic-nab-score <corpus> [--results DIR] "
      "[--detector NAME]... [--stored] [--per-file] [--verify TOLERANCE [--skip-totals NAME]...]\n",
      problem);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage((arg + " needs a value").c_str());
      }
      return argv[++i];
    };
    if (arg == "--results") {
      options.results = value();
    } else if (arg == "--detector") {
      options.detectors.push_back(value());
    } else if (arg == "--skip-totals") {
      options.skip_totals.push_back(value());
    } else if (arg == "--stored") {
      options.stored = true;
    } else if (arg == "--per-file") {
      options.per_file = true;
    } else if (arg == "--verify") {
      options.verify = std::stod(value());
    } else if (options.corpus.empty() && !arg.starts_with("--")) {
      options.corpus = arg;
    } else {
      usage(("unknown argument " + arg).c_str());
    }
  }
  if (options.corpus.empty()) {
    usage("no corpus folder");
  }
  if (options.results.empty()) {
    options.results = options.corpus / "results";
  }
  return options;
}

template <class T>
T must(medic::Result<T> result) {
  if (!result) {
    std::fprintf(stderr, "medic-nab-score: %s\n", result.error().message().c_str());
    std::exit(1);
  }
  return std::move(*result);
}

int verify(const Options& options, const nab::Corpus& corpus,
           const std::vector<nab::Profile>& profiles) {
  std::vector<std::string> detectors = options.detectors;
  if (detectors.empty()) {
    detectors.push_back("numenta");
  }
  int failures = 0;
  const auto report = [&](const std::string& what, const nab::Mismatch& mismatch) {
    std::printf("%s: largest difference %.3g\n", what.c_str(), mismatch.worst);
    for (const std::string& problem : mismatch.problems) {
      std::printf("  MISMATCH %s\n", problem.c_str());
    }
    failures += mismatch.problems.empty() ? 0 : 1;
  };
  for (const std::string& detector : detectors) {
    report(detector + " per-row outputs at stored thresholds vs published per-file scores",
           must(nab::verify_rows(corpus, options.results, detector, profiles, options.verify)));
  }
  report("published Totals normalised vs final_results.json",
         must(nab::verify_totals(options.corpus / "results", profiles, options.verify,
                                 options.skip_totals)));
  std::printf("%s\n", failures == 0 ? "OK" : "FAILED");
  return failures == 0 ? 0 : 1;
}

int score(const Options& options, const nab::Corpus& corpus,
          const std::vector<nab::Profile>& profiles) {
  const auto thresholds =
      options.stored ? must(nab::load_thresholds(corpus.root)) : nab::Thresholds{};
  std::vector<nab::DetectorResult> results;
  const auto wanted = [&](const std::string& detector) {
    return options.detectors.empty() ||
           std::find(options.detectors.begin(), options.detectors.end(), detector) !=
               options.detectors.end();
  };
  for (const std::string& detector : nab::detectors_in(options.results)) {
    auto rows = nab::load_detector_rows(corpus, options.results, detector);
    if (wanted(detector) && rows) {
      results.push_back(nab::score_rows(corpus, detector, *rows, profiles,
                                        options.stored ? &thresholds : nullptr));
    }
  }
  for (const std::string& detector : nab::detectors_in(corpus.root / "results")) {
    auto published = nab::score_published(corpus, corpus.root / "results", detector, profiles);
    if (wanted(detector) && published) {
      results.push_back(std::move(*published));
    } else if (wanted(detector)) {
      std::printf("(%s left out: %s)\n", detector.c_str(), published.error().message().c_str());
    }
  }
  if (results.empty()) {
    usage("no detector to score");
  }
  std::printf("NAB scores on %zu files, %zu windows, %zu rows of %s\n\n", corpus.files.size(),
              corpus.window_count(), corpus.row_count(), corpus.root.string().c_str());
  std::printf("%s\n", nab::markdown_table(results).c_str());
  for (const nab::DetectorResult& result : results) {
    if (options.per_file && !result.profiles.front().files.empty()) {
      std::printf("Per file, %s (%s):\n\n%s\n", result.detector.c_str(), result.method.c_str(),
                  nab::markdown_per_file(corpus, result).c_str());
    }
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) try {
  const Options options = parse(argc, argv);
  const nab::Corpus corpus = must(nab::load_corpus(options.corpus));
  const auto profiles = must(nab::load_profiles(options.corpus));
  return options.verify >= 0 ? verify(options, corpus, profiles) : score(options, corpus, profiles);
} catch (const std::exception& e) {
  std::fprintf(stderr, "medic-nab-score: %s\n", e.what());
  return 1;
}
