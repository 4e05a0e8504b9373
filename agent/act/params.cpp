// SPDX-License-Identifier: Apache-2.0
#include "agent/act/params.hpp"

#include <algorithm>
#include <charconv>

#include <re2/re2.h>

#include "shared/config/units.hpp"

namespace medic::agent::act {

namespace {

constexpr std::size_t k_quote_bytes = 64;

Error value_error(std::string_view value, std::string_view why) {
  return Error(ErrorCode::invalid_argument, "value " + quote_value(value) + " " + std::string(why));
}

// Decodes one UTF-8 sequence at `text[i]`; 0 when it is not valid (truncated, overlong,
// surrogate, beyond U+10FFFF).
std::size_t utf8_length(std::string_view text, std::size_t i, char32_t& code) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  char32_t min = 0;
  if (lead < 0x80) {
    code = lead;
    return 1;
  }
  if ((lead & 0xE0) == 0xC0) {
    length = 2, min = 0x80, code = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, min = 0x800, code = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, min = 0x10000, code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      return 0;
    }
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
  return (code < min || code > 0x10FFFF || surrogate) ? 0 : length;
}

// Characters that break a line, hide text or reorder it on an operator's screen.
std::string_view control_name(char32_t code) noexcept {
  switch (code) {
  case 0: return "a NUL byte";
  case '\n': return "a newline";
  case '\r': return "a carriage return";
  case '\t': return "a tab";
  case 0x7F: return "a DEL character";
  case 0x2028:
  case 0x2029: return "a Unicode line separator";
  default: break;
  }
  if (code < 0x20 || (code >= 0x80 && code <= 0x9F)) {
    return "a control character";
  }
  if ((code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069)) {
    return "a bidirectional override";
  }
  return {};
}

Result<void> check_text(std::string_view value) {
  for (std::size_t i = 0; i < value.size();) {
    char32_t code = 0;
    const std::size_t length = utf8_length(value, i, code);
    if (length == 0) {
      return fail(value_error(value, "is not valid UTF-8 (at byte " + std::to_string(i) + ")"));
    }
    if (const auto name = control_name(code); !name.empty()) {
      return fail(value_error(value, "contains " + std::string(name)));
    }
    i += length;
  }
  return {};
}

Result<void> check_bounds(const ParamSpec& spec, std::string_view value, std::int64_t number,
                          bool duration) {
  const auto show = [duration](std::int64_t n) {
    return duration ? config::format_duration(std::chrono::milliseconds(n)) : std::to_string(n);
  };
  if (spec.min && number < *spec.min) {
    return fail(value_error(value, "is below the minimum " + show(*spec.min)));
  }
  if (spec.max && number > *spec.max) {
    return fail(value_error(value, "is above the maximum " + show(*spec.max)));
  }
  return {};
}

Result<void> check_integer(const ParamSpec& spec, std::string_view value) {
  const std::string_view digits = value.front() == '-' ? value.substr(1) : value;
  const bool canonical = !digits.empty() && (digits.front() != '0' || digits.size() == 1);
  std::int64_t number = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (!canonical || ec != std::errc() || end != value.data() + value.size()) {
    return fail(value_error(value, "is not a decimal integer"));
  }
  return check_bounds(spec, value, number, false);
}

Result<void> check_path(const ParamSpec& spec, std::string_view value) {
  if (value.front() != '/') {
    return fail(value_error(value, "is not an absolute path"));
  }
  if (value.size() == 1 || value.back() == '/') {
    return fail(value_error(value, "ends with '/'"));
  }
  for (std::size_t start = 1; start <= value.size();) {
    const std::size_t slash = std::min(value.find('/', start), value.size());
    const std::string_view part = value.substr(start, slash - start);
    if (part.empty()) {
      return fail(value_error(value, "has an empty component ('//')"));
    }
    if (part == "." || part == "..") {
      return fail(value_error(value, "has a '" + std::string(part) + "' component"));
    }
    start = slash + 1;
  }
  const std::string_view base = spec.base_dir;
  const bool under =
      base.empty() || base == "/" ||
      (value.size() > base.size() && value.starts_with(base) && value[base.size()] == '/');
  if (!under) {
    return fail(value_error(value, "is not under " + spec.base_dir));
  }
  return {};
}

Result<void> check_enum(const ParamSpec& spec, std::string_view value) {
  for (const auto& allowed : spec.allowed) {
    if (allowed == value) {
      return {};
    }
  }
  std::string list;
  for (const auto& allowed : spec.allowed) {
    list += (list.empty() ? "" : ", ") + allowed;
  }
  return fail(value_error(value, "is not one of " + list));
}

Result<void> check_string(const ParamSpec& spec, std::string_view value) {
  std::shared_ptr<const re2::RE2> pattern = spec.compiled_pattern;
  if (!pattern) {
    auto compiled = compile_pattern(spec);
    if (!compiled) {
      return fail(std::move(compiled).error());
    }
    pattern = std::move(*compiled);
  }
  if (!re2::RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *pattern)) {
    return fail(value_error(value, "does not match the pattern " + pattern->pattern()));
  }
  return {};
}

Result<void> check_duration(const ParamSpec& spec, std::string_view value) {
  const auto parsed = config::parse_duration(value);
  if (!parsed) {
    return fail(value_error(value, "is not a duration like 500ms, 30s or 5m"));
  }
  return check_bounds(spec, value, parsed->count(), true);
}

} // namespace

