#include <regex>

#include "agent/arch/amd64/registers.h"
#include "agent/arch/amd64/target_xml.h"
#include "agent/arch/signals.h"
#include "gtest/gtest.h"

namespace agent {
namespace {

TEST(RegistersTest, SizesFollowGdbsAmd64Layout) {
  EXPECT_EQ(amd64::RegisterSize(0, false), 8);
  EXPECT_EQ(amd64::RegisterSize(amd64::kRip, false), 8);
  EXPECT_EQ(amd64::RegisterSize(amd64::kEflags, false), 4);
  EXPECT_EQ(amd64::RegisterSize(amd64::kSt0, false), 10);
  EXPECT_EQ(amd64::RegisterSize(amd64::kXmm0 + 15, false), 16);
  EXPECT_EQ(amd64::RegisterSize(amd64::kMxcsr, false), 4);
  EXPECT_EQ(amd64::RegisterSize(amd64::kGsBase, false), 8);
  EXPECT_EQ(amd64::RegisterSize(amd64::kYmm0h, false), 0);
  EXPECT_EQ(amd64::RegisterSize(amd64::kYmm0h, true), 16);
  EXPECT_EQ(amd64::EncodeGeneral({}).size(), 17 * 8 + 7 * 4u);
}

TEST(RegistersTest, ReadWriteRoundTrip) {
  amd64::Registers regs;
  regs.fpu.emplace();
  for (int n = 0; n < amd64::kCountWithAvx; ++n) {
    std::string value(static_cast<size_t>(amd64::RegisterSize(n, true)), '\0');
    for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(n + i);
    ASSERT_TRUE(amd64::WriteRegister(regs, n, value, true).ok()) << n;
    EXPECT_EQ(*amd64::ReadRegister(regs, n, true), value) << n;
  }
  EXPECT_EQ(regs.general.gpr[7], 0x0e0d0c0b0a090807u);  // rsp is register 7
  EXPECT_FALSE(amd64::WriteRegister(regs, 0, "abc", true).ok());
  EXPECT_FALSE(amd64::ReadRegister(regs, 76, true).ok());
}

TEST(RegistersTest, FpuRegistersNeedTheFpuState) {
  amd64::Registers regs;
  EXPECT_TRUE(amd64::ReadRegister(regs, amd64::kFsBase, false).ok());
  EXPECT_FALSE(amd64::ReadRegister(regs, amd64::kXmm0, false).ok());
  EXPECT_TRUE(amd64::IsFpuRegister(amd64::kMxcsr));
  EXPECT_FALSE(amd64::IsFpuRegister(amd64::kOrigRax));
}

TEST(RegistersTest, DecodeGeneralPrefixAndRejectTrailingBytes) {
  amd64::GeneralRegs g;
  g.gpr[0] = 1;
  g.rip = 0x401000;
  g.seg[5] = 0x2b;
  amd64::Registers regs;
  ASSERT_TRUE(amd64::DecodeRegisters(amd64::EncodeGeneral(g), regs, false).ok());
  EXPECT_EQ(regs.general, g);
  EXPECT_FALSE(amd64::DecodeRegisters(amd64::EncodeGeneral(g) + "x", regs, false).ok());
}

// The XML's order and sizes are what the g/p numbering assumes.
TEST(TargetXmlTest, RegistersInNumberOrderWithMatchingSizes) {
  for (bool avx : {false, true}) {
    const std::string xml = amd64::TargetXml(avx);
    std::regex reg(R"re(<reg name="(\w+)" bitsize="(\d+)" type="\w+" regnum="(\d+)")re");
    int expected = 0;
    for (auto it = std::sregex_iterator(xml.begin(), xml.end(), reg); it != std::sregex_iterator(); ++it) {
      EXPECT_EQ(std::stoi((*it)[3]), expected);
      EXPECT_EQ(std::stoi((*it)[2]), amd64::RegisterSize(expected, avx) * 8) << (*it)[1];
      ++expected;
    }
    EXPECT_EQ(expected, amd64::RegisterCount(avx));
    EXPECT_NE(xml.find("org.gnu.gdb.i386.linux"), std::string::npos);
    EXPECT_EQ(xml.find("org.gnu.gdb.i386.avx") != std::string::npos, avx);
  }
}

TEST(SignalsTest, LinuxAndGdbNumbering) {
  EXPECT_EQ(arch::LinuxToGdbSignal(11), 11);  // SIGSEGV
  EXPECT_EQ(arch::LinuxToGdbSignal(7), 10);   // SIGBUS
  EXPECT_EQ(arch::LinuxToGdbSignal(10), 30);  // SIGUSR1
  EXPECT_EQ(arch::LinuxToGdbSignal(17), 20);  // SIGCHLD
  EXPECT_EQ(arch::LinuxToGdbSignal(34), 46);  // SIGRTMIN+0 (musl) = SIG34
  EXPECT_EQ(arch::LinuxToGdbSignal(16), 143);
  for (int s = 1; s <= 64; ++s) {
    if (s == 16) continue;
    EXPECT_EQ(arch::GdbToLinuxSignal(arch::LinuxToGdbSignal(s)), s) << s;
  }
  EXPECT_EQ(arch::GdbToLinuxSignal(7), -1);  // SIGEMT
  EXPECT_EQ(arch::GdbToLinuxSignal(143), -1);
  EXPECT_EQ(arch::GdbToLinuxSignal(0), 0);
}

}  // namespace
}  // namespace agent
