// SPDX-License-Identifier: Apache-2.0
// Field readers shared by the decoders (decode.cpp, decode_batch.cpp): each checks type, limits
// and, for names, UTF-8 and control bytes, and reports a failure with the field's path.
// Internal to protocol/; nothing outside it includes this.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/message.hpp"
#include "protocol/msgpack_reader.hpp"
#include "shared/error.hpp"

namespace medic::protocol::detail {

[[nodiscard]] Error at(std::string_view path, Error error);
// Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
[[nodiscard]] bool is_utf8(std::string_view text) noexcept;
// Names, ids and label parts: non-empty, no control bytes, valid UTF-8.
[[nodiscard]] Result<std::string_view> read_name(MsgpackReader& reader, std::size_t max_bytes);

// Field readers: store into `target`, report success as Result<bool>(true) so they can be
// returned straight from a body's key handler.
[[nodiscard]] Result<bool> name_into(MsgpackReader& reader, std::string& target,
                                     std::size_t max_bytes);
[[nodiscard]] Result<bool> text_into(MsgpackReader& reader, std::string& target,
                                     std::size_t max_bytes);
[[nodiscard]] Result<bool> int_into(MsgpackReader& reader, std::int64_t& target);
[[nodiscard]] Result<bool> number_into(MsgpackReader& reader, double& target);
[[nodiscard]] Result<bool> pairs_into(MsgpackReader& reader, std::vector<Label>& target,
                                      std::size_t max_pairs, std::size_t max_value_bytes);
[[nodiscard]] Result<bool> strings_into(MsgpackReader& reader, std::vector<std::string>& target,
                                        std::size_t max_items);
[[nodiscard]] Result<bool> optional_int_into(MsgpackReader& reader,
                                             std::optional<std::int64_t>& target);
[[nodiscard]] Result<bool> labels_into(MsgpackReader& reader, std::vector<Label>& target);

template <class Unsigned>
Result<bool> uint_into(MsgpackReader& reader, Unsigned& target) {
  auto value = reader.read_uint();
  if (!value) {
    return fail(std::move(value).error());
  }
  if (*value > std::numeric_limits<Unsigned>::max()) {
    return fail(ErrorCode::protocol, std::to_string(*value) + " is out of range");
  }
  target = static_cast<Unsigned>(*value);
  return true;
}

// Walks a body map. `on_key(key)` returns true for a key it consumed, false to have it skipped
// (unknown keys are ignored, for forward compatibility). Duplicate keys are refused, and every
// key in `required` must appear.
template <std::size_t N, class OnKey>
[[nodiscard]] Result<void> read_body(MsgpackReader& reader, std::string_view type,
                                     const std::array<std::string_view, N>& required,
                                     OnKey&& on_key) {
  const std::string where(type);
  auto pairs = reader.read_map(Limits::k_max_body_keys);
  if (!pairs) {
    return fail(at(where + " body", std::move(pairs).error()));
  }
  std::array<std::string_view, Limits::k_max_body_keys> seen{};
  std::size_t seen_count = 0;
  for (std::uint32_t i = 0; i < *pairs; ++i) {
    auto key = reader.read_string(Limits::k_max_name_bytes);
    if (!key) {
      return fail(at(where + " body key", std::move(key).error()));
    }
    const auto seen_end = seen.begin() + static_cast<std::ptrdiff_t>(seen_count);
    if (std::find(seen.begin(), seen_end, *key) != seen_end) {
      return fail(ErrorCode::protocol, where + "." + std::string(*key) + ": duplicate key");
    }
    seen[seen_count++] = *key;
    auto consumed = on_key(*key);
    if (consumed && !*consumed) {
      consumed = reader.skip(Limits::k_max_skip_depth).map([] { return true; });
    }
    if (!consumed) {
      return fail(at(where + "." + std::string(*key), std::move(consumed).error()));
    }
  }
  for (const auto key : required) {
    const auto seen_end = seen.begin() + static_cast<std::ptrdiff_t>(seen_count);
    if (std::find(seen.begin(), seen_end, key) == seen_end) {
      return fail(ErrorCode::protocol, where + "." + std::string(key) + ": missing");
    }
  }
  return {};
}

// Action outcomes (decode_result.cpp): a RESULT body or one entry of BATCH `results`, and the
// entries of BATCH `budgets` and `evidence`.
[[nodiscard]] Result<void> read_result(MsgpackReader& reader, std::string_view where,
                                       CommandResult& result);
[[nodiscard]] Result<bool> result_into(MsgpackReader& reader, CommandResult& result);
[[nodiscard]] Result<bool> budget_into(MsgpackReader& reader, BudgetReport& budget);
[[nodiscard]] Result<bool> evidence_into(MsgpackReader& reader, Evidence& evidence);

// The BATCH body (decode_batch.cpp), into `batch`: on success every field is as in a fresh
// Batch decoded from the same bytes; a reused batch keeps only its buffers' capacity.
[[nodiscard]] Result<void> read_batch_body(MsgpackReader& reader, Batch& batch);

// The POLICY body (decode_policy.cpp).
[[nodiscard]] Result<Body> read_policy_body(MsgpackReader& reader);

} // namespace medic::protocol::detail
