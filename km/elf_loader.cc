#include "km/elf_loader.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "km/layout.h"

namespace km {
namespace {

// Linux's default vm.mmap_min_addr: nothing is loaded below it, so null dereferences fault.
constexpr uint64_t kMinLoadAddr = 0x10000;
// Segments stay below the mmap area and the stack.
constexpr uint64_t kMaxLoadEnd = 0x7f0000000000;
// Linux refuses program header tables larger than this.
constexpr uint64_t kMaxPhdrBytes = 65536;
// File bytes go into guest memory through a buffer of this size.
constexpr uint64_t kCopyChunk = 1 << 20;

uint64_t PageDown(uint64_t v) { return v & ~(kPageSize - 1); }
uint64_t PageUp(uint64_t v) { return PageDown(v + kPageSize - 1); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status ReadAt(const std::string& path, int fd, uint64_t off, void* buf, uint64_t len) {
  auto* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    const ssize_t n = pread(fd, p, len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(
          absl::StrFormat("%s: read at offset 0x%x: %s", path, off, strerror(errno)));
    }
    if (n == 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: file ends at offset 0x%x, before the data it declares", path, off));
    }
    p += n;
    off += n;
    len -= n;
  }
  return absl::OkStatus();
}

absl::Status Bad(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s", path, what));
}

absl::Status CheckHeader(const std::string& path, const Elf64_Ehdr& eh, uint64_t file_size) {
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return Bad(path, "not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) return Bad(path, "not a 64-bit ELF file");
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB) return Bad(path, "not a little-endian ELF file");
  if (eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT) {
    return Bad(path, "unknown ELF version");
  }
  if (eh.e_machine != EM_X86_64) {
    return Bad(path, absl::StrFormat("ELF machine %d is not x86-64", eh.e_machine));
  }
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
    return Bad(path, absl::StrFormat("ELF type %d is not an executable", eh.e_type));
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return Bad(path, absl::StrFormat("program header entry size %d, expected %d", eh.e_phentsize,
                                     sizeof(Elf64_Phdr)));
  }
  if (eh.e_phnum == 0 || eh.e_phnum == PN_XNUM ||
      uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr) > kMaxPhdrBytes) {
    return Bad(path, absl::StrFormat("unsupported number of program headers: %d", eh.e_phnum));
  }
  const uint64_t phdr_bytes = uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (eh.e_phoff > file_size || phdr_bytes > file_size - eh.e_phoff) {
    return Bad(path, absl::StrFormat("program headers [0x%x, +0x%x) lie outside the file "
                                     "(0x%x bytes): truncated?",
                                     eh.e_phoff, phdr_bytes, file_size));
  }
  return absl::OkStatus();
}

// Checks the PT_LOAD segments (sorted by address on return) against the file and each other,
// with the load bias applied.
absl::Status CheckLoads(const std::string& path, std::vector<Elf64_Phdr>& loads, uint64_t bias,
                        uint64_t file_size) {
  std::sort(loads.begin(), loads.end(),
            [](const Elf64_Phdr& a, const Elf64_Phdr& b) { return a.p_vaddr < b.p_vaddr; });
  uint64_t prev_end = 0;
  for (size_t i = 0; i < loads.size(); ++i) {
    const Elf64_Phdr& ph = loads[i];
    const std::string seg = absl::StrFormat("PT_LOAD at 0x%x", ph.p_vaddr);
    if (ph.p_filesz > ph.p_memsz) {
      return Bad(path, absl::StrFormat("%s: file size 0x%x exceeds memory size 0x%x", seg,
                                       ph.p_filesz, ph.p_memsz));
    }
    if (ph.p_offset > file_size || ph.p_filesz > file_size - ph.p_offset) {
      return Bad(path, absl::StrFormat("%s: file bytes [0x%x, +0x%x) lie outside the file "
                                       "(0x%x bytes): truncated?",
                                       seg, ph.p_offset, ph.p_filesz, file_size));
    }
    if (ph.p_vaddr > kMaxLoadEnd || ph.p_memsz > kMaxLoadEnd - ph.p_vaddr ||
        bias > kMaxLoadEnd - (ph.p_vaddr + ph.p_memsz) || ph.p_vaddr + bias < kMinLoadAddr) {
      return Bad(path,
                 absl::StrFormat("%s: memory [0x%x, +0x%x) (load bias 0x%x) is outside "
                                 "[0x%x, 0x%x)",
                                 seg, ph.p_vaddr, ph.p_memsz, bias, kMinLoadAddr, kMaxLoadEnd));
    }
    if (i > 0 && ph.p_vaddr < prev_end) {
      return Bad(path, absl::StrFormat("%s overlaps the segment before it (ending at 0x%x)", seg,
                                       prev_end));
    }
    prev_end = ph.p_vaddr + ph.p_memsz;
  }
  return absl::OkStatus();
}

