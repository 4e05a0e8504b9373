// SPDX-License-Identifier: Apache-2.0
#include <cmath>

#include "protocol/decode_fields.hpp"

namespace medic::protocol::detail {

Error at(std::string_view path, Error error) {
  return std::move(error).context(path);
}

bool is_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xc2 && b <= 0xdf) {
      extra = 1;
      code = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      extra = 2;
      code = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      extra = 3;
      code = b & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) {
      return false;
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xc0) != 0x80) {
        return false;
      }
      code = (code << 6) | (c & 0x3f);
    }
    if ((extra == 2 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) ||
        (extra == 3 && (code < 0x10000 || code > 0x10ffff))) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

Result<std::string_view> read_name(MsgpackReader& reader, std::size_t max_bytes) {
  auto text = reader.read_string(max_bytes);
  if (!text) {
    return text;
  }
  if (text->empty()) {
    return fail(ErrorCode::protocol, "must not be empty");
  }
  if (std::any_of(text->begin(), text->end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return fail(ErrorCode::protocol, "contains control characters");
  }
  if (!is_utf8(*text)) {
    return fail(ErrorCode::protocol, "is not valid UTF-8");
  }
  return text;
}

Result<bool> name_into(MsgpackReader& reader, std::string& target, std::size_t max_bytes) {
  auto text = read_name(reader, max_bytes);
  if (!text) {
    return fail(std::move(text).error());
  }
  target = *text;
  return true;
}

Result<bool> text_into(MsgpackReader& reader, std::string& target, std::size_t max_bytes) {
  auto text = reader.read_string(max_bytes);
  if (!text) {
    return fail(std::move(text).error());
  }
  target = *text;
  return true;
}

Result<bool> int_into(MsgpackReader& reader, std::int64_t& target) {
  auto value = reader.read_int();
  if (!value) {
    return fail(std::move(value).error());
  }
  target = *value;
  return true;
}

Result<bool> pairs_into(MsgpackReader& reader, std::vector<Label>& target, std::size_t max_pairs,
                        std::size_t max_value_bytes) {
  auto count = reader.read_map(max_pairs);
  if (!count) {
    return fail(std::move(count).error());
  }
  target.clear();
  target.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto name = read_name(reader, Limits::k_max_name_bytes);
    if (!name) {
      return fail(at("name", std::move(name).error()));
    }
    auto value = reader.read_string(max_value_bytes);
    if (!value) {
      return fail(at("'" + std::string(*name) + "'", std::move(value).error()));
    }
    target.push_back({std::string(*name), std::string(*value)});
  }
  return true;
}

Result<bool> strings_into(MsgpackReader& reader, std::vector<std::string>& target,
                          std::size_t max_items) {
  auto count = reader.read_array(max_items);
  if (!count) {
    return fail(std::move(count).error());
  }
  target.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto text = read_name(reader, Limits::k_max_label_value_bytes);
    if (!text) {
      return fail(at("[" + std::to_string(i) + "]", std::move(text).error()));
    }
    target.emplace_back(*text);
  }
  return true;
}

Result<bool> optional_int_into(MsgpackReader& reader, std::optional<std::int64_t>& target) {
  std::int64_t value = 0;
  auto read = int_into(reader, value);
  if (read) {
    target = value;
  }
  return read;
}

Result<bool> labels_into(MsgpackReader& reader, std::vector<Label>& target) {
  return pairs_into(reader, target, Limits::k_max_labels, Limits::k_max_label_value_bytes);
}

Result<bool> number_into(MsgpackReader& reader, double& target) {
  auto value = reader.read_number();
  if (!value) {
    return fail(std::move(value).error());
  }
  if (!std::isfinite(*value)) {
    return fail(ErrorCode::protocol, "must be a finite number");
  }
  target = *value;
  return true;
}

} // namespace medic::protocol::detail
