#include "km/runtime/core_file.h"

#include <elf.h>
#include <errno.h>
#include <sys/procfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "km/engine.h"
#include "km/guest_memory.h"
#include "km/runtime/fpu_image.h"
#include "km/runtime/signal_frame.h"

namespace km {
namespace {

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

class NoteWriter {
 public:
  void Add(const char* name, uint32_t type, const void* desc, size_t len) {
    const Elf64_Nhdr header{static_cast<Elf64_Word>(std::strlen(name) + 1),
                            static_cast<Elf64_Word>(len), type};
    Append(&header, sizeof header);
    Append(name, header.n_namesz);
    Pad();
    Append(desc, len);
    Pad();
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void Append(const void* p, size_t len) { bytes_.append(static_cast<const char*>(p), len); }
  void Pad() { bytes_.resize(AlignUp(bytes_.size(), 4), '\0'); }
  std::string bytes_;
};

// user_regs_struct's order, which is elf_gregset_t's.
void FillGregs(const CoreThread& t, elf_gregset_t gregs) {
  const Regs& r = t.regs;
  const uint64_t values[] = {
      r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx, r.r11, r.r10, r.r9,
      r.r8,  r.rax, r.rcx, r.rdx, r.rsi, r.rdi,
      t.in_syscall ? r.rax : ~uint64_t{0},  // orig_rax: -1 outside a syscall
      r.rip, r.cs,  r.rflags, r.rsp, r.ss, r.fs_base, r.gs_base, r.ds, r.es, r.fs, r.gs};
  static_assert(sizeof values / sizeof values[0] == ELF_NGREG);
  std::copy(std::begin(values), std::end(values), gregs);
}

void AddThreadStatus(const CoreProcess& core, const CoreThread& t, NoteWriter& notes) {
  elf_prstatus status;
  std::memset(&status, 0, sizeof status);
  // Linux gives every thread the signal that dumped the process.
  status.pr_info.si_signo = core.signal.signo;
  status.pr_cursig = static_cast<short>(core.signal.signo);
  status.pr_sigpend = t.pending;
  status.pr_sighold = t.blocked;
  status.pr_pid = t.tid;
  status.pr_ppid = core.ppid;
  status.pr_pgrp = core.pgrp;
  status.pr_sid = core.sid;
  FillGregs(t, status.pr_reg);
  status.pr_fpvalid = 1;
  notes.Add("CORE", NT_PRSTATUS, &status, sizeof status);
}

void AddThreadFpu(const CoreProcess& core, const CoreThread& t, NoteWriter& notes) {
  FpuImage img = ToFpuImage(t.fpu, core.avx);
  notes.Add("CORE", NT_PRFPREG, &img, kFxsaveSize);
  if (!core.avx) return;
  const uint64_t xcr0 = kXfeaturesX87SseAvx;
  std::memcpy(reinterpret_cast<uint8_t*>(&img) + kXstateXcr0Offset, &xcr0, sizeof xcr0);
  notes.Add("LINUX", NT_X86_XSTATE, &img, kXsaveSize);
}

void AddProcessInfo(const CoreProcess& core, NoteWriter& notes) {
  elf_prpsinfo info;
  std::memset(&info, 0, sizeof info);
  info.pr_sname = 'R';
  info.pr_uid = core.uid;
  info.pr_gid = core.gid;
  info.pr_pid = core.pid;
  info.pr_ppid = core.ppid;
  info.pr_pgrp = core.pgrp;
  info.pr_sid = core.sid;
  std::strncpy(info.pr_fname, core.name.c_str(), sizeof info.pr_fname - 1);
  const std::string args = absl::StrJoin(core.argv, " ");
  std::strncpy(info.pr_psargs, args.c_str(), sizeof info.pr_psargs - 1);
  notes.Add("CORE", NT_PRPSINFO, &info, sizeof info);
}

std::string BuildNotes(const CoreProcess& core) {
  NoteWriter notes;
  // Linux's order: the dumping thread's status, then what belongs to the process, then that
  // thread's FPU state; then each other thread's status and FPU state.
  for (size_t i = 0; i < core.threads.size(); i++) {
    const CoreThread& t = core.threads[i];
    AddThreadStatus(core, t, notes);
    if (i == 0) {
      AddProcessInfo(core, notes);
      const std::array<uint8_t, 128> siginfo = KernelSiginfoBytes(core.signal);
      notes.Add("CORE", NT_SIGINFO, siginfo.data(), siginfo.size());
      notes.Add("CORE", NT_AUXV, core.auxv.data(), core.auxv.size());
    }
    AddThreadFpu(core, t, notes);
  }
  return notes.bytes();
}

// pwrite()s what falls below the limit; all-zero pages of memory are skipped (holes).
class LimitedFile {
 public:
  LimitedFile(int fd, uint64_t limit) : fd_(fd), limit_(limit) {}

