// SPDX-License-Identifier: Apache-2.0
// Whether a page of this process is mapped: /proc/self/pagemap's present bit.
#pragma once

namespace medic::test {

// Whether the page holding `at` is mapped in this process (present in memory). Throws
// std::runtime_error when /proc/self/pagemap cannot be read.
[[nodiscard]] bool page_mapped(const void* at);

} // namespace medic::test
