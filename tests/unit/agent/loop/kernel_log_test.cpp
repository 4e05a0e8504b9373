// SPDX-License-Identifier: Apache-2.0
// logs.kernel: the log pipeline follows the real /dev/kmsg as the source "kernel". A line the
// test writes there (tagged, so that other kernel messages and other tests do not matter) fires
// a rule scoped to that source and ships as a log event; the cursor the pipeline reports brings
// a restarted pipeline back to the next line, none repeated. Needs root, as the agent.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <uv.h>
#include <catch2/catch.hpp>

#include "agent/config/agent_config.hpp"
#include "agent/loop/log_pipeline.hpp"
#include "shared/uv/handle.hpp"
#include "tests/unit/agent/tail/kmsg_writer.hpp"

namespace {

namespace protocol = medic::protocol;
using namespace std::chrono_literals;

struct Fired {
  std::string rule;
  std::string source;
  std::string message;
};

struct Shipped {
  std::string source;
  std::string path;
  std::string text;
  std::string rule;
};

// A pipeline with no log files, the kernel's log and one rule on `tag` scoped to it.
class KernelPipeline {
public:
  KernelPipeline(const std::string& tag, const std::vector<medic::agent::tail::TailCursor>& saved) {
    uv_loop_init(&m_loop);
    medic::agent::config::SensingConfig config;
    config.kernel_log = true;
    config.default_rules = false; // only the rule below
    medic::agent::config::LogRuleConfig rule;
    rule.id = "kernel-test";
    rule.pattern = tag + " test-kill";
    rule.sources = {"kernel"};
    config.log_rules = {rule};
    REQUIRE(medic::agent::config::finish_sensing(config));
    medic::agent::loop::LogOutput output;
    output.signal = [this](const protocol::SignalView& signal) {
      if (signal.state == protocol::SignalState::firing && signal.rule == "kernel-test") {
        std::string source;
        for (const auto& label : signal.labels) {
          if (label.name == "source") {
            source = label.value;
          }
        }
        fired.push_back({std::string(signal.rule), source, std::string(signal.message)});
      }
    };
    output.event = [this, tag](const protocol::LogEventView& event) {
      if (event.text.find(tag) != std::string_view::npos) {
        shipped.push_back({std::string(event.source), std::string(event.path),
                           std::string(event.text), std::string(event.rule)});
      }
    };
    auto created = medic::agent::loop::LogPipeline::create(m_loop, config, m_clock, output);
    REQUIRE(created);
    pipeline = std::move(*created);
    REQUIRE(pipeline->restore(saved));
    REQUIRE(pipeline->start());
  }
  KernelPipeline(const KernelPipeline&) = delete;
  KernelPipeline& operator=(const KernelPipeline&) = delete;
  ~KernelPipeline() {
    pipeline->stop();
    uv_run(&m_loop, UV_RUN_NOWAIT);
    pipeline.reset();
    medic::uv::close_loop(m_loop);
  }

  template <class Done>
  bool run_until(Done done, std::chrono::milliseconds timeout = 5s) {
    return medic::test::kmsg::run_loop_until(m_loop, done, timeout);
  }

  std::unique_ptr<medic::agent::loop::LogPipeline> pipeline;
  std::vector<Fired> fired;
  std::vector<Shipped> shipped;

private:
  uv_loop_t m_loop{};
  medic::SystemClock m_clock;
};

} // namespace

TEST_CASE("a kernel log line fires a rule scoped to the kernel source and ships as an event",
          "[kmsg][logs]") {
  const std::string tag = medic::test::kmsg::unique_tag("medic-kernel-log-test");
  std::vector<medic::agent::tail::TailCursor> saved;
  {
    KernelPipeline kernel(tag, {});
    medic::test::kmsg::write_line(tag + " test-kill:constraint=NONE,task=app,pid=42");
    REQUIRE(kernel.run_until([&] { return !kernel.fired.empty() && !kernel.shipped.empty(); }));
    CHECK(kernel.fired[0].source == "kernel");
    CHECK(kernel.fired[0].message == tag + " test-kill:constraint=NONE,task=app,pid=42");
    CHECK(kernel.shipped[0].source == "kernel");
    CHECK(kernel.shipped[0].path == "/dev/kmsg");
    CHECK(kernel.shipped[0].rule == "kernel-test");
    auto cursors = kernel.pipeline->cursors_if_moved();
    REQUIRE(cursors);
    REQUIRE(cursors->size() == 1);
    CHECK(cursors->front().path == "/dev/kmsg");
    CHECK(cursors->front().offset > 0); // the next sequence number
    saved = *cursors;
    CHECK(kernel.pipeline->cursors_if_moved()); // not saved yet: handed out again
    kernel.pipeline->cursors_saved();
    CHECK_FALSE(kernel.pipeline->cursors_if_moved()); // unchanged since saved
  }
  medic::test::kmsg::write_line(tag + " test-kill:task=second"); // while "the agent" is stopped
  KernelPipeline restarted(tag, saved);
  REQUIRE(restarted.run_until([&] { return !restarted.shipped.empty(); }));
  restarted.run_until([] { return false; }, 100ms);
  REQUIRE(restarted.shipped.size() == 1); // the first line is not read again
  CHECK(restarted.shipped[0].text == tag + " test-kill:task=second");
}
