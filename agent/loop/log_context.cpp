// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/log_context.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <exception>

#include <spdlog/spdlog.h>

namespace medic::agent::loop {

namespace {

// Room past the byte bound for one more formatted line (every byte escaped, the offset and the
// cut note), so that appending a line and taking it back never reallocates.
constexpr std::size_t k_line_slack = LineRing::k_max_line_bytes * 4 + 96;
constexpr std::string_view k_continuation = "\n      ";

// The length of the valid UTF-8 sequence at text[at] (no overlong forms, no surrogates), or 0.
std::size_t utf8_length(std::string_view text, std::size_t at) noexcept {
  const auto lead = static_cast<unsigned char>(text[at]);
  if (lead < 0x80) {
    return 1;
  }
  std::size_t length = 0;
  std::uint32_t point = 0;
  std::uint32_t least = 0;
  if ((lead & 0xE0U) == 0xC0U) {
    length = 2, point = lead & 0x1FU, least = 0x80;
  } else if ((lead & 0xF0U) == 0xE0U) {
    length = 3, point = lead & 0x0FU, least = 0x800;
  } else if ((lead & 0xF8U) == 0xF0U) {
    length = 4, point = lead & 0x07U, least = 0x10000;
  } else {
    return 0;
  }
  if (text.size() - at < length) {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    const auto next = static_cast<unsigned char>(text[at + i]);
    if ((next & 0xC0U) != 0x80U) {
      return 0;
    }
    point = (point << 6U) | (next & 0x3FU);
  }
  const bool surrogate = point >= 0xD800 && point <= 0xDFFF;
  return point < least || point > 0x10FFFF || surrogate ? 0 : length;
}

void append_escaped(std::string& out, unsigned char byte) {
  constexpr std::string_view k_hex = "0123456789ABCDEF";
  out += "\\x";
  out += k_hex[byte >> 4U];
  out += k_hex[byte & 0x0FU];
}

// `text` with every byte safe to show (see append_context_line).
void append_safe(std::string& out, std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const auto byte = static_cast<unsigned char>(text[at]);
    if (byte == '\n') {
      out += k_continuation;
      ++at;
      continue;
    }
    const std::size_t length = utf8_length(text, at);
    if (length == 0 || (byte < 0x20 && byte != '\t') || byte == 0x7F) {
      append_escaped(out, byte);
      ++at;
      continue;
    }
    out.append(text.data() + at, length);
    at += length;
  }
}

void append_number(std::string& out, std::uint64_t value) {
  std::array<char, 24> digits{};
  const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
  out.append(digits.data(), end);
}

// As much of `text` as keeps `out` within `max` bytes, cut at a UTF-8 character boundary.
void append_bounded(std::string& out, std::string_view text, std::size_t max) {
  std::size_t room = max > out.size() ? max - out.size() : 0;
  if (text.size() > room) {
    while (room > 0 && (static_cast<unsigned char>(text[room]) & 0xC0U) == 0x80U) {
      --room;
    }
    text = text.substr(0, room);
  }
  out += text;
}

LineRing::Line line_of(const tail::TailRecord& record) noexcept {
  return {record.text.substr(0, LineRing::k_max_line_bytes), record.offset, record.text.size(),
          record.path.data()};
}

} // namespace

LineRing::LineRing(std::size_t lines)
    : m_bytes(std::max<std::size_t>(lines, 1) * k_max_line_bytes),
      m_meta(std::max<std::size_t>(lines, 1)) {}

void LineRing::push(std::string_view text, std::uint64_t offset, const void* file) noexcept {
  const std::size_t stored = std::min(text.size(), k_max_line_bytes);
  std::copy_n(text.data(), stored, m_bytes.data() + m_next * k_max_line_bytes);
  m_meta[m_next] = {offset, text.size(), file, static_cast<std::uint32_t>(stored)};
  m_next = m_next + 1 == m_meta.size() ? 0 : m_next + 1;
  m_count = std::min(m_count + 1, m_meta.size());
}

LineRing::Line LineRing::at(std::size_t age) const noexcept {
  const std::size_t slot = (m_next + m_meta.size() - 1 - age % m_meta.size()) % m_meta.size();
  const Meta& meta = m_meta[slot];
  return {std::string_view(m_bytes.data() + slot * k_max_line_bytes, meta.stored), meta.offset,
          meta.size, meta.file};
}

void append_context_line(std::string& out, const LineRing::Line& line, char marker) {
  out += marker;
  out += ' ';
  append_number(out, line.offset);
  out += ": ";
  append_safe(out, line.text);
  if (line.size > line.text.size()) {
    out += " [... ";
    append_number(out, line.size - line.text.size());
    out += " more bytes]";
  }
  out += '\n';
}

LogContext::LogContext(const std::vector<tail::TailSource>& sources,
                       const std::vector<config::LogContextConfig>& settings, Emit emit)
    : m_emit(std::move(emit)) {
  m_sources.reserve(sources.size());
  for (const auto& source : sources) {
    config::LogContextConfig wanted;
    const auto given = std::find_if(settings.begin(), settings.end(),
                                    [&](const auto& s) { return s.source == source.name; });
    if (given != settings.end()) {
      wanted = *given;
    }
    if (wanted.before + wanted.after > 0) {
      m_sources.push_back({source.name, wanted.before, wanted.after, LineRing(wanted.before + 1)});
    }
  }
}