struct Run {
  uint64_t gva;
  uint64_t end;
  uint32_t prot;
  RegionKind kind;
};

uint32_t ProtOf(const Elf64_Phdr& ph) {
  uint32_t prot = kProtNone;
  if (ph.p_flags & PF_R) prot |= kProtRead;
  if (ph.p_flags & PF_W) prot |= kProtWrite;
  if (ph.p_flags & PF_X) prot |= kProtExec;
  return prot;
}

// The page runs to map: each segment's pages with its protection, except that a page two
// segments share gets the union of both (the kernel would map it twice, the second mapping
// winning; the union keeps both segments usable). Adjacent runs alike are joined.
std::vector<Run> PlanRuns(const std::vector<Elf64_Phdr>& loads, uint64_t bias) {
  std::vector<Run> runs;
  for (const Elf64_Phdr& ph : loads) {
    const uint64_t start = PageDown(ph.p_vaddr + bias);
    const uint64_t end = PageUp(ph.p_vaddr + bias + ph.p_memsz);
    const uint32_t prot = ProtOf(ph);
    const RegionKind kind = (ph.p_flags & PF_X) ? RegionKind::kText : RegionKind::kData;
    uint64_t from = start;
    if (!runs.empty() && runs.back().end > start) {
      // Segments do not overlap, so only the last page of the previous run can be shared.
      Run shared = runs.back();
      shared.gva = start;
      shared.prot |= prot;
      if (kind == RegionKind::kText) shared.kind = kind;
      runs.back().end = start;
      if (runs.back().gva == runs.back().end) runs.pop_back();
      runs.push_back(shared);
      from = shared.end;
    }
    if (from < end) runs.push_back(Run{from, end, prot, kind});
  }
  std::vector<Run> joined;
  for (const Run& r : runs) {
    if (!joined.empty() && joined.back().end == r.gva && joined.back().prot == r.prot &&
        joined.back().kind == r.kind) {
      joined.back().end = r.end;
    } else {
      joined.push_back(r);
    }
  }
  return joined;
}

absl::Status CopySegment(const std::string& path, int fd, const Elf64_Phdr& ph, uint64_t bias,
                         GuestMemory& mem) {
  std::vector<uint8_t> buf(std::min<uint64_t>(ph.p_filesz, kCopyChunk));
  for (uint64_t done = 0; done < ph.p_filesz;) {
    const uint64_t n = std::min<uint64_t>(ph.p_filesz - done, buf.size());
    if (absl::Status s = ReadAt(path, fd, ph.p_offset + done, buf.data(), n); !s.ok()) return s;
    const uint64_t gva = ph.p_vaddr + bias + done;
    if (mem.WriteIgnoringProt(gva, buf.data(), n) != n) {
      return absl::InternalError(absl::StrFormat(
          "%s: guest range [0x%x, +0x%x) was just mapped but is not there", path, gva, n));
    }
    done += n;
  }
  return absl::OkStatus();
}

// Where AT_PHDR points: PT_PHDR if there is one, else the table inside whichever PT_LOAD holds
// its file bytes (as Linux computes it).
absl::StatusOr<uint64_t> PhdrAddress(const std::string& path, const Elf64_Ehdr& eh,
                                     const std::vector<Elf64_Phdr>& phdrs,
                                     const std::vector<Elf64_Phdr>& loads, uint64_t bias) {
  for (const Elf64_Phdr& ph : phdrs) {
    if (ph.p_type == PT_PHDR) return ph.p_vaddr + bias;
  }
  const uint64_t phdr_bytes = uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  for (const Elf64_Phdr& ph : loads) {
    if (ph.p_offset <= eh.e_phoff && eh.e_phoff - ph.p_offset <= ph.p_filesz &&
        phdr_bytes <= ph.p_filesz - (eh.e_phoff - ph.p_offset)) {
      return ph.p_vaddr + (eh.e_phoff - ph.p_offset) + bias;
    }
  }
  return Bad(path,
             "the program headers are in no PT_LOAD segment, so the program could not "
             "find them (AT_PHDR)");
}

// What LoadElf checked and will map: everything but guest memory.
struct ElfPlan {
  Fd fd;
  LoadedImage image;
  Elf64_Ehdr eh;
  std::vector<Elf64_Phdr> phdrs;
  std::vector<Elf64_Phdr> loads;
};

