// An ELF core file of a payload, in the layout Linux writes for an x86-64 process, so that
// `gdb PAYLOAD CORE` shows what it would show for a native process's core: every thread with
// its registers (general, x87/SSE, AVX where the engine has it), the signal that ended it
// ($_siginfo), the command line, the auxv (which places a static-pie payload), and the memory.
// This file only lays the bytes out; core_dump.h decides when and gathers the state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "km/regs.h"
#include "km/runtime/signal_state.h"

namespace km {

struct CoreThread {
  int tid = 0;
  Regs regs = {};
  FpuRegs fpu = {};
  // Stopped in a syscall: its number is rax (orig_rax in the core, as Linux records it).
  bool in_syscall = false;
  uint64_t pending = 0;  // signal sets
  uint64_t blocked = 0;
};

struct CoreMapping {
  uint64_t gva = 0;
  uint64_t size = 0;
  uint32_t prot = 0;  // kProt* bits
  // size bytes to dump, or nullptr for a mapping listed but not dumped (the payload's
  // read-only text, which gdb reads from the executable, as with Linux's default filter).
  const uint8_t* bytes = nullptr;
};

struct CoreProcess {
  int pid = 0, ppid = 0, pgrp = 0, sid = 0;
  uint32_t uid = 0, gid = 0;
  std::string name;                // Process::name()
  std::vector<std::string> argv;
  SignalInfo signal;               // what ended it
  std::string auxv;
  bool avx = false;  // the engine has AVX: each thread gets an NT_X86_XSTATE note
  std::vector<CoreThread> threads;  // the one the signal ended first: gdb's current thread
  std::vector<CoreMapping> mappings;  // sorted by gva, not overlapping
};

// Writes the core to fd, an empty regular file, and returns the file's length. As Linux does,
// it stops at `limit` bytes (the payload's RLIMIT_CORE) and leaves all-zero pages as holes.
// Fails with the errno's message if a write fails.
absl::StatusOr<uint64_t> WriteCoreFile(int fd, const CoreProcess& core, uint64_t limit);

}  // namespace km