std::string quote_value(std::string_view value) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < value.size(); ++i) {
    const auto byte = static_cast<unsigned char>(value[i]);
    const bool plain = byte >= 0x20 && byte < 0x7F && byte != '"' && byte != '\\';
    const std::size_t needed = plain ? 1 : 4;
    if (out.size() - 1 + needed > k_quote_bytes) {
      return out + "\"...";
    }
    if (plain) {
      out += static_cast<char>(byte);
    } else {
      out += "\\x";
      out += k_hex[byte >> 4];
      out += k_hex[byte & 0x0F];
    }
  }
  return out + "\"";
}

Result<std::shared_ptr<const re2::RE2>> compile_pattern(const ParamSpec& spec) {
  const std::string_view source =
      spec.pattern.empty() ? k_default_string_pattern : std::string_view(spec.pattern);
  re2::RE2::Options options;
  options.set_log_errors(false);
  auto compiled =
      std::make_shared<const re2::RE2>(re2::StringPiece(source.data(), source.size()), options);
  if (!compiled->ok()) {
    return fail(ErrorCode::config,
                "pattern '" + std::string(source) + "' does not compile: " + compiled->error());
  }
  return compiled;
}

Result<void> check_value(const ParamSpec& spec, std::string_view value) {
  if (value.empty()) {
    return fail(ErrorCode::invalid_argument, "value is empty");
  }
  if (value.size() > spec.max_length) {
    return fail(value_error(value, "is " + std::to_string(value.size()) +
                                       " bytes, over the limit of " +
                                       std::to_string(spec.max_length)));
  }
  if (auto text = check_text(value); !text) {
    return text;
  }
  if (value.front() == '-' && spec.type != ParamType::integer) {
    return fail(value_error(value, "starts with '-' (it would read as an option)"));
  }
  switch (spec.type) {
  case ParamType::string: return check_string(spec, value);
  case ParamType::integer: return check_integer(spec, value);
  case ParamType::enumeration: return check_enum(spec, value);
  case ParamType::path: return check_path(spec, value);
  case ParamType::duration: return check_duration(spec, value);
  }
  return fail(ErrorCode::internal, "unknown parameter type");
}

Result<BoundParams> bind_params(const Action& action, std::span<const protocol::Label> given) {
  const auto refuse = [&action](std::string message) {
    return fail(ErrorCode::invalid_argument, "action '" + action.name + "': " + std::move(message));
  };
  if (given.size() > k_max_given_params) {
    return refuse(std::to_string(given.size()) + " parameters given, at most " +
                  std::to_string(k_max_given_params) + " allowed");
  }
  for (const auto& label : given) {
    const bool declared = std::any_of(action.params.begin(), action.params.end(),
                                      [&](const ParamSpec& p) { return p.name == label.name; });
    if (!declared) {
      return refuse("unknown parameter " + quote_value(label.name));
    }
  }
  BoundParams bound;
  bound.values.reserve(action.params.size());
  for (const auto& spec : action.params) {
    const protocol::Label* found = nullptr;
    for (const auto& label : given) {
      if (label.name != spec.name) {
        continue;
      }
      if (found != nullptr) {
        return refuse("parameter '" + spec.name + "' is given twice");
      }
      found = &label;
    }
    if (found == nullptr) {
      if (spec.default_value) {
        bound.values.emplace_back(spec.name, *spec.default_value);
      } else if (spec.required) {
        return refuse("parameter '" + spec.name + "' is required");
      }
      continue;
    }
    if (auto checked = check_value(spec, found->value); !checked) {
      return refuse("parameter '" + spec.name + "': " + checked.error().message());
    }
    bound.values.emplace_back(spec.name, found->value);
  }
  return bound;
}

std::optional<std::string_view> param_reference(std::string_view element) noexcept {
  if (element.size() < 3 || element.front() != '{' || element.back() != '}') {
    return std::nullopt;
  }
  const std::string_view name = element.substr(1, element.size() - 2);
  if (name.find_first_of("{}") != std::string_view::npos) {
    return std::nullopt;
  }
  return name;
}

std::vector<std::string> expand_argv(const std::vector<std::string>& templ,
                                     const BoundParams& params) {
  std::vector<std::string> argv;
  argv.reserve(templ.size());
  for (const auto& element : templ) {
    if (const auto name = param_reference(element)) {
      if (const std::string* value = params.find(*name)) {
        argv.push_back(*value);
      }
      continue;
    }
    argv.push_back(element);
  }
  return argv;
}

std::string expand_value(const std::string& templ, const BoundParams& params) {
  if (const auto name = param_reference(templ)) {
    const std::string* value = params.find(*name);
    return value != nullptr ? *value : std::string();
  }
  return templ;
}

std::string expand_url_path(const std::string& templ, const BoundParams& params) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t start = 0;
  while (start <= templ.size()) {
    const std::size_t slash = std::min(templ.find('/', start), templ.size());
    const std::string_view segment = std::string_view(templ).substr(start, slash - start);
    const auto name = param_reference(segment);
    const std::string* value = name ? params.find(*name) : nullptr;
    if (!name) {
      out += segment;
    } else if (value != nullptr) {
      for (const char c : *value) {
        const auto byte = static_cast<unsigned char>(c);
        const bool alnum =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum || c == '-' || c == '_' || c == '~') {
          out += c;
        } else {
          out += '%';
          out += k_hex[byte >> 4];
          out += k_hex[byte & 0x0F];
        }
      }
    }
    if (slash < templ.size()) {
      out += '/';
    }
    start = slash + 1;
  }
  return out;
}

} // namespace medic::agent::act