absl::StatusOr<ElfPlan> PlanElf(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    const std::string what = absl::StrFormat("open %s: %s", path, strerror(err));
    return err == ENOENT ? absl::NotFoundError(what) : absl::PermissionDeniedError(what);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return absl::UnavailableError(absl::StrFormat("fstat %s: %s", path, strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return Bad(path, "not a regular file");
  const uint64_t file_size = st.st_size;

  Elf64_Ehdr eh;
  if (file_size < SELFMAG) return Bad(path, "not an ELF file");
  if (absl::Status s = ReadAt(path, fd.get(), 0, eh.e_ident, SELFMAG); !s.ok()) return s;
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return Bad(path, "not an ELF file");
  if (file_size < sizeof(eh)) {
    return Bad(path, absl::StrFormat("file of %d bytes is too short for an ELF header: truncated?",
                                     file_size));
  }
  if (absl::Status s = ReadAt(path, fd.get(), 0, &eh, sizeof(eh)); !s.ok()) return s;
  if (absl::Status s = CheckHeader(path, eh, file_size); !s.ok()) return s;

  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  if (absl::Status s =
          ReadAt(path, fd.get(), eh.e_phoff, phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr));
      !s.ok()) {
    return s;
  }
  std::vector<Elf64_Phdr> loads;
  for (const Elf64_Phdr& ph : phdrs) {
    if (ph.p_type == PT_INTERP) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s: dynamically linked payloads are not supported: link with -static", path));
    }
    if (ph.p_type == PT_LOAD && ph.p_memsz > 0) loads.push_back(ph);
  }
  if (loads.empty()) return Bad(path, "no PT_LOAD segment");

  LoadedImage image;
  image.path = path;
  image.pie = eh.e_type == ET_DYN;
  if (image.pie) {
    // Its lowest page goes at ELF_ET_DYN_BASE, where Linux puts a PIE that has an interpreter.
    // (Linux puts an interpreter-less one in the randomized mmap area; a fixed, familiar base
    // keeps debugging sessions reproducible and the image clear of mmap(NULL).)
    uint64_t lowest = loads[0].p_vaddr;
    for (const Elf64_Phdr& ph : loads) lowest = std::min(lowest, ph.p_vaddr);
    if (PageDown(lowest) > kPieLoadBias) {
      return Bad(path,
                 absl::StrFormat("position-independent image starts too high (0x%x)", lowest));
    }
    image.load_bias = kPieLoadBias - PageDown(lowest);
  }
  const uint64_t bias = image.load_bias;
  if (absl::Status s = CheckLoads(path, loads, bias, file_size); !s.ok()) return s;

  const uint64_t entry = eh.e_entry + bias;
  if (std::none_of(loads.begin(), loads.end(), [&](const Elf64_Phdr& ph) {
        return eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz;
      })) {
    return Bad(path, absl::StrFormat("entry point 0x%x is in no PT_LOAD segment", eh.e_entry));
  }
  absl::StatusOr<uint64_t> phdr_gva = PhdrAddress(path, eh, phdrs, loads, bias);
  if (!phdr_gva.ok()) return phdr_gva.status();
  image.entry = entry;
  image.phdr_gva = *phdr_gva;
  image.phent = eh.e_phentsize;
  image.phnum = eh.e_phnum;
  image.brk_start = PageUp(loads.back().p_vaddr + loads.back().p_memsz + bias);
  return ElfPlan{std::move(fd), std::move(image), eh, std::move(phdrs), std::move(loads)};
}

}  // namespace

absl::Status CheckElf(const std::string& path) { return PlanElf(path).status(); }

absl::StatusOr<LoadedImage> LoadElf(const std::string& path, GuestMemory& mem) {
  absl::StatusOr<ElfPlan> plan = PlanElf(path);
  if (!plan.ok()) return plan.status();
  const std::vector<Elf64_Phdr>& loads = plan->loads;
  const uint64_t bias = plan->image.load_bias;
  const std::vector<Run> runs = PlanRuns(loads, bias);
  for (size_t i = 0; i < runs.size(); ++i) {
    const Run& r = runs[i];
    absl::Status s = mem.Map(r.gva, r.end - r.gva, r.prot, r.kind, path);
    if (!s.ok()) {
      for (size_t j = 0; j < i; ++j)
        mem.Unmap(runs[j].gva, runs[j].end - runs[j].gva).IgnoreError();
      return absl::Status(s.code(), absl::StrFormat("%s: loading segments: %s", path, s.message()));
    }
  }
  for (const Elf64_Phdr& ph : loads) {
    if (absl::Status s = CopySegment(path, plan->fd.get(), ph, bias, mem); !s.ok()) {
      for (const Run& r : runs) mem.Unmap(r.gva, r.end - r.gva).IgnoreError();
      return s;
    }
  }
  return std::move(plan->image);
}

}  // namespace km
