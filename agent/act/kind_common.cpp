// SPDX-License-Identifier: Apache-2.0
#include "agent/act/kind_common.hpp"

#include <unistd.h>

#include <exception>
#include <utility>

#include "agent/act/kind_clean.hpp"
#include "agent/act/kind_exec.hpp"
#include "agent/act/kind_http.hpp"
#include "agent/act/kind_rollback.hpp"
#include "agent/act/kind_signal.hpp"

namespace medic::agent::act {

Prepared::Prepared(Prepared&& other) noexcept
    : next(other.next),
      status(other.status),
      plan(std::move(other.plan)),
      reason(std::move(other.reason)),
      output(std::move(other.output)),
      output_dropped(other.output_dropped),
      spawn(std::move(other.spawn)),
      targets(std::exchange(other.targets, {})),
      signal(other.signal),
      http(std::move(other.http)) {}

Prepared& Prepared::operator=(Prepared&& other) noexcept {
  if (this != &other) {
    close_targets();
    next = other.next;
    status = other.status;
    plan = std::move(other.plan);
    reason = std::move(other.reason);
    output = std::move(other.output);
    output_dropped = other.output_dropped;
    spawn = std::move(other.spawn);
    targets = std::exchange(other.targets, {});
    signal = other.signal;
    http = std::move(other.http);
  }
  return *this;
}

Prepared::~Prepared() {
  close_targets();
}

Prepared Prepared::finished(RunStatus status, std::string plan, std::string reason) {
  Prepared prepared;
  prepared.status = status;
  prepared.plan = std::move(plan);
  prepared.reason = std::move(reason);
  return prepared;
}

void Prepared::close_targets() noexcept {
  for (SignalTarget& target : targets) {
    if (target.pidfd >= 0) {
      ::close(target.pidfd);
      target.pidfd = -1;
    }
  }
  targets.clear();
}

void append_bounded(std::string& output, std::uint64_t& dropped, std::string_view text,
                    std::size_t max_output) {
  const std::size_t room = output.size() < max_output ? max_output - output.size() : 0;
  const std::size_t kept = std::min(room, text.size());
  output.append(text.substr(0, kept));
  dropped += text.size() - kept;
}

namespace {

Prepared prepare_kind(const Action& action, const BoundParams& params, const PrepareContext& ctx) {
  struct Visitor {
    const BoundParams& params;
    const PrepareContext& ctx;
    Prepared operator()(const ExecSpec& spec) const { return prepare_exec(spec, params, ctx); }
    Prepared operator()(const ServiceSpec& spec) const {
      return prepare_service(spec, params, ctx);
    }
    Prepared operator()(const SignalSpec& spec) const { return prepare_signal(spec, params, ctx); }
    Prepared operator()(const CleanSpec& spec) const { return run_clean(spec, params, ctx); }
    Prepared operator()(const HttpSpec& spec) const { return prepare_http(spec, params); }
    Prepared operator()(const RollbackSpec& spec) const { return run_rollback(spec, params, ctx); }
  };
  return std::visit(Visitor{params, ctx}, action.spec);
}

} // namespace

Prepared prepare_run(const Action& action, const BoundParams& params,
                     const PrepareContext& ctx) noexcept {
  try {
    Prepared prepared = prepare_kind(action, params, ctx);
    if (ctx.dry_run && prepared.next != NextStep::done) {
      prepared.close_targets();
      prepared.next = NextStep::done;
      prepared.status = RunStatus::dry_run;
    }
    return prepared;
  } catch (const std::exception& e) {
    return Prepared::finished(RunStatus::failed, {},
                              std::string("preparing the action failed: ") + e.what());
  } catch (...) {
    return Prepared::finished(RunStatus::failed, {}, "preparing the action failed");
  }
}

} // namespace medic::agent::act
