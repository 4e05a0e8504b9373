// SPDX-License-Identifier: Apache-2.0
#include "tests/support/page_map.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace medic::test {

bool page_mapped(const void* at) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const int pagemap = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0) {
    throw std::runtime_error(std::string("open /proc/self/pagemap: ") + std::strerror(errno));
  }
  std::uint64_t entry = 0;
  const auto offset =
      static_cast<off_t>(reinterpret_cast<std::uintptr_t>(at) / page * sizeof(entry));
  const ssize_t got = ::pread(pagemap, &entry, sizeof(entry), offset);
  ::close(pagemap);
  if (got != static_cast<ssize_t>(sizeof(entry))) {
    throw std::runtime_error("read /proc/self/pagemap: short read");
  }
  return (entry >> 63) != 0;
}

} // namespace medic::test
