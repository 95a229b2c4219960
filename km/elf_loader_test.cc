#include "km/elf_loader.h"

#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "km/initial_stack.h"
#include "km/layout.h"

namespace km {
namespace {

using ::testing::HasSubstr;

std::string Runfile(const std::string& rel) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (workspace ? workspace : "km_debug") + "/" +
         rel;
}

std::string TinyPath() { return Runfile("km/testdata/tiny"); }
std::string TinyPiePath() { return Runfile("km/testdata/tiny_pie"); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::unique_ptr<GuestMemory> NewMemory() {
  absl::StatusOr<std::unique_ptr<GuestMemory>> mem =
      GuestMemory::Create(256ull << 20, kEngineReservedSize);
  EXPECT_TRUE(mem.ok()) << mem.status();
  return std::move(*mem);
}

struct ParsedElf {
  Elf64_Ehdr eh;
  std::vector<Elf64_Phdr> phdrs;
};

ParsedElf Parse(const std::string& file) {
  ParsedElf p;
  memcpy(&p.eh, file.data(), sizeof(p.eh));
  p.phdrs.resize(p.eh.e_phnum);
  memcpy(p.phdrs.data(), file.data() + p.eh.e_phoff, p.eh.e_phnum * sizeof(Elf64_Phdr));
  return p;
}

uint32_t ProtOf(uint32_t flags) {
  uint32_t prot = kProtNone;
  if (flags & PF_R) prot |= kProtRead;
  if (flags & PF_W) prot |= kProtWrite;
  if (flags & PF_X) prot |= kProtExec;
  return prot;
}

// Checks everything LoadElf promises against the file itself.
void CheckLoaded(const std::string& path, const LoadedImage& image, const GuestMemory& mem,
                 uint64_t bias) {
  const std::string file = ReadFile(path);
  ASSERT_GT(file.size(), sizeof(Elf64_Ehdr));
  const ParsedElf elf = Parse(file);
  EXPECT_EQ(image.path, path);
  EXPECT_EQ(image.load_bias, bias);
  EXPECT_EQ(image.entry, elf.eh.e_entry + bias);
  EXPECT_EQ(image.phent, sizeof(Elf64_Phdr));
  EXPECT_EQ(image.phnum, elf.eh.e_phnum);

  // The program headers are where AT_PHDR will say.
  std::string phdrs(elf.eh.e_phnum * sizeof(Elf64_Phdr), '\0');
  ASSERT_EQ(mem.ReadIgnoringProt(image.phdr_gva, phdrs.data(), phdrs.size()), phdrs.size());
  EXPECT_EQ(phdrs, file.substr(elf.eh.e_phoff, phdrs.size()));

  const std::vector<Region> regions = mem.Regions();
  uint64_t highest = 0;
  int loads = 0;
  for (const Elf64_Phdr& ph : elf.phdrs) {
    if (ph.p_type != PT_LOAD) continue;
    ++loads;
    const uint64_t gva = ph.p_vaddr + bias;
    std::string bytes(ph.p_memsz, '\x55');
    ASSERT_EQ(mem.ReadIgnoringProt(gva, bytes.data(), bytes.size()), bytes.size());
    EXPECT_EQ(bytes.substr(0, ph.p_filesz), file.substr(ph.p_offset, ph.p_filesz))
        << "PT_LOAD at 0x" << std::hex << ph.p_vaddr;
    EXPECT_EQ(bytes.substr(ph.p_filesz), std::string(ph.p_memsz - ph.p_filesz, '\0'))
        << "bss of PT_LOAD at 0x" << std::hex << ph.p_vaddr;
    highest = std::max(highest, gva + ph.p_memsz);
  }
  EXPECT_GE(loads, 2);
  EXPECT_EQ(image.brk_start, (highest + kPageSize - 1) & ~(kPageSize - 1));
  // Every page of a segment is in a region named after the payload whose protection is the
  // union of the segments on that page (text if one is executable); nothing else is mapped.
  std::map<uint64_t, uint32_t> page_prot;
  for (const Elf64_Phdr& ph : elf.phdrs) {
    if (ph.p_type != PT_LOAD) continue;
    const uint64_t gva = ph.p_vaddr + bias;
    for (uint64_t page = gva & ~(kPageSize - 1); page < gva + ph.p_memsz; page += kPageSize) {
      page_prot[page] |= ProtOf(ph.p_flags);
    }
  }
  uint64_t mapped = 0;
  for (const Region& r : regions) mapped += r.size;
  EXPECT_EQ(mapped, page_prot.size() * kPageSize);
  for (const auto& [page, prot] : page_prot) {
    bool found = false;
    for (const Region& r : regions) {
      if (page < r.gva || page >= r.gva + r.size) continue;
      found = true;
      EXPECT_EQ(r.prot, prot) << std::hex << page;
      EXPECT_EQ(r.name, path);
      EXPECT_EQ(r.kind, (prot & kProtExec) ? RegionKind::kText : RegionKind::kData);
    }
    EXPECT_TRUE(found) << std::hex << page;
  }
}

TEST(ElfLoaderTest, LoadsStaticExecutable) {
  auto mem = NewMemory();
  absl::StatusOr<LoadedImage> image = LoadElf(TinyPath(), *mem);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_FALSE(image->pie);
  EXPECT_EQ(image->entry & ~0xfffffull, 0x400000u);  // the linker's default base
  CheckLoaded(TinyPath(), *image, *mem, 0);
}

TEST(ElfLoaderTest, LoadsStaticPieAtTheLinuxBias) {
  auto mem = NewMemory();
  const ParsedElf elf = Parse(ReadFile(TinyPiePath()));
  EXPECT_EQ(elf.eh.e_type, ET_DYN);
  for (const Elf64_Phdr& ph : elf.phdrs) EXPECT_NE(ph.p_type, PT_INTERP);
  absl::StatusOr<LoadedImage> image = LoadElf(TinyPiePath(), *mem);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_TRUE(image->pie);
  CheckLoaded(TinyPiePath(), *image, *mem, kPieLoadBias);
}

TEST(ElfLoaderTest, LoadingTwiceOverlaps) {
  auto mem = NewMemory();
  ASSERT_TRUE(LoadElf(TinyPath(), *mem).ok());
  const size_t regions = mem->Regions().size();
  absl::StatusOr<LoadedImage> again = LoadElf(TinyPath(), *mem);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr(TinyPath()));
  EXPECT_EQ(mem->Regions().size(), regions);
}

TEST(ElfLoaderTest, RejectsDynamicallyLinked) {
  auto mem = NewMemory();
  absl::StatusOr<LoadedImage> image = LoadElf("/bin/true", *mem);
  ASSERT_FALSE(image.ok());
  EXPECT_THAT(image.status().message(),
              HasSubstr("/bin/true: dynamically linked payloads are not supported: link with "
                        "-static"));
  EXPECT_TRUE(mem->Regions().empty());
}

TEST(ElfLoaderTest, RejectsMissingAndNonElfFiles) {
  auto mem = NewMemory();
  absl::StatusOr<LoadedImage> missing = LoadElf("/nonexistent/payload", *mem);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/payload"));

  const std::string text = WriteTemp("text", "#!/bin/sh\necho not an elf\n");
  absl::StatusOr<LoadedImage> image = LoadElf(text, *mem);
  EXPECT_THAT(image.status().message(), HasSubstr(text + ": not an ELF file"));
  EXPECT_THAT(LoadElf(WriteTemp("empty", ""), *mem).status().message(),
              HasSubstr("not an ELF file"));
  EXPECT_THAT(LoadElf("/tmp", *mem).status().message(), HasSubstr("not a regular file"));
  EXPECT_TRUE(mem->Regions().empty());
}

TEST(ElfLoaderTest, RejectsTruncatedFiles) {
  auto mem = NewMemory();
  const std::string file = ReadFile(TinyPath());
  const ParsedElf elf = Parse(file);
  const std::string header_only = WriteTemp("header_only", file.substr(0, 40));
  EXPECT_THAT(LoadElf(header_only, *mem).status().message(), HasSubstr("truncated"));
  const std::string half_phdrs =
      WriteTemp("half_phdrs", file.substr(0, elf.eh.e_phoff + sizeof(Elf64_Phdr) / 2));
  EXPECT_THAT(LoadElf(half_phdrs, *mem).status().message(), HasSubstr("truncated"));
  const std::string half = WriteTemp("half", file.substr(0, file.size() / 2));
  absl::StatusOr<LoadedImage> image = LoadElf(half, *mem);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(), HasSubstr("lie outside the file"));
  EXPECT_TRUE(mem->Regions().empty());
}

