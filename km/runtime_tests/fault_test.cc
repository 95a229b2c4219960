#include "km/runtime/fault.h"

#include <signal.h>

#include "gtest/gtest.h"

namespace km {
namespace {

TEST(FaultTest, PageFaultReportsTheFaultingAddress) {
  FatalSignal s = SignalForException(14, 0x401136, 0x0);
  EXPECT_EQ(s.signo, SIGSEGV);
  EXPECT_EQ(FaultMessage(s),
            "km: payload terminated by SIGSEGV (Segmentation fault) at rip 0x401136, fault "
            "address 0x0");
  EXPECT_EQ(SignalForException(14, 0x401000, 0xdead000).addr, 0xdead000u);
}

TEST(FaultTest, VectorsMapToLinuxSignals) {
  struct Case {
    int vector;
    int signo;
    uint64_t addr;  // for rip 0x1234, fault address 0x5678
  } cases[] = {
      {0, SIGFPE, 0x1234},  {16, SIGFPE, 0x1234}, {19, SIGFPE, 0x1234}, {6, SIGILL, 0x1234},
      {13, SIGSEGV, 0},     {12, SIGSEGV, 0},     {11, SIGSEGV, 0},     {14, SIGSEGV, 0x5678},
      {3, SIGTRAP, 0x1234}, {1, SIGTRAP, 0x1234}, {17, SIGBUS, 0x1234}, {8, SIGSEGV, 0},
  };
  for (const Case& c : cases) {
    FatalSignal s = SignalForException(c.vector, 0x1234, 0x5678);
    EXPECT_EQ(s.signo, c.signo) << "vector " << c.vector;
    EXPECT_EQ(s.addr, c.addr) << "vector " << c.vector;
    EXPECT_EQ(s.rip, 0x1234u);
  }
}

TEST(FaultTest, ExitStatusIs128PlusSignal) {
  EXPECT_EQ(ExitStatusForSignal(SIGSEGV), 139);
  EXPECT_EQ(ExitStatusForSignal(SIGILL), 132);
  EXPECT_EQ(ExitStatusForSignal(SIGFPE), 136);
  EXPECT_EQ(ExitStatusForSignal(SIGTRAP), 133);
  EXPECT_EQ(ExitStatusForSignal(SIGBUS), 135);
  EXPECT_EQ(ExitStatusForSignal(SIGABRT), 134);
}

TEST(FaultTest, Messages) {
  EXPECT_EQ(FaultMessage(SignalForException(6, 0x401000, 0)),
            "km: payload terminated by SIGILL (Illegal instruction) at rip 0x401000, fault "
            "address 0x401000");
  EXPECT_EQ(FaultMessage(SignalForException(0, 0x40100a, 0)),
            "km: payload terminated by SIGFPE (Floating point exception) at rip 0x40100a, fault "
            "address 0x40100a");
  EXPECT_EQ(KillMessage(SIGABRT), "km: payload terminated by SIGABRT (Aborted)");
  EXPECT_EQ(SignalName(SIGTRAP), "SIGTRAP");
  EXPECT_EQ(SignalName(200), "signal 200");
}

TEST(FaultTest, HaltIsAGeneralProtectionFault) {
  FatalSignal s = SignalForHalt(0x401000);
  EXPECT_EQ(s.signo, SIGSEGV);
  EXPECT_EQ(s.addr, 0u);
}

}  // namespace
}  // namespace km
