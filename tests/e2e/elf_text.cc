#include "tests/e2e/elf_text.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace km_test {

absl::StatusOr<std::vector<AddressRange>> ExecutableSegments(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  Elf64_Ehdr ehdr;
  if (bytes.size() < sizeof ehdr || memcmp(bytes.data(), ELFMAG, SELFMAG) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an ELF file"));
  }
  memcpy(&ehdr, bytes.data(), sizeof ehdr);
  std::vector<AddressRange> ranges;
  for (int i = 0; i < ehdr.e_phnum; i++) {
    uint64_t offset = ehdr.e_phoff + static_cast<uint64_t>(i) * ehdr.e_phentsize;
    Elf64_Phdr phdr;
    if (offset + sizeof phdr > bytes.size()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": program header ", i, " truncated"));
    }
    memcpy(&phdr, bytes.data() + offset, sizeof phdr);
    if (phdr.p_type == PT_LOAD && (phdr.p_flags & PF_X) != 0) {
      ranges.push_back({phdr.p_vaddr, phdr.p_vaddr + phdr.p_memsz});
    }
  }
  if (ranges.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no text segment"));
  return ranges;
}

}  // namespace km_test
