// SPDX-License-Identifier: Apache-2.0
// medic-loghub-score: grouping accuracy (BENCHMARK.md §2) of a log parser on a Loghub-format
// corpus, printed as a Markdown table beside the published Drain, Spell, IPLoM and AEL results.
//
//   medic-loghub-score CORPUS [--parser miner|drain] [--parsed DIR] [--truth original|corrected]
//                      [--group-by id|emitted|text] [--system NAME]... [--passes N]
//                      [--floors FILE] [--check-published] [--dump DIR]
//
// CORPUS holds formats.tsv and one folder per system. The parser is the agent's template miner
// with its shipped defaults (default), the reference Drain with the published settings, or the
// EventId column of another parser's output files DIR/<System>_2k.log_structured.csv. Exit
// --dump writes each system's lines with the parser's and the true groups to DIR. Exit
// status: 0 ok, 1 a check failed (a floor or a published value not met), 2 bad usage or input.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/quality/loghub/grouping_accuracy.hpp"
#include "tests/quality/loghub/loghub_corpus.hpp"
#include "tests/quality/loghub/miner_run.hpp"
#include "tests/quality/loghub/published.hpp"
#include "tests/quality/loghub/reference_drain.hpp"

namespace lh = medic::quality::loghub;
namespace fs = std::filesystem;

namespace {

enum class Parser { miner, drain, parsed };

struct Options {
  fs::path corpus;
  Parser parser = Parser::miner;
  fs::path parsed_dir;
  lh::Truth truth = lh::Truth::original;
  lh::GroupBy group_by = lh::GroupBy::template_id;
  std::vector<std::string> systems;
  std::size_t passes = 0;
  fs::path floors;
  bool check_published = false;
  fs::path dump_dir;
};

struct Row {
  std::string system;
  lh::GroupingScore score;
  std::size_t header_misses = 0;
};

constexpr const char* k_usage =
    "usage: medic-loghub-score CORPUS [--parser miner|drain] [--parsed DIR]\n"
    "         [--truth original|corrected] [--group-by id|emitted|text] [--system NAME]...\n"
    "         [--passes N] [--floors FILE] [--check-published] [--dump DIR]\n";

medic::Result<Options> parse_value(Options o, const std::string& flag, const std::string& v) {
  const auto bad = [&] {
    return medic::fail(medic::ErrorCode::invalid_argument, flag + ": bad value '" + v + "'");
  };
  if (flag == "--parser" && (v == "miner" || v == "drain")) {
    o.parser = v == "miner" ? Parser::miner : Parser::drain;
  } else if (flag == "--parsed") {
    o.parser = Parser::parsed;
    o.parsed_dir = v;
  } else if (flag == "--truth" && (v == "original" || v == "corrected")) {
    o.truth = v == "original" ? lh::Truth::original : lh::Truth::corrected;
  } else if (flag == "--group-by" && (v == "id" || v == "emitted" || v == "text")) {
    o.group_by = v == "id"        ? lh::GroupBy::template_id
                 : v == "emitted" ? lh::GroupBy::emitted_id
                                  : lh::GroupBy::template_text;
  } else if (flag == "--system") {
    o.systems.push_back(v);
  } else if (flag == "--passes" && !v.empty() && v.find_first_not_of("0123456789") == v.npos) {
    o.passes = std::stoul(v);
  } else if (flag == "--dump") {
    o.dump_dir = v;
  } else if (flag == "--floors") {
    o.floors = v;
  } else {
    return bad();
  }
  return o;
}

medic::Result<Options> parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--check-published") {
      o.check_published = true;
    } else if (arg.rfind("--", 0) == 0) {
      if (i + 1 == argc) {
        return medic::fail(medic::ErrorCode::invalid_argument, arg + ": missing value");
      }
      auto next = parse_value(std::move(o), arg, argv[++i]);
      if (!next) {
        return next;
      }
      o = std::move(*next);
    } else if (o.corpus.empty()) {
      o.corpus = arg;
    } else {
      return medic::fail(medic::ErrorCode::invalid_argument, "unexpected argument " + arg);
    }
  }
  if (o.corpus.empty()) {
    return medic::fail(medic::ErrorCode::invalid_argument, "no corpus folder given");
  }
  return o;
}

struct Parsed {
  std::vector<std::string> labels;    // the parser's group of each line
  std::vector<std::string> templates; // its template text, where the parser gives one
};

medic::Result<Parsed> parsed_file(const fs::path& file) {
  auto text = lh::read_file(file);
  auto rows = text ? lh::parse_csv(*text) : medic::fail(text.error());
  auto ids = rows ? lh::csv_column(*rows, "EventId") : medic::fail(rows.error());
  if (!ids) {
    return medic::fail(std::move(ids.error()).context(file.string()));
  }
  auto templates = lh::csv_column(*rows, "EventTemplate");
  return Parsed{*ids, templates ? std::move(*templates) : *ids};
}