// Loads a copy of tiny with `patch` applied to its headers and returns the error.
using Patch = std::function<void(Elf64_Ehdr&, std::vector<Elf64_Phdr>&)>;

// Writes a copy of tiny with `patch` applied to its headers; returns its path.
std::string PatchedCopy(const std::string& name, const Patch& patch) {
  std::string file = ReadFile(TinyPath());
  ParsedElf elf = Parse(file);
  const uint64_t phoff = elf.eh.e_phoff;
  patch(elf.eh, elf.phdrs);
  memcpy(file.data() + phoff, elf.phdrs.data(), elf.phdrs.size() * sizeof(Elf64_Phdr));
  memcpy(file.data(), &elf.eh, sizeof(elf.eh));
  return WriteTemp(name, file);
}

// Loads a patched copy of tiny that must fail, leaving nothing mapped; returns the error.
std::string LoadPatched(const std::string& name, const Patch& patch) {
  auto mem = NewMemory();
  absl::StatusOr<LoadedImage> image = LoadElf(PatchedCopy(name, patch), *mem);
  EXPECT_TRUE(mem->Regions().empty()) << name;
  return image.ok() ? "loaded" : std::string(image.status().message());
}

// tiny has four PT_LOADs (R, RX, R, RW); a patch that names a missing one aborts the test.
Elf64_Phdr* NthLoad(std::vector<Elf64_Phdr>& phdrs, int n) {
  for (Elf64_Phdr& ph : phdrs) {
    if (ph.p_type == PT_LOAD && n-- == 0) return &ph;
  }
  std::abort();
}

