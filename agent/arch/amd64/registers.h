// amd64 registers as gdb numbers them in its amd64 Linux target description (the order of
// target_xml.cc's documents): the g/G packets carry them in this order, p/P name them by it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::amd64 {

// gdb's register numbers.
inline constexpr int kRbp = 6;
inline constexpr int kRsp = 7;
inline constexpr int kRip = 16;
inline constexpr int kEflags = 17;
inline constexpr int kCs = 18;  // cs ss ds es fs gs: 18..23
inline constexpr int kSt0 = 24;
inline constexpr int kFctrl = 32;  // fctrl fstat ftag fiseg fioff foseg fooff fop: 32..39
inline constexpr int kXmm0 = 40;
inline constexpr int kMxcsr = 56;
inline constexpr int kOrigRax = 57;
inline constexpr int kFsBase = 58;
inline constexpr int kGsBase = 59;
inline constexpr int kYmm0h = 60;
// The general registers, 0..23, are the prefix of the g packet the agent sends.
inline constexpr int kGeneralCount = 24;
inline constexpr int kCountWithoutAvx = 60;
inline constexpr int kCountWithAvx = 76;

struct GeneralRegs {
  std::array<uint64_t, 16> gpr{};  // rax rbx rcx rdx rsi rdi rbp rsp r8..r15
  uint64_t rip = 0;
  uint64_t eflags = 0;
  std::array<uint32_t, 6> seg{};  // cs ss ds es fs gs
  uint64_t fs_base = 0;
  uint64_t gs_base = 0;
  uint64_t orig_rax = 0;

  bool operator==(const GeneralRegs&) const = default;
};

using Bytes10 = std::array<uint8_t, 10>;
using Bytes16 = std::array<uint8_t, 16>;

struct FpuRegs {
  std::array<Bytes10, 8> st{};
  // fctrl fstat ftag fiseg fioff foseg fooff fop, in gdb's order; ftag is the full tag word.
  std::array<uint32_t, 8> x87_control{};
  std::array<Bytes16, 16> xmm{};
  uint32_t mxcsr = 0;
  std::array<Bytes16, 16> ymmh{};
  bool has_ymmh = false;  // the engine has AVX state

  bool operator==(const FpuRegs&) const = default;
};

struct Registers {
  GeneralRegs general;
  std::optional<FpuRegs> fpu;  // fetched only when gdb asks for one of its registers
};

// How many registers the target description has.
int RegisterCount(bool avx);
// A register's size in bytes; 0 for a number outside the description.
int RegisterSize(int regnum, bool avx);
// Whether the register lives in FpuRegs (so reading it needs the FPU state).
bool IsFpuRegister(int regnum);

// The raw little-endian bytes of one register. FPU registers need regs.fpu.
absl::StatusOr<std::string> ReadRegister(const Registers& regs, int regnum, bool avx);
// Sets one register from its raw bytes (exactly RegisterSize bytes).
absl::Status WriteRegister(Registers& regs, int regnum, absl::string_view value, bool avx);

// The g reply's bytes: the general registers 0..23. gdb fetches the rest with p as needed, so a
// stop costs no FPU read.
std::string EncodeGeneral(const GeneralRegs& regs);
// A G packet's bytes: as many registers as it carries, in order; FPU registers need regs.fpu.
absl::Status DecodeRegisters(absl::string_view raw, Registers& regs, bool avx);

}  // namespace agent::amd64
