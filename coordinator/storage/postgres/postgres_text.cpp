// SPDX-License-Identifier: Apache-2.0
#include "coordinator/storage/postgres/postgres_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "coordinator/storage/labels_json.hpp"
#include "coordinator/storage/postgres/postgres_store.hpp"

namespace medic::coordinator::storage::pg {

namespace {

constexpr std::string_view k_replacement = "\xEF\xBF\xBD"; // U+FFFD

// Length of the well-formed UTF-8 sequence at the start of `rest` (no overlong forms, no
// surrogates, at most U+10FFFF), 0 when it is not one or is a NUL byte.
std::size_t sequence_length(std::string_view rest) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(rest[i]); };
  const unsigned char lead = byte(0);
  if (lead == 0) {
    return 0;
  }
  if (lead < 0x80) {
    return 1;
  }
  std::size_t length = 0;
  unsigned char low = 0x80; // the second byte's range, narrowed for some leads
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    low = lead == 0xE0 ? 0xA0 : 0x80;
    high = lead == 0xED ? 0x9F : 0xBF;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    low = lead == 0xF0 ? 0x90 : 0x80;
    high = lead == 0xF4 ? 0x8F : 0xBF;
  }
  if (length == 0 || length > rest.size() || byte(1) < low || byte(1) > high) {
    return 0;
  }
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) {
      return 0;
    }
  }
  return length;
}

bool storable(std::string_view text) {
  while (!text.empty()) {
    const std::size_t length = sequence_length(text);
    if (length == 0) {
      return false;
    }
    text.remove_prefix(length);
  }
  return true;
}

} // namespace

std::string text(std::string_view text) {
  if (storable(text)) {
    return std::string(text);
  }
  std::string clean;
  clean.reserve(text.size() + 8);
  while (!text.empty()) {
    const std::size_t length = sequence_length(text);
    if (length == 0) {
      clean += k_replacement;
      text.remove_prefix(1);
    } else {
      clean += text.substr(0, length);
      text.remove_prefix(length);
    }
  }
  return clean;
}

std::string labels_json(std::span<const protocol::Label> labels) {
  const auto has_nul = [](const protocol::Label& label) {
    return label.name.find('\0') != std::string::npos ||
           label.value.find('\0') != std::string::npos;
  };
  if (std::none_of(labels.begin(), labels.end(), has_nul)) {
    return labels_to_json(labels);
  }
  std::vector<protocol::Label> clean(labels.begin(), labels.end());
  for (auto& label : clean) {
    label.name = text(label.name);
    label.value = text(label.value);
  }
  return labels_to_json(clean);
}

void append_array_text(std::string& out, std::string_view element) {
  if (out.size() > 1) {
    out += ',';
  }
  out += '"';
  for (const char c : element) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
}

void append_array_double(std::string& out, double element) {
  if (out.size() > 1) {
    out += ',';
  }
  if (std::isinf(element)) {
    out += element > 0 ? "Infinity" : "-Infinity";
    return;
  }
  if (std::isnan(element)) { // to_chars may write "-nan", which float8 does not read
    out += "NaN";
    return;
  }
  char buffer[32];
  const auto written = std::to_chars(buffer, buffer + sizeof buffer, element);
  out.append(buffer, written.ptr);
}

void append_array_int(std::string& out, std::int64_t element) {
  if (out.size() > 1) {
    out += ',';
  }
  char buffer[24];
  const auto written = std::to_chars(buffer, buffer + sizeof buffer, element);
  out.append(buffer, written.ptr);
}

void append_array_null(std::string& out) {
  if (out.size() > 1) {
    out += ',';
  }
  out += "NULL";
}

void append_array_bytea(std::string& out, std::string_view bytes) {
  static constexpr char k_hex[] = "0123456789abcdef";
  if (out.size() > 1) {
    out += ',';
  }
  out += "\"\\\\x"; // the element is \x...: its backslash escaped inside the quotes
  const std::size_t at = out.size();
  out.resize(at + 2 * bytes.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    out[at + 2 * i] = k_hex[byte >> 4];
    out[at + 2 * i + 1] = k_hex[byte & 0x0F];
  }
  out += '"';
}

std::string message_of(const std::exception& error) {
  std::string_view what = error.what();
  if (what.starts_with("ERROR:")) {
    what.remove_prefix(6);
  }
  std::string line;
  bool blank = true; // collapse runs of whitespace (libpq's messages span lines and tabs)
  for (const char c : what) {
    if (c == '\n' || c == '\t' || c == ' ' || c == '\r') {
      if (!blank) {
        line += ' ';
      }
      blank = true;
    } else {
      line += c;
      blank = false;
    }
  }
  while (!line.empty() && line.back() == ' ') {
    line.pop_back();
  }
  return line.empty() ? "unknown database error" : line;
}

} // namespace medic::coordinator::storage::pg

namespace medic::coordinator::storage {

std::string redact_postgres_url(std::string_view url) {
  std::string redacted(url);
  // scheme://user:password@host/...: the password runs from the first ':' of the authority to
  // its last '@'.
  if (const auto authority = redacted.find("//"); authority != std::string::npos) {
    const auto end = std::min(redacted.find_first_of("/?", authority + 2), redacted.size());
    const auto at = redacted.rfind('@', end);
    const auto colon = redacted.find(':', authority + 2);
    if (at != std::string::npos && at > authority && colon < at) {
      redacted.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // A password may also come as a parameter: ?password=...&...
  if (const auto param = redacted.find("password="); param != std::string::npos) {
    const auto value = param + 9;
    const auto end = redacted.find('&', value);
    redacted.replace(value, end == std::string::npos ? std::string::npos : end - value, "***");
  }
  return redacted;
}

} // namespace medic::coordinator::storage