TEST(ElfLoaderTest, RejectsBadHeaders) {
  EXPECT_THAT(LoadPatched("class32", [](Elf64_Ehdr& eh, auto&) { eh.e_ident[EI_CLASS] = 1; }),
              HasSubstr("not a 64-bit ELF file"));
  EXPECT_THAT(LoadPatched("bigendian", [](Elf64_Ehdr& eh, auto&) { eh.e_ident[EI_DATA] = 2; }),
              HasSubstr("not a little-endian"));
  EXPECT_THAT(LoadPatched("arm", [](Elf64_Ehdr& eh, auto&) { eh.e_machine = EM_AARCH64; }),
              HasSubstr("is not x86-64"));
  EXPECT_THAT(LoadPatched("reloc", [](Elf64_Ehdr& eh, auto&) { eh.e_type = ET_REL; }),
              HasSubstr("not an executable"));
  EXPECT_THAT(LoadPatched("phentsize", [](Elf64_Ehdr& eh, auto&) { eh.e_phentsize = 32; }),
              HasSubstr("program header entry size"));
  EXPECT_THAT(LoadPatched("nophdrs", [](Elf64_Ehdr& eh, auto&) { eh.e_phnum = 0; }),
              HasSubstr("number of program headers"));
  EXPECT_THAT(LoadPatched("phoff", [](Elf64_Ehdr& eh, auto&) { eh.e_phoff = ~0ull - 8; }),
              HasSubstr("lie outside the file"));
  EXPECT_THAT(LoadPatched("entry", [](Elf64_Ehdr& eh, auto&) { eh.e_entry = 0x12345; }),
              HasSubstr("entry point 0x12345 is in no PT_LOAD"));
}

TEST(ElfLoaderTest, RejectsBadSegments) {
  EXPECT_THAT(LoadPatched("filesz", [](auto&, auto& ph) { NthLoad(ph, 1)->p_filesz += 1 << 20; }),
              HasSubstr("exceeds memory size"));
  EXPECT_THAT(LoadPatched("offset", [](auto&, auto& ph) { NthLoad(ph, 1)->p_offset = 1 << 30; }),
              HasSubstr("lie outside the file"));
  EXPECT_THAT(LoadPatched("overlap", [](auto&, auto& ph) { NthLoad(ph, 1)->p_memsz += 0x10000; }),
              HasSubstr("overlaps the segment before it"));
  EXPECT_THAT(LoadPatched("high",
                          [](auto&, auto& ph) {
                            Elf64_Phdr* last = NthLoad(ph, 3);
                            last->p_vaddr = 0x7f0000000000 - 0x1000;
                            last->p_memsz = 0x2000;
                          }),
              HasSubstr("is outside"));
  EXPECT_THAT(LoadPatched("wrap",
                          [](auto&, auto& ph) {
                            Elf64_Phdr* last = NthLoad(ph, 3);
                            last->p_vaddr = ~0ull - 0x1000;
                            last->p_memsz = 0x2000;
                          }),
              HasSubstr("is outside"));
  EXPECT_THAT(LoadPatched("low", [](auto&, auto& ph) { NthLoad(ph, 0)->p_vaddr = 0x1000; }),
              HasSubstr("is outside"));
  EXPECT_THAT(LoadPatched("interp", [](auto&, auto& ph) { ph.back().p_type = PT_INTERP; }),
              HasSubstr("link with -static"));
}

