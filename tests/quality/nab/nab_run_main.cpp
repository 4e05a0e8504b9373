// SPDX-License-Identifier: Apache-2.0
// medic-nab-run: the agent's anomaly detector (shipped defaults) on every series of a NAB-format
// corpus, scored with the exhaustive threshold sweep beside the published detectors' per-file
// scores on the same files; then its cost per sample.
//
//   medic-nab-run <corpus> [--out DIR] [--rounds N] [--per-file]
//
// --out writes the detector's per-row outputs in NAB's layout (DIR/medic/<category>/medic_*.csv),
// which medic-nab-score --results DIR scores again. --rounds: timing passes (default 5; 0 skips
// timing). Prints Markdown.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "tests/quality/nab/nab_run.hpp"

namespace nab = medic::quality::nab;
namespace fs = std::filesystem;

namespace {

template <class T>
T must(medic::Result<T> result) {
  if (!result) {
    std::fprintf(stderr, "medic-nab-run: %s\n", result.error().message().c_str());
    std::exit(1);
  }
  return std::move(*result);
}

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "medic-nab-run: %s\nusage: medic-nab-run <corpus> [--out DIR] [--rounds N] "
               "[--per-file]\n",
               problem.c_str());
  std::exit(2);
}

struct Options {
  fs::path corpus;
  fs::path out;
  int rounds = 5;
  bool per_file = false;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--out" || arg == "--rounds") && i + 1 >= argc) {
      usage(arg + " needs a value");
    }
    if (arg == "--out") {
      options.out = argv[++i];
    } else if (arg == "--rounds") {
      options.rounds = std::stoi(argv[++i]);
    } else if (arg == "--per-file") {
      options.per_file = true;
    } else if (options.corpus.empty() && !arg.starts_with("--")) {
      options.corpus = arg;
    } else {
      usage("unknown argument " + arg);
    }
  }
  if (options.corpus.empty()) {
    usage("no corpus folder");
  }
  return options;
}

void write_results(const Options& options, const nab::Corpus& corpus,
                   const nab::CorpusScores& scores) {
  for (std::size_t f = 0; f < corpus.files.size(); ++f) {
    const fs::path path =
        nab::result_path(options.out, nab::k_detector_name, corpus.files[f].labels.name);
    if (auto ok = nab::write_result_file(path, corpus.files[f], scores[f]); !ok) {
      std::fprintf(stderr, "medic-nab-run: %s\n", ok.error().message().c_str());
      std::exit(1);
    }
  }
}

} // namespace

int main(int argc, char** argv) try {
  const Options options = parse(argc, argv);
  const nab::Corpus corpus = must(nab::load_corpus(options.corpus));
  const auto profiles = must(nab::load_profiles(options.corpus));
  const nab::CorpusScores scores = nab::run_anomaly_detector(corpus);
  if (!options.out.empty()) {
    write_results(options, corpus, scores);
  }
  std::vector<nab::DetectorResult> results{
      nab::score_rows(corpus, nab::k_detector_name, scores, profiles)};
  const fs::path published = corpus.root / "results";
  for (const std::string& detector : nab::detectors_in(published)) {
    if (auto result = nab::score_published(corpus, published, detector, profiles)) {
      results.push_back(std::move(*result));
    }
  }
  std::printf("NAB on %zu files, %zu windows, %zu rows of %s\n\n", corpus.files.size(),
              corpus.window_count(), corpus.row_count(), corpus.root.string().c_str());
  std::printf("%s\n", nab::markdown_table(results).c_str());
  if (options.per_file) {
    std::printf("Per file:\n\n%s\n", nab::markdown_per_file(corpus, results.front()).c_str());
  }
  if (options.rounds > 0) {
    const nab::RunCost cost = nab::measure_cost(corpus, options.rounds);
    std::printf(
        "| cost | value |\n|---|---:|\n| ns per sample (thread CPU, best of %d) | %.1f |\n"
        "| bytes of state per series | %zu |\n",
        options.rounds, cost.ns_per_sample, cost.state_bytes);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "medic-nab-run: %s\n", e.what());
  return 1;
}