LogContext::Source* LogContext::find(std::string_view name) noexcept {
  if (name.data() == m_last_name) {
    return m_last; // also a remembered miss: a source without context costs one comparison
  }
  m_last_name = name.data();
  const auto found = std::find_if(m_sources.begin(), m_sources.end(),
                                  [&](const Source& source) { return source.name == name; });
  m_last = found == m_sources.end() ? nullptr : &*found;
  return m_last;
}

void LogContext::on_line(const tail::TailRecord& record) noexcept {
  Source* source = find(record.source_name);
  if (source == nullptr) {
    return;
  }
  if (!m_open.empty()) {
    feed_open(static_cast<std::size_t>(source - m_sources.data()), record);
  }
  source->ring.push(record.text, record.offset, record.path.data());
}

void LogContext::on_fire(const tail::TailRecord* record, std::string_view source_name,
                         std::string_view fingerprint, std::string_view rule,
                         std::int64_t now_unix_ms, std::int64_t now_mono_ms) noexcept {
  Source* source = find(record != nullptr ? record->source_name : source_name);
  if (source == nullptr) {
    return;
  }
  try {
    keep(record, *source, fingerprint, rule, now_unix_ms, now_mono_ms);
  } catch (const std::exception& error) {
    spdlog::warn("log context for {} lost: {}", rule, error.what());
  }
}

void LogContext::keep(const tail::TailRecord* record, Source& source, std::string_view fingerprint,
                      std::string_view rule, std::int64_t now_unix_ms, std::int64_t now_mono_ms) {
  Open open;
  open.source = static_cast<std::size_t>(&source - m_sources.data());
  open.file = record != nullptr ? record->path.data() : nullptr;
  open.after_left = record != nullptr ? source.after : 0;
  open.deadline_ms = now_mono_ms + k_after_wait_ms;
  open.evidence = {std::string(fingerprint),
                   std::string(rule),
                   std::string(k_action),
                   now_unix_ms,
                   protocol::ResultStatus::succeeded,
                   {}};
  std::string& out = open.evidence.output;
  out.reserve(k_max_evidence_bytes + k_line_slack);
  out += "source '";
  append_safe(out, source.name);
  out += "'";
  if (record != nullptr) {
    out += ", file ";
    append_safe(out, record->path.substr(0, 256));
  }
  out += " (byte offsets; '>' marks the line that fired)\n";
  std::string fired;
  if (record != nullptr) {
    append_context_line(fired, line_of(*record), '>');
  }
  // The lines after get their share of the bound; the nearest lines before go first.
  const std::size_t after_share =
      k_max_evidence_bytes * source.after / (source.before + source.after + 1);
  const std::size_t fixed = out.size() + fired.size() + after_share;
  out += before_lines(source, open.file, record != nullptr ? 1 : 0,
                      fixed < k_max_evidence_bytes ? k_max_evidence_bytes - fixed : 0);
  append_bounded(out, fired, k_max_evidence_bytes);
  if (open.after_left == 0) {
    send(open);
    return;
  }
  if (m_open.size() >= k_max_open) {
    send(m_open.front()); // the oldest goes without the rest of its lines
    m_open.pop_front();
  }
  m_open.push_back(std::move(open));
}

// Up to source.before lines of `file` (any file: null) older than the newest `skip`, oldest
// first, as many of the nearest as fit in `budget` bytes.
std::string LogContext::before_lines(const Source& source, const void* file, std::size_t skip,
                                     std::size_t budget) {
  std::vector<std::string> lines;
  const LineRing& ring = source.ring;
  for (std::size_t age = skip; age < ring.size() && lines.size() < source.before; ++age) {
    const LineRing::Line line = ring.at(age);
    if (file != nullptr && line.file != file) {
      continue; // another file of the same source
    }
    std::string text;
    append_context_line(text, line, ' ');
    if (text.size() > budget) {
      break;
    }
    budget -= text.size();
    lines.push_back(std::move(text));
  }
  std::string out;
  std::for_each(lines.rbegin(), lines.rend(), [&](const std::string& text) { out += text; });
  return out;
}

void LogContext::feed_open(std::size_t source, const tail::TailRecord& record) noexcept {
  bool done = false;
  for (Open& open : m_open) {
    if (open.source != source || open.file != record.path.data() || open.after_left == 0) {
      continue;
    }
    std::string& out = open.evidence.output;
    const std::size_t before = out.size();
    if (!open.full) {
      append_context_line(out, line_of(record), ' '); // within the reserved capacity
      if (out.size() > k_max_evidence_bytes) {
        out.resize(before);
        open.full = true;
      }
    }
    if (--open.after_left == 0 || open.full) {
      open.after_left = 0;
      done = true;
    }
  }
  if (done) {
    for (Open& open : m_open) {
      if (open.after_left == 0) {
        send(open);
      }
    }
    std::erase_if(m_open, [](const Open& open) { return open.after_left == 0; });
  }
}

void LogContext::tick(std::int64_t now_mono_ms) noexcept {
  while (!m_open.empty() && m_open.front().deadline_ms <= now_mono_ms) {
    send(m_open.front());
    m_open.pop_front();
  }
}

void LogContext::flush() noexcept {
  for (Open& open : m_open) {
    send(open);
  }
  m_open.clear();
}

void LogContext::send(Open& open) noexcept {
  open.after_left = 0;
  try {
    m_emit(std::move(open.evidence));
  } catch (const std::exception& error) {
    spdlog::warn("log context for {} not sent: {}", open.evidence.rule, error.what());
  }
}

} // namespace medic::agent::loop