TEST(ElfLoaderTest, SegmentsSharingAPageGetTheUnionOfProtections) {
  // Slide the R segment down into the last page of the RX one, and the RW segment into the last
  // page of the R one: three pages are then shared (RX+R, R+RW).
  const std::string path = PatchedCopy("shared", [](auto&, auto& ph) {
    const auto end = [](const Elf64_Phdr* p) { return p->p_vaddr + p->p_memsz; };
    const auto next_in_page = [](uint64_t a) {
      const uint64_t b = (a + 0xff) & ~uint64_t{0xff};
      EXPECT_EQ(a / kPageSize, b / kPageSize) << "tiny's segment ends too close to a page end";
      return b;
    };
    NthLoad(ph, 2)->p_vaddr = next_in_page(end(NthLoad(ph, 1)));
    NthLoad(ph, 3)->p_vaddr = next_in_page(end(NthLoad(ph, 2)));
  });
  auto mem = NewMemory();
  absl::StatusOr<LoadedImage> image = LoadElf(path, *mem);
  ASSERT_TRUE(image.ok()) << image.status();
  CheckLoaded(path, *image, *mem, 0);
  // R, RX (text pages and the shared one), RW (the shared page and the rest): three regions.
  EXPECT_EQ(mem->Regions().size(), 3u);
}

// Reads a uint64_t from guest memory through the checked path, as the guest would see it.
uint64_t Get64(const GuestMemory& mem, uint64_t gva) {
  uint64_t v = 0;
  absl::Status s = mem.Read(gva, &v, sizeof(v));
  EXPECT_TRUE(s.ok()) << s;
  return v;
}