medic::Result<Parsed> parse_sample(const Options& o, const lh::Sample& sample) {
  if (o.parser == Parser::miner) {
    auto run = lh::run_miner(sample.contents, o.group_by);
    return run ? medic::Result<Parsed>(Parsed{std::move(run->labels), std::move(run->templates)})
               : medic::fail(std::move(run.error()));
  }
  if (o.parser == Parser::parsed) {
    return parsed_file(o.parsed_dir / (sample.system + "_2k.log_structured.csv"));
  }
  const auto settings = lh::published_drain_settings(sample.system);
  if (!settings) {
    return medic::fail(medic::ErrorCode::not_found,
                       "no published Drain settings for " + sample.system);
  }
  auto labels = lh::run_reference_drain(*settings, sample.contents);
  return labels ? medic::Result<Parsed>(Parsed{*labels, *labels}) : medic::fail(labels.error());
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) {
    return s;
  }
  std::string out = "\"";
  for (const char c : s) {
    out += c == '"' ? "\"\"" : std::string(1, c);
  }
  return out + "\"";
}

// logparser's output layout, plus the ground truth, for looking at where the parser misses.
medic::Result<bool> dump(const fs::path& dir, const lh::Sample& sample, const Parsed& parsed) {
  const fs::path file = dir / (sample.system + "_2k.log_structured.csv");
  std::FILE* out = std::fopen(file.c_str(), "w");
  if (out == nullptr) {
    return medic::fail(medic::ErrorCode::io, "cannot write " + file.string());
  }
  std::fprintf(out, "LineId,Content,EventId,EventTemplate,TruthId,TruthTemplate\n");
  for (std::size_t i = 0; i < sample.contents.size(); ++i) {
    std::fprintf(out, "%zu,%s,%s,%s,%s,%s\n", i + 1, csv_field(sample.contents[i]).c_str(),
                 csv_field(parsed.labels[i]).c_str(), csv_field(parsed.templates[i]).c_str(),
                 csv_field(sample.truth[i]).c_str(), csv_field(sample.truth_templates[i]).c_str());
  }
  return std::fclose(out) == 0 ? medic::Result<bool>(true)
                               : medic::fail(medic::ErrorCode::io, "cannot write " + file.string());
}

medic::Result<Row> score_system(const Options& o, const lh::SystemFormat& format,
                                std::vector<std::string>& contents_out) {
  auto sample = lh::load_sample(o.corpus, format, o.truth);
  if (!sample) {
    return medic::fail(std::move(sample.error()));
  }
  auto parsed = parse_sample(o, *sample);
  auto score =
      parsed ? lh::score_grouping(sample->truth, parsed->labels) : medic::fail(parsed.error());
  auto dumped =
      score && !o.dump_dir.empty() ? dump(o.dump_dir, *sample, *parsed) : medic::Result<bool>(true);
  if (!dumped) {
    score = medic::fail(std::move(dumped.error()));
  }
  if (!score) {
    return medic::fail(std::move(score.error()).context(format.system));
  }
  contents_out = std::move(sample->contents);
  return Row{format.system, *score, sample->header_misses};
}

void print_table(const std::vector<Row>& rows) {
  std::printf(
      "| system | GA | F1 | groups | true events | header misses |"
      " Drain | Spell | IPLoM | AEL |\n|---|---|---|---|---|---|---|---|---|---|\n");
  double sums[5] = {};
  for (const Row& r : rows) {
    const auto p = lh::published_accuracy(r.system).value_or(lh::PublishedAccuracy{});
    std::printf("| %s | %.4f | %.4f | %zu | %zu | %zu | %.4f | %.4f | %.4f | %.4f |\n",
                r.system.c_str(), r.score.accuracy, r.score.f1, r.score.parsed_groups,
                r.score.true_groups, r.header_misses, p.drain, p.spell, p.iplom, p.ael);
    const double values[5] = {r.score.accuracy, p.drain, p.spell, p.iplom, p.ael};
    for (int i = 0; i < 5; ++i) {
      sums[i] += values[i];
    }
  }
  const double n = rows.empty() ? 1.0 : static_cast<double>(rows.size());
  std::printf("| **mean of %zu** | **%.4f** | | | | | %.4f | %.4f | %.4f | %.4f |\n", rows.size(),
              sums[0] / n, sums[1] / n, sums[2] / n, sums[3] / n, sums[4] / n);
}

