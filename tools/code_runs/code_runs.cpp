// SPDX-License-Identifier: Apache-2.0
#include "tools/code_runs/code_runs.hpp"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>

namespace medic::tools {

namespace {

constexpr std::uint64_t k_page = 4096;
constexpr std::string_view k_table_symbol = "medic_code_runs";
constexpr std::string_view k_start_up_marker = "# medic: start-up";
constexpr std::string_view k_other_cpus_marker = "# medic: other CPUs";

// A trivially copyable T at `offset` of `bytes`, if it fits.
template <class T>
std::optional<T> read_at(std::string_view bytes, std::uint64_t offset) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) {
    return std::nullopt;
  }
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

struct Symbols {
  std::vector<Elf64_Shdr> sections;
  std::vector<Elf64_Sym> symbols;
  std::string_view names; // the symbol table's string table
};

Result<Symbols> read_symbols(std::string_view elf) {
  const auto header = read_at<Elf64_Ehdr>(elf, 0);
  if (!header || std::memcmp(header->e_ident, ELFMAG, SELFMAG) != 0 ||
      header->e_ident[EI_CLASS] != ELFCLASS64 || header->e_ident[EI_DATA] != ELFDATA2LSB) {
    return fail(ErrorCode::invalid_argument, "not an ELF64 little-endian file");
  }
  if (header->e_shentsize != sizeof(Elf64_Shdr)) {
    return fail(ErrorCode::invalid_argument, "unexpected section header size");
  }
  Symbols out;
  for (std::uint16_t i = 0; i < header->e_shnum; ++i) {
    const auto section =
        read_at<Elf64_Shdr>(elf, header->e_shoff + std::uint64_t{i} * sizeof(Elf64_Shdr));
    if (!section) {
      return fail(ErrorCode::invalid_argument,
                  "section header " + std::to_string(i) + " is past the end of the file");
    }
    out.sections.push_back(*section);
  }
  const auto symtab = std::find_if(out.sections.begin(), out.sections.end(),
                                   [](const Elf64_Shdr& s) { return s.sh_type == SHT_SYMTAB; });
  if (symtab == out.sections.end()) {
    return fail(ErrorCode::not_found, "no symbol table (stripped?)");
  }
  if (symtab->sh_link >= out.sections.size()) {
    return fail(ErrorCode::invalid_argument, "the symbol table names no string table");
  }
  const Elf64_Shdr& strtab = out.sections[symtab->sh_link];
  if (strtab.sh_offset > elf.size() || elf.size() - strtab.sh_offset < strtab.sh_size ||
      symtab->sh_offset > elf.size() || elf.size() - symtab->sh_offset < symtab->sh_size) {
    return fail(ErrorCode::invalid_argument, "the symbol table is past the end of the file");
  }
  out.names = elf.substr(strtab.sh_offset, strtab.sh_size);
  const std::uint64_t count = symtab->sh_size / sizeof(Elf64_Sym);
  out.symbols.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    out.symbols.push_back(*read_at<Elf64_Sym>(elf, symtab->sh_offset + i * sizeof(Elf64_Sym)));
  }
  return out;
}

std::string_view name_of(const Symbols& symbols, const Elf64_Sym& symbol) {
  if (symbol.st_name >= symbols.names.size()) {
    return {};
  }
  const std::string_view rest = symbols.names.substr(symbol.st_name);
  return rest.substr(0, rest.find('\0'));
}

// The file offset of the table, checked to lie in the file's bytes of its section.
Result<std::uint64_t> table_offset(std::string_view elf) {
  auto symbols = read_symbols(elf);
  if (!symbols) {
    return fail(std::move(symbols).error());
  }
  for (const Elf64_Sym& symbol : symbols->symbols) {
    if (name_of(*symbols, symbol) != k_table_symbol) {
      continue;
    }
    if (symbol.st_size != sizeof(CodeRunTable) || symbol.st_shndx >= symbols->sections.size()) {
      return fail(ErrorCode::invalid_argument,
                  std::string(k_table_symbol) + " has an unexpected size or section");
    }
    const Elf64_Shdr& section = symbols->sections[symbol.st_shndx];
    if (section.sh_type == SHT_NOBITS || symbol.st_value < section.sh_addr ||
        symbol.st_value - section.sh_addr > section.sh_size ||
        section.sh_size - (symbol.st_value - section.sh_addr) < sizeof(CodeRunTable) ||
        section.sh_offset > elf.size() || elf.size() - section.sh_offset < section.sh_size) {
      return fail(ErrorCode::invalid_argument,
                  std::string(k_table_symbol) + " is not in the file's bytes");
    }
    return section.sh_offset + (symbol.st_value - section.sh_addr);
  }
  return fail(ErrorCode::not_found, "no " + std::string(k_table_symbol) + " symbol");
}

} // namespace

