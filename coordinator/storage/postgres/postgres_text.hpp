// SPDX-License-Identifier: Apache-2.0
// Text as PostgreSQL accepts it: a UTF8 database refuses NUL bytes and invalid UTF-8 in any text
// value, where SQLite stores any bytes. Free text from agents (log lines, messages, output) is
// not validated by the protocol, so it is made storable here rather than failing the whole
// batch forever. Also array literals for unnest() parameters and error messages. Any thread.
#pragma once

#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <string_view>

#include "protocol/message.hpp"

namespace medic::coordinator::storage::pg {

// `text` unchanged when it is valid UTF-8 without NUL; otherwise each NUL byte and each byte of
// an invalid sequence becomes U+FFFD.
[[nodiscard]] std::string text(std::string_view text);

// labels_to_json() of labels whose NUL bytes became U+FFFD (JSONB refuses "\u0000").
[[nodiscard]] std::string labels_json(std::span<const protocol::Label> labels);

// Appends one element to an array literal being built in `out` ("{" ... "}"): quoted and
// escaped text, or a number. The caller opens with '{' and closes with '}'.
void append_array_text(std::string& out, std::string_view element);
void append_array_double(std::string& out, double element);
void append_array_int(std::string& out, std::int64_t element);
// A NULL element; and a bytea element (hex form, "\\x..." inside the literal).
void append_array_null(std::string& out);
void append_array_bytea(std::string& out, std::string_view bytes);

// A libpqxx/libpq exception's text on one line, without libpq's "ERROR:  " prefix.
[[nodiscard]] std::string message_of(const std::exception& error);

} // namespace medic::coordinator::storage::pg