  absl::Status Write(uint64_t offset, const void* data, uint64_t len) {
    if (offset >= limit_) return absl::OkStatus();
    len = std::min(len, limit_ - offset);
    const char* p = static_cast<const char*>(data);
    while (len > 0) {
      const ssize_t n = ::pwrite(fd_, p, len, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return absl::ErrnoToStatus(n < 0 ? errno : ENOSPC,
                                   absl::StrFormat("writing the core at offset %d", offset));
      }
      p += n;
      offset += n;
      len -= n;
    }
    return absl::OkStatus();
  }

  absl::Status WriteMemory(uint64_t offset, const uint8_t* bytes, uint64_t len) {
    static const uint8_t kZeroPage[kPageSize] = {};
    for (uint64_t done = 0; done < len; done += kPageSize) {
      const uint64_t n = std::min(kPageSize, len - done);
      if (std::memcmp(bytes + done, kZeroPage, n) == 0) continue;
      if (absl::Status s = Write(offset + done, bytes + done, n); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // The file ends at `size` (or the limit): the holes at its end count. Returns its length.
  absl::StatusOr<uint64_t> Finish(uint64_t size) {
    const uint64_t length = std::min(size, limit_);
    if (::ftruncate(fd_, static_cast<off_t>(length)) != 0) {
      return absl::ErrnoToStatus(errno, "sizing the core");
    }
    return length;
  }

 private:
  const int fd_;
  const uint64_t limit_;
};

uint32_t SegmentFlags(uint32_t prot) {
  return ((prot & kProtRead) != 0 ? PF_R : 0) | ((prot & kProtWrite) != 0 ? PF_W : 0) |
         ((prot & kProtExec) != 0 ? PF_X : 0);
}

}  // namespace

absl::StatusOr<uint64_t> WriteCoreFile(int fd, const CoreProcess& core, uint64_t limit) {
  const std::string notes = BuildNotes(core);
  const size_t phnum = 1 + core.mappings.size();

  Elf64_Ehdr eh;
  std::memset(&eh, 0, sizeof eh);
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
  eh.e_type = ET_CORE;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof eh;
  eh.e_ehsize = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = static_cast<Elf64_Half>(phnum);

  std::vector<Elf64_Phdr> phdrs(phnum);
  const uint64_t notes_offset = sizeof eh + phnum * sizeof(Elf64_Phdr);
  phdrs[0].p_type = PT_NOTE;
  phdrs[0].p_offset = notes_offset;
  phdrs[0].p_filesz = notes.size();
  phdrs[0].p_align = 4;
  uint64_t offset = AlignUp(notes_offset + notes.size(), kPageSize);
  for (size_t i = 0; i < core.mappings.size(); i++) {
    const CoreMapping& m = core.mappings[i];
    Elf64_Phdr& ph = phdrs[i + 1];
    ph.p_type = PT_LOAD;
    ph.p_flags = SegmentFlags(m.prot);
    ph.p_offset = offset;
    ph.p_vaddr = m.gva;
    ph.p_filesz = m.bytes != nullptr ? m.size : 0;
    ph.p_memsz = m.size;
    ph.p_align = kPageSize;
    offset += ph.p_filesz;
  }

  LimitedFile file(fd, limit);
  absl::Status s = file.Write(0, &eh, sizeof eh);
  if (s.ok()) s = file.Write(sizeof eh, phdrs.data(), phnum * sizeof(Elf64_Phdr));
  if (s.ok()) s = file.Write(notes_offset, notes.data(), notes.size());
  for (size_t i = 0; s.ok() && i < core.mappings.size(); i++) {
    if (core.mappings[i].bytes == nullptr) continue;
    s = file.WriteMemory(phdrs[i + 1].p_offset, core.mappings[i].bytes, core.mappings[i].size);
  }
  if (!s.ok()) return s;
  return file.Finish(offset);
}

}  // namespace km
