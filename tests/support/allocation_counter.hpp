// SPDX-License-Identifier: Apache-2.0
// Counts heap allocations (every form of operator new) made on the calling thread, for tests
// that prove a hot path allocates nothing. allocation_counter.cpp replaces the global operator
// new and delete of the test program that links it; there must be no other replacement.
#pragma once

#include <cstddef>

namespace medic::test {

// Counting is on while an AllocationCount is alive (one at a time per thread).
class AllocationCount {
public:
  AllocationCount() noexcept;
  AllocationCount(const AllocationCount&) = delete;
  AllocationCount& operator=(const AllocationCount&) = delete;
  ~AllocationCount();
  [[nodiscard]] std::size_t count() const noexcept;
};

// False when the replacement is not in effect (a sanitizer's allocator takes precedence):
// then counts mean nothing and tests should skip, saying so.
[[nodiscard]] bool allocation_counting_works();

template <class Work>
std::size_t allocations_in(Work&& work) {
  const AllocationCount count;
  work();
  return count.count();
}

} // namespace medic::test
