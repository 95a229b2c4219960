#include "agent/arch/siginfo.h"

#include <cstring>

namespace agent::arch {
namespace {

struct Siginfo {
  int32_t signo, errno_, code, pad;
  union {
    struct {
      int32_t pid;
      uint32_t uid;
    } kill;
    uint64_t addr;  // _sigfault
    uint8_t bytes[112];
  };
};
static_assert(sizeof(Siginfo) == 128);

Siginfo Header(int signo, int code) {
  Siginfo s;
  std::memset(&s, 0, sizeof s);
  s.signo = signo;
  s.code = code;
  return s;
}

std::string Bytes(const Siginfo& s) {
  return std::string(reinterpret_cast<const char*>(&s), sizeof s);
}

}  // namespace

std::string FaultSiginfo(int signo, int code, uint64_t addr) {
  Siginfo s = Header(signo, code);
  s.addr = addr;
  return Bytes(s);
}

std::string SentSiginfo(int signo, int code, int pid, uint32_t uid) {
  Siginfo s = Header(signo, code);
  s.kill.pid = pid;
  s.kill.uid = uid;
  return Bytes(s);
}

}  // namespace agent::arch
