// SPDX-License-Identifier: Apache-2.0
// Small pure helpers of the Correlator: what a signal says about its incident (service, layer,
// labels) and the words of the audit sentences.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/correlate/correlator.hpp"

namespace medic::coordinator::correlate::text {

// The value of label `name`, nullptr when absent.
[[nodiscard]] const std::string* label(const std::vector<protocol::Label>& labels,
                                       std::string_view name) noexcept;
// The signal's fingerprint, or its rule when the agent sent none.
[[nodiscard]] const std::string& fingerprint(const protocol::Signal& signal) noexcept;
// The signal's `service` label, else the agent's, else "".
[[nodiscard]] std::string service(const SignalInput& input);
// A `layer` label (signal's, then agent's: resource, dependency or service) overrides the
// category's: resource/network -> resource, database/integration -> dependency, others ->
// service. An unknown layer word is ignored.
[[nodiscard]] Layer layer(const SignalInput& input) noexcept;
// The signal's labels, then the agent's whose name is not already there.
[[nodiscard]] std::vector<protocol::Label> merged_labels(const SignalInput& input);
// `a` is worse than `b` (critical is the worst).
[[nodiscard]] bool worse(protocol::Severity a, protocol::Severity b) noexcept;
// "2m", "90s", "1h", "1500ms": for sentences.
[[nodiscard]] std::string duration(std::int64_t ms);

} // namespace medic::coordinator::correlate::text