// Published values are rounded to 4 decimals (GA) and 6 (F1).
bool check_published(const std::vector<Row>& rows) {
  bool ok = true;
  for (const Row& r : rows) {
    const auto p = lh::published_accuracy(r.system);
    const bool ga_ok = p && std::fabs(r.score.accuracy - p->drain) < 0.00005 + 1e-12;
    const bool f1_ok = p && std::fabs(r.score.f1 - p->drain_f1) < 0.0000005 + 1e-12;
    if (!ga_ok || !f1_ok) {
      std::fprintf(stderr, "%s: GA %.6f F1 %.7f, published %.4f / %.6f\n", r.system.c_str(),
                   r.score.accuracy, r.score.f1, p ? p->drain : -1.0, p ? p->drain_f1 : -1.0);
      ok = false;
    }
  }
  return ok;
}

// floors file: "system<TAB>minimum GA" lines, "mean" for the mean; '#' starts a comment.
medic::Result<bool> check_floors(const fs::path& file, const std::vector<Row>& rows) {
  auto text = lh::read_file(file);
  auto floors = text ? lh::parse_formats(*text) : medic::fail(text.error());
  if (!floors) {
    return medic::fail(std::move(floors.error()).context(file.string()));
  }
  std::map<std::string, double> ga;
  double sum = 0;
  for (const Row& r : rows) {
    ga[r.system] = r.score.accuracy;
    sum += r.score.accuracy;
  }
  ga["mean"] = rows.empty() ? 0 : sum / static_cast<double>(rows.size());
  bool ok = true;
  for (const auto& [system, value] : *floors) {
    char* end = nullptr;
    const double floor = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end != '\0' || !(floor >= 0 && floor <= 1)) {
      return medic::fail(
          medic::ErrorCode::invalid_argument,
          file.string() + ": " + system + ": floor '" + value + "' is not a number in [0, 1]");
    }
    const auto found = ga.find(system);
    if (found == ga.end() || found->second < floor) {
      std::fprintf(stderr, "floor not met: %s GA %s, floor %.4f\n", system.c_str(),
                   found == ga.end() ? "missing" : std::to_string(found->second).c_str(), floor);
      ok = false;
    }
  }
  return ok;
}

medic::Result<std::vector<lh::SystemFormat>> selected_systems(const Options& o) {
  const fs::path file = o.corpus / "formats.tsv";
  auto text = lh::read_file(file);
  auto formats = text ? lh::parse_formats(*text) : medic::fail(text.error());
  if (!formats) {
    return medic::fail(std::move(formats.error()).context(file.string()));
  }
  if (o.systems.empty()) {
    return formats;
  }
  std::vector<lh::SystemFormat> chosen;
  for (const std::string& name : o.systems) {
    const auto it = std::find_if(formats->begin(), formats->end(),
                                 [&](const lh::SystemFormat& f) { return f.system == name; });
    if (it == formats->end()) {
      return medic::fail(medic::ErrorCode::not_found, "system " + name + " not in formats.tsv");
    }
    chosen.push_back(*it);
  }
  return chosen;
}

void print_throughput(const std::vector<std::vector<std::string>>& contents, std::size_t passes) {
  std::vector<const std::vector<std::string>*> samples;
  for (const auto& c : contents) {
    samples.push_back(&c);
  }
  const auto t = lh::measure_miner(samples, passes);
  if (!t) {
    std::fprintf(stderr, "throughput: %s\n", t.error().message().c_str());
    return;
  }
  std::printf(
      "\ntemplate miner, one core (thread CPU time), %zu lines x %zu passes:\n"
      "  fresh miner per sample: %.0f lines/s\n  templates already known: %.0f lines/s\n",
      t->lines, passes, t->cold_per_second, t->warm_per_second);
}

int run(const Options& o) {
  auto formats = selected_systems(o);
  if (!formats) {
    std::fprintf(stderr, "medic-loghub-score: %s\n", formats.error().message().c_str());
    return 2;
  }
  std::vector<Row> rows;
  std::vector<std::vector<std::string>> contents(formats->size());
  for (std::size_t i = 0; i < formats->size(); ++i) {
    auto row = score_system(o, (*formats)[i], contents[i]);
    if (!row) {
      std::fprintf(stderr, "medic-loghub-score: %s\n", row.error().message().c_str());
      return 2;
    }
    rows.push_back(std::move(*row));
  }
  print_table(rows);
  if (o.passes > 0 && o.parser == Parser::miner) {
    print_throughput(contents, o.passes);
  }
  bool ok = !o.check_published || check_published(rows);
  if (!o.floors.empty()) {
    const auto floors_ok = check_floors(o.floors, rows);
    if (!floors_ok) {
      std::fprintf(stderr, "medic-loghub-score: %s\n", floors_ok.error().message().c_str());
      return 2;
    }
    ok = ok && *floors_ok;
  }
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  try {
    const auto options = parse_args(argc, argv);
    if (!options) {
      std::fprintf(stderr, "medic-loghub-score: %s\n%s", options.error().message().c_str(),
                   k_usage);
      return 2;
    }
    return run(*options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "medic-loghub-score: %s\n", e.what());
    return 2;
  }
}