OrderFile read_order_file(std::string_view text) {
  OrderFile order;
  std::unordered_set<std::string>* group = &order.steady;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      line.remove_prefix(1);
    }
    if (line == k_start_up_marker) {
      group = &order.start_up;
    } else if (line == k_other_cpus_marker) {
      group = &order.steady;
    } else if (!line.empty() && line.front() != '#') {
      group->emplace(line);
    }
  }
  return order;
}

Result<std::vector<CodeRun>> listed_code_runs(std::string_view elf, const OrderFile& order,
                                              std::size_t max_runs) {
  auto symbols = read_symbols(elf);
  if (!symbols) {
    return fail(std::move(symbols).error());
  }
  std::vector<std::uint64_t> steady;
  std::vector<std::uint64_t> start_up;
  for (const Elf64_Sym& symbol : symbols->symbols) {
    if (ELF64_ST_TYPE(symbol.st_info) != STT_FUNC || symbol.st_size == 0 ||
        symbol.st_shndx == SHN_UNDEF || symbol.st_shndx >= symbols->sections.size() ||
        (symbols->sections[symbol.st_shndx].sh_flags & SHF_EXECINSTR) == 0) {
      continue;
    }
    const std::string name(name_of(*symbols, symbol));
    auto* pages = order.steady.contains(name)     ? &steady
                  : order.start_up.contains(name) ? &start_up
                                                  : nullptr;
    if (pages == nullptr) {
      continue;
    }
    if ((symbol.st_value + symbol.st_size - 1) / k_page > UINT32_MAX) {
      return fail(ErrorCode::invalid_argument, name + " lies beyond 16 TiB");
    }
    for (std::uint64_t page = symbol.st_value / k_page;
         page <= (symbol.st_value + symbol.st_size - 1) / k_page; ++page) {
      pages->push_back(page);
    }
  }
  for (auto* pages : {&steady, &start_up}) {
    std::sort(pages->begin(), pages->end());
    pages->erase(std::unique(pages->begin(), pages->end()), pages->end());
  }
  // A page with both kinds of code is steady.
  std::vector<std::uint64_t> only_start_up;
  std::set_difference(start_up.begin(), start_up.end(), steady.begin(), steady.end(),
                      std::back_inserter(only_start_up));
  std::vector<std::pair<std::uint64_t, CodeKind>> pages;
  for (const std::uint64_t page : steady) {
    pages.emplace_back(page, CodeKind::steady);
  }
  for (const std::uint64_t page : only_start_up) {
    pages.emplace_back(page, CodeKind::start_up);
  }
  std::sort(pages.begin(), pages.end());
  std::vector<CodeRun> runs;
  for (const auto& [page, kind] : pages) {
    if (!runs.empty() && runs.back().kind == kind &&
        runs.back().first_page + runs.back().pages == page) {
      ++runs.back().pages;
    } else {
      runs.push_back({static_cast<std::uint32_t>(page), 1, kind});
    }
  }
  if (runs.size() > max_runs) {
    return fail(ErrorCode::invalid_argument,
                std::to_string(runs.size()) + " runs, at most " + std::to_string(max_runs));
  }
  return runs;
}

Result<void> write_code_runs(std::string& elf, std::span<const CodeRun> runs) {
  auto offset = table_offset(elf);
  if (!offset) {
    return fail(std::move(offset).error());
  }
  CodeRunTable table{};
  std::memcpy(&table, elf.data() + *offset, sizeof(table));
  if (std::memcmp(table.magic, CodeRunTable::k_magic, sizeof(table.magic)) != 0 ||
      table.capacity != CodeRunTable::k_capacity) {
    return fail(ErrorCode::invalid_argument,
                std::string(k_table_symbol) + " is not a table of this layout (magic or capacity)");
  }
  if (runs.size() > CodeRunTable::k_capacity) {
    return fail(ErrorCode::invalid_argument, std::to_string(runs.size()) + " runs, at most " +
                                                 std::to_string(CodeRunTable::k_capacity));
  }
  table.count = static_cast<std::uint32_t>(runs.size());
  std::fill(std::begin(table.runs), std::end(table.runs), CodeRun{0, 0, CodeKind::steady});
  std::copy(runs.begin(), runs.end(), std::begin(table.runs));
  std::memcpy(elf.data() + *offset, &table, sizeof(table));
  return {};
}

Result<CodeRunTable> read_code_runs(std::string_view elf) {
  auto offset = table_offset(elf);
  if (!offset) {
    return fail(std::move(offset).error());
  }
  CodeRunTable table{};
  std::memcpy(&table, elf.data() + *offset, sizeof(table));
  return table;
}

} // namespace medic::tools
