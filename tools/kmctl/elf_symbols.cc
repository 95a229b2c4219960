#include "tools/kmctl/elf_symbols.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/str_format.h"

namespace kmctl {
namespace {

// Bounds-checked view of a table of T inside the file image: a truncated or hostile ELF yields
// an error instead of a read past the buffer.
template <typename T>
bool InBounds(const std::string& image, uint64_t offset, uint64_t count) {
  return offset <= image.size() && count <= (image.size() - offset) / sizeof(T);
}

}  // namespace

absl::StatusOr<ElfSymbols> ReadElfSymbols(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open the ELF file", path));
  const std::string image((std::istreambuf_iterator<char>(in)), {});
  Elf64_Ehdr eh;
  if (image.size() < sizeof(eh) || memcmp(image.data(), ELFMAG, SELFMAG) != 0 ||
      image[EI_CLASS] != ELFCLASS64) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: not a 64-bit ELF file", path));
  }
  memcpy(&eh, image.data(), sizeof(eh));
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || !InBounds<Elf64_Shdr>(image, eh.e_shoff, eh.e_shnum)) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: bad section header table", path));
  }
  auto section = [&](uint64_t i) {
    Elf64_Shdr sh;
    memcpy(&sh, image.data() + eh.e_shoff + i * sizeof(sh), sizeof(sh));
    return sh;
  };
  ElfSymbols out;
  out.pie = eh.e_type == ET_DYN;
  bool found = false;
  for (uint64_t i = 0; i < eh.e_shnum; i++) {
    const Elf64_Shdr symtab = section(i);
    if (symtab.sh_type != SHT_SYMTAB) continue;
    found = true;
    const uint64_t count = symtab.sh_size / sizeof(Elf64_Sym);
    if (symtab.sh_link >= eh.e_shnum || !InBounds<Elf64_Sym>(image, symtab.sh_offset, count)) {
      return absl::InvalidArgumentError(absl::StrFormat("%s: bad .symtab", path));
    }
    const Elf64_Shdr strtab = section(symtab.sh_link);
    if (!InBounds<char>(image, strtab.sh_offset, strtab.sh_size)) {
      return absl::InvalidArgumentError(absl::StrFormat("%s: bad .strtab", path));
    }
    for (uint64_t s = 0; s < count; s++) {
      Elf64_Sym sym;
      memcpy(&sym, image.data() + symtab.sh_offset + s * sizeof(sym), sizeof(sym));
      const int type = ELF64_ST_TYPE(sym.st_info);
      if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE) continue;
      if (sym.st_value == 0 || sym.st_name == 0 || sym.st_name >= strtab.sh_size) continue;
      const char* name = image.data() + strtab.sh_offset + sym.st_name;
      const std::string n(name, strnlen(name, strtab.sh_size - sym.st_name));
      // A global wins over a local of the same name, as a debugger would pick it.
      if (ELF64_ST_BIND(sym.st_info) == STB_LOCAL && out.addrs.count(n)) continue;
      out.addrs[n] = sym.st_value;
    }
  }
  if (!found) return absl::NotFoundError(absl::StrFormat("%s: no .symtab (stripped?)", path));
  return out;
}

}  // namespace kmctl
