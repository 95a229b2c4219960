#include "km/runtime/fault.h"

#include <signal.h>
#include <string.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace km {
namespace {

enum Vector {
  kDE = 0, kDB = 1, kBP = 3, kUD = 6, kNP = 11, kSS = 12, kGP = 13, kPF = 14, kMF = 16,
  kAC = 17, kXM = 19,
};

}  // namespace

FatalSignal SignalForException(int vector, uint64_t rip, uint64_t fault_addr) {
  switch (vector) {
    case kPF:
      return {SIGSEGV, rip, fault_addr};
    case kGP:
    case kSS:
    case kNP:
      return {SIGSEGV, rip, 0};
    case kUD:
      return {SIGILL, rip, rip};
    case kDE:
    case kMF:
    case kXM:
      return {SIGFPE, rip, rip};
    case kBP:
    case kDB:
      return {SIGTRAP, rip, rip};
    case kAC:
      return {SIGBUS, rip, rip};
    default:
      // Double faults, machine checks and the like have no user-level meaning; Linux would kill
      // the process, and SIGSEGV is what a user expects from "the CPU refused".
      return {SIGSEGV, rip, 0};
  }
}

FatalSignal SignalForHalt(uint64_t rip) { return {SIGSEGV, rip, 0}; }

SignalInfo SignalInfoForFault(const FatalSignal& sig, int vector, bool addr_mapped) {
  constexpr int kSiKernel = 0x80;
  SignalInfo info;
  info.signo = sig.signo;
  info.fault = true;
  info.trapno = vector < 0 ? kGP : vector;
  info.rip = sig.rip;
  info.addr = sig.addr;
  switch (vector) {
    case kPF:
      info.code = addr_mapped ? SEGV_ACCERR : SEGV_MAPERR;
      break;
    case kUD:
      info.code = ILL_ILLOPN;
      break;
    case kDE:
      info.code = FPE_INTDIV;
      break;
    case kDB:
      info.code = TRAP_TRACE;
      break;
    case kAC:
      info.code = BUS_ADRALN;
      break;
    default:  // #GP and its kin, int3, x87 and SIMD errors whose cause km does not decode
      info.code = kSiKernel;
      break;
  }
  return info;
}

std::string SignalName(int signo) {
  // sigabbrev_np and sigdescr_np (glibc 2.32+) are thread-safe, unlike strsignal.
  const char* abbrev = sigabbrev_np(signo);
  if (abbrev == nullptr) return absl::StrFormat("signal %d", signo);
  return absl::StrCat("SIG", abbrev);
}

std::string SignalDescription(int signo) {
  const char* descr = sigdescr_np(signo);
  if (descr == nullptr) return absl::StrFormat("Unknown signal %d", signo);
  return descr;
}

std::string FaultMessage(const FatalSignal& sig) {
  return absl::StrFormat("km: payload terminated by %s (%s) at rip 0x%x, fault address 0x%x",
                         SignalName(sig.signo), SignalDescription(sig.signo), sig.rip, sig.addr);
}

std::string KillMessage(int signo) {
  return absl::StrFormat("km: payload terminated by %s (%s)", SignalName(signo),
                         SignalDescription(signo));
}

}  // namespace km
