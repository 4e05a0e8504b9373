// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/kmsg_record.hpp"

#include <charconv>
#include <string>

namespace medic::agent::tail {

namespace {

// The next comma-separated field of the prefix as a number; false when it is missing or not
// a plain decimal number.
bool take_number(std::string_view& prefix, std::uint64_t& value) noexcept {
  const std::size_t comma = prefix.find(',');
  const std::string_view field = prefix.substr(0, comma);
  prefix = comma == std::string_view::npos ? std::string_view{} : prefix.substr(comma + 1);
  if (field.empty()) {
    return false;
  }
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
  return error == std::errc{} && end == field.data() + field.size();
}

Error bad(std::string_view what) {
  return {ErrorCode::invalid_argument, "kernel log record: " + std::string(what)};
}

} // namespace

Result<KmsgRecord> parse_kmsg_record(std::string_view bytes) {
  const std::size_t semicolon = bytes.find(';');
  const std::size_t newline = bytes.find('\n');
  if (semicolon == std::string_view::npos || semicolon > newline) {
    return fail(bad("no ';' after the prefix in its first line"));
  }
  std::string_view prefix = bytes.substr(0, semicolon);
  KmsgRecord record;
  std::uint64_t priority = 0;
  if (!take_number(prefix, priority)) {
    return fail(bad("the priority (first field) is not a number"));
  }
  // The facility fits in the kernel's 8 bits of it; anything larger is not a kernel record.
  if (priority > 0xffff) {
    return fail(bad("the priority " + std::to_string(priority) + " is out of range"));
  }
  record.level = static_cast<std::uint8_t>(priority & 7U);
  record.facility = static_cast<std::uint32_t>(priority >> 3U);
  if (!take_number(prefix, record.seq)) {
    return fail(bad("the sequence number (second field) is not a number"));
  }
  if (!take_number(prefix, record.usec)) {
    return fail(bad("the timestamp (third field) is not a number"));
  }
  // The flags ('-', 'c', '+') and any fields a later kernel adds are not needed.
  const std::size_t end = newline == std::string_view::npos ? bytes.size() : newline;
  record.message = bytes.substr(semicolon + 1, end - semicolon - 1);
  return record;
}

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

} // namespace

std::size_t unescape_kmsg(std::string_view message, std::span<char> out) noexcept {
  std::size_t size = 0;
  for (std::size_t i = 0; i < message.size() && size < out.size(); ++i) {
    if (message[i] == '\\' && i + 3 < message.size() && message[i + 1] == 'x') {
      const int high = hex_value(message[i + 2]);
      const int low = hex_value(message[i + 3]);
      if (high >= 0 && low >= 0) {
        out[size++] = static_cast<char>((high << 4) | low);
        i += 3;
        continue;
      }
    }
    out[size++] = message[i];
  }
  return size;
}

KmsgAdmission admit_kmsg(std::uint64_t& next_seq, std::uint64_t seq) noexcept {
  if (seq < next_seq) {
    return {false, 0};
  }
  const std::uint64_t lost = seq - next_seq;
  next_seq = seq + 1;
  return {true, lost};
}

std::uint64_t kmsg_boot_identity(std::string_view boot_id_text) noexcept {
  const std::string_view line = boot_id_text.substr(0, boot_id_text.find('\n'));
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : line) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash == 0 ? 1 : hash;
}

} // namespace medic::agent::tail