std::string GetString(const GuestMemory& mem, uint64_t gva) {
  absl::StatusOr<std::string> s = mem.ReadCString(gva, 1 << 16);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

TEST(InitialStackTest, MatchesTheLinuxLayout) {
  auto mem = NewMemory();
  absl::StatusOr<LoadedImage> image = LoadElf(TinyPiePath(), *mem);
  ASSERT_TRUE(image.ok()) << image.status();
  const std::vector<std::string> argv = {"tiny", "with space", ""};
  const std::vector<std::string> envp = {"A=1", "HOME=/"};
  absl::StatusOr<InitialStack> stack = BuildInitialStack(*mem, *image, argv, envp);
  ASSERT_TRUE(stack.ok()) << stack.status();

  bool stack_region = false;
  for (const Region& r : mem->Regions()) {
    if (r.kind != RegionKind::kStack) continue;
    stack_region = true;
    EXPECT_EQ(r.gva, kStackTop - kStackSize);
    EXPECT_EQ(r.size, kStackSize);
    EXPECT_EQ(r.prot, kProtRead | kProtWrite);
    EXPECT_EQ(r.name, "[stack]");
  }
  EXPECT_TRUE(stack_region);

  const uint64_t rsp = stack->rsp;
  EXPECT_EQ(rsp % 16, 0u);
  EXPECT_LT(rsp, kStackTop);
  EXPECT_GT(rsp, kStackTop - 4 * kPageSize);
  uint64_t at = rsp;
  EXPECT_EQ(Get64(*mem, at), argv.size());
  at += 8;
  std::vector<uint64_t> string_ptrs;
  for (const std::string& a : argv) {
    const uint64_t p = Get64(*mem, at);
    string_ptrs.push_back(p);
    EXPECT_EQ(GetString(*mem, p), a);
    at += 8;
  }
  EXPECT_EQ(Get64(*mem, at), 0u);
  at += 8;
  for (const std::string& e : envp) {
    const uint64_t p = Get64(*mem, at);
    string_ptrs.push_back(p);
    EXPECT_EQ(GetString(*mem, p), e);
    at += 8;
  }
  EXPECT_EQ(Get64(*mem, at), 0u);
  at += 8;
  // The strings are packed in order, argv then envp, right below the exec file name.
  for (size_t i = 1; i < string_ptrs.size(); ++i) {
    EXPECT_EQ(string_ptrs[i], string_ptrs[i - 1] + GetString(*mem, string_ptrs[i - 1]).size() + 1);
  }

  const uint64_t auxv_gva = at;
  std::map<uint64_t, uint64_t> aux;
  std::vector<uint64_t> order;
  for (;;) {
    const uint64_t type = Get64(*mem, at);
    const uint64_t value = Get64(*mem, at + 8);
    at += 16;
    EXPECT_EQ(aux.count(type), 0u) << "duplicate auxv entry " << type;
    aux[type] = value;
    order.push_back(type);
    if (type == AT_NULL) break;
    ASSERT_LT(order.size(), 64u);
  }
  std::string auxv_bytes(at - auxv_gva, '\0');
  ASSERT_TRUE(mem->Read(auxv_gva, auxv_bytes.data(), auxv_bytes.size()).ok());
  EXPECT_EQ(stack->auxv_bytes, auxv_bytes);
  EXPECT_EQ(aux[AT_NULL], 0u);

  EXPECT_EQ(aux[AT_PHDR], image->phdr_gva);
  EXPECT_EQ(aux[AT_PHENT], sizeof(Elf64_Phdr));
  EXPECT_EQ(aux[AT_PHNUM], image->phnum);
  EXPECT_EQ(aux[AT_PAGESZ], 4096u);
  EXPECT_EQ(aux[AT_ENTRY], image->entry);
  EXPECT_EQ(aux[AT_BASE], 0u);
  EXPECT_EQ(aux[AT_FLAGS], 0u);
  EXPECT_EQ(aux[AT_UID], getuid());
  EXPECT_EQ(aux[AT_EUID], geteuid());
  EXPECT_EQ(aux[AT_GID], getgid());
  EXPECT_EQ(aux[AT_EGID], getegid());
  EXPECT_EQ(aux[AT_SECURE], 0u);
  EXPECT_EQ(aux[AT_CLKTCK], 100u);
  EXPECT_NE(aux[AT_HWCAP], 0u);
  EXPECT_EQ(aux[AT_HWCAP2], 0u);
  EXPECT_EQ(GetString(*mem, aux[AT_PLATFORM]), "x86_64");
  EXPECT_EQ(GetString(*mem, aux[AT_EXECFN]), TinyPiePath());
  // The exec file name is the topmost string, followed only by the zero word at the top.
  EXPECT_EQ(aux[AT_EXECFN] + TinyPiePath().size() + 1, kStackTop - 8);
  EXPECT_EQ(Get64(*mem, kStackTop - 8), 0u);
  EXPECT_EQ(string_ptrs.back() + envp.back().size() + 1, aux[AT_EXECFN]);
  // Platform string and random bytes sit between the aligned strings and the tables.
  const uint64_t strings_aligned = string_ptrs.front() & ~uint64_t{15};
  EXPECT_EQ(aux[AT_PLATFORM], strings_aligned - 7);
  EXPECT_EQ(aux[AT_RANDOM], aux[AT_PLATFORM] - 16);
  EXPECT_GE(aux[AT_RANDOM], at);
  EXPECT_LT(aux[AT_RANDOM] - at, 16u);  // only the 16-byte rounding in between
  uint8_t random[16];
  ASSERT_TRUE(mem->Read(aux[AT_RANDOM], random, sizeof(random)).ok());
  EXPECT_NE(std::string(reinterpret_cast<char*>(random), 16), std::string(16, '\0'));
  // Linux's order of entries.
  EXPECT_THAT(order, ::testing::ElementsAre(AT_HWCAP, AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT,
                                            AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID, AT_EUID,
                                            AT_GID, AT_EGID, AT_SECURE, AT_RANDOM, AT_HWCAP2,
                                            AT_EXECFN, AT_PLATFORM, AT_NULL));
}

TEST(InitialStackTest, EmptyArgvBecomesOneEmptyString) {
  auto mem = NewMemory();
  absl::StatusOr<LoadedImage> image = LoadElf(TinyPath(), *mem);
  ASSERT_TRUE(image.ok()) << image.status();
  absl::StatusOr<InitialStack> stack = BuildInitialStack(*mem, *image, {}, {});
  ASSERT_TRUE(stack.ok()) << stack.status();
  EXPECT_EQ(Get64(*mem, stack->rsp), 1u);
  EXPECT_EQ(GetString(*mem, Get64(*mem, stack->rsp + 8)), "");
  EXPECT_EQ(Get64(*mem, stack->rsp + 16), 0u);
  EXPECT_EQ(Get64(*mem, stack->rsp + 24), 0u);
}

TEST(InitialStackTest, RejectsOversizedArguments) {
  auto mem = NewMemory();
  absl::StatusOr<LoadedImage> image = LoadElf(TinyPath(), *mem);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(BuildInitialStack(*mem, *image, {std::string(200000, 'a')}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      BuildInitialStack(*mem, *image, std::vector<std::string>(40, std::string(100000, 'a')), {})
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildInitialStack(*mem, *image, {std::string("a\0b", 3)}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // None of that left a stack behind; a good call still works.
  EXPECT_TRUE(BuildInitialStack(*mem, *image, {"x"}, {}).ok());
}

}  // namespace
}  // namespace km
