// The guest kernel's bytes: stub code, descriptor tables, and the CPL3 long-mode register state.
#include <cstring>

#include "km/engine_kvm_internal.h"

namespace km::kvm {
namespace {

// `out %al, $port` reads AL and writes nothing, so the payload's registers survive the exit.
void EmitOut(uint8_t* p, uint16_t port) {
  p[0] = 0xe6;
  p[1] = static_cast<uint8_t>(port);
  p[2] = 0x0f;  // ud2: the vCPU never resumes after the out, this only guards against it
  p[3] = 0x0b;
}

}  // namespace

bool VectorHasErrorCode(int vector) {
  switch (vector) {
    case 8:
    case 10:
    case 11:
    case 12:
    case 13:
    case 14:
    case 17:
    case 21:
    case 29:
    case 30:
      return true;
    default:
      return false;
  }
}

void WriteStubPage(uint8_t* page) {
  // int3 everywhere else: stray execution in the guest kernel faults and is reported, instead of
  // sliding into the next stub.
  std::memset(page, 0xcc, kPage);
  EmitOut(page + (kSyscallEntry - kStubPage), kPortSyscall);
  uint8_t* eretu = page + (kEretu - kStubPage);
  eretu[0] = 0x0f;  // syscall: PVM's EVENT_RETURN_USER when at MSR_PVM_RETU_RIP
  eretu[1] = 0x05;
  eretu[2] = 0x0f;
  eretu[3] = 0x0b;
  for (int v = 0; v < kIdtVectors; ++v) {
    EmitOut(page + (kIdtStubs - kStubPage) + v * kIdtStubSize, kPortExceptionBase + v);
  }
}

void WriteEventPage(uint8_t* page) {
  // PVM enters at +0 for events from user mode and at fixed 256-byte multiples for events in
  // supervisor mode (the offset differs between PVM versions), so every such slot reports.
  std::memset(page, 0xcc, kPage);
  EmitOut(page, kPortUserEvent);
  for (uint64_t off = 256; off < kPage; off += 256) EmitOut(page + off, kPortKernelEvent);
}

void WriteIdtPage(uint8_t* page) {
  std::memset(page, 0, kPage);
  for (int v = 0; v < kIdtVectors; ++v) {
    const uint64_t handler = kIdtStubs + v * kIdtStubSize;
    uint8_t* gate = page + v * 16;
    Put<uint16_t>(gate + 0, handler & 0xffff);
    Put<uint16_t>(gate + 2, kKernelCs);
    gate[4] = 1;  // IST1: the frame always lands at the top of the vCPU page
    // Present 64-bit interrupt gate; int3 and into may be raised from CPL3, as on Linux.
    gate[5] = (v == 3 || v == 4) ? 0xee : 0x8e;
    Put<uint16_t>(gate + 6, (handler >> 16) & 0xffff);
    Put<uint32_t>(gate + 8, handler >> 32);
  }
}

void WriteCpuPage(uint8_t* page, uint64_t gva) {
  std::memset(page, 0, kPage);
  // Accessed bits preset so the CPU never writes the GDT.
  const uint64_t gdt[7] = {
      0,
      0,
      0x00af9b000000ffff,  // 0x10 kernel code, 64-bit
      0x00cf93000000ffff,  // 0x18 kernel data
      0x00cffb000000ffff,  // 0x23 user code, 32-bit (STAR's base for the user selectors)
      0x00cff3000000ffff,  // 0x2b user data
      0x00affb000000ffff,  // 0x33 user code, 64-bit
  };
  std::memcpy(page + kGdtOffset, gdt, sizeof gdt);
  const uint64_t tss = gva + kTssOffset;
  const uint64_t tss_low = (kTssLimit & 0xffff) | ((tss & 0xffffff) << 16) | (0x8bull << 40) |
                           ((uint64_t{kTssLimit} >> 16 & 0xf) << 48) | ((tss >> 24 & 0xff) << 56);
  Put<uint64_t>(page + kGdtOffset + kTssSelector, tss_low);
  Put<uint64_t>(page + kGdtOffset + kTssSelector + 8, tss >> 32);

  const uint64_t stack_top = gva + kPage;
  uint8_t* t = page + kTssOffset;
  Put<uint64_t>(t + 4, stack_top);        // RSP0
  Put<uint64_t>(t + 36, stack_top);       // IST1
  Put<uint16_t>(t + 102, kTssLimit + 1);  // I/O bitmap beyond the limit: no port for CPL3
}

void SetUserSregs(kvm_sregs* s, uint64_t cpu_page_gva, uint64_t pml4, bool osxsave) {
  kvm_segment code{};
  code.base = 0;
  code.limit = 0xffffffff;
  code.selector = kUserCs;
  code.type = 0xb;
  code.present = 1;
  code.dpl = 3;
  code.db = 0;
  code.s = 1;
  code.l = 1;
  code.g = 1;
  s->cs = code;

  kvm_segment data = code;
  data.selector = kUserDs;
  data.type = 0x3;
  data.db = 1;
  data.l = 0;
  s->ss = data;

  // Null selectors, as Linux starts a process with; 64-bit mode still uses the FS/GS bases.
  kvm_segment null{};
  null.unusable = 1;
  s->ds = null;
  s->es = null;
  s->fs = null;
  s->gs = null;

  kvm_segment tr{};
  tr.base = cpu_page_gva + kTssOffset;
  tr.limit = kTssLimit;
  tr.selector = kTssSelector;
  tr.type = 0xb;  // busy 64-bit TSS
  tr.present = 1;
  s->tr = tr;

  kvm_segment ldt{};
  ldt.type = 0x2;
  ldt.unusable = 1;
  s->ldt = ldt;

  s->gdt.base = cpu_page_gva + kGdtOffset;
  s->gdt.limit = kGdtLimit;
  s->idt.base = kIdtPage;
  s->idt.limit = kIdtVectors * 16 - 1;

  s->cr0 = 0x80050033;  // PG AM WP NE ET MP PE, as Linux
  s->cr3 = pml4;
  // PAE OSFXSR OSXMMEXCPT, and OSXSAVE where the vCPU has XSAVE.
  s->cr4 = (1u << 5) | (1u << 9) | (1u << 10) | (osxsave ? (1u << 18) : 0);
  s->efer = (1u << 0) | (1u << 8) | (1u << 10) | (1u << 11);  // SCE LME LMA NXE
  s->cr8 = 0;
  std::memset(s->interrupt_bitmap, 0, sizeof s->interrupt_bitmap);
}

}  // namespace km::kvm
