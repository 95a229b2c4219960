// The fixture of the syscall handler tests: a Process on a fake engine (it runs nothing) with
// real guest memory, and a way to make a syscall on its main thread.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "km/runtime/process.h"
#include "km/runtime_tests/fake_engine.h"
#include "km/syscalls/dispatch.h"

namespace km::testing {

inline constexpr uint64_t kData = 0x400000;  // RW scratch for arguments
inline constexpr uint64_t kDataSize = 0x10000;
inline constexpr uint64_t kBrkStart = 0x800000;

class SyscallsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<GuestMemory>> mem = GuestMemory::Create(64 << 20, 16 << 20);
    ASSERT_TRUE(mem.ok()) << mem.status();
    auto engine = std::make_unique<FakeEngine>();
    engine_ = engine.get();
    ASSERT_TRUE((*mem)->AttachEngine(engine_).ok());
    ASSERT_TRUE((*mem)->Map(kData, kDataSize, kProtRead | kProtWrite, RegionKind::kData, "d").ok());
    LoadedImage image;
    image.path = "/proc/self/exe";
    image.brk_start = kBrkStart;
    absl::StatusOr<std::unique_ptr<Process>> p =
        Process::FromParts(*std::move(mem), std::move(engine), image, InitialStack{});
    ASSERT_TRUE(p.ok()) << p.status();
    process_ = *std::move(p);
  }

  int64_t Call(uint64_t nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
               uint64_t a4 = 0, uint64_t a5 = 0) {
    Regs regs{};
    regs.rax = nr;
    regs.rdi = a0;
    regs.rsi = a1;
    regs.rdx = a2;
    regs.r10 = a3;
    regs.r8 = a4;
    regs.r9 = a5;
    SyscallContext ctx(*process_, *process_->main_thread(), regs);
    const int64_t r = DispatchSyscall(ctx);
    last_end_thread_ = ctx.end_thread;
    return r;
  }

  GuestMemory& mem() { return process_->memory(); }

  // Puts a string in guest memory at kData + offset and returns its address.
  uint64_t GuestString(const std::string& s, uint64_t offset = 0) {
    EXPECT_TRUE(mem().Write(kData + offset, s.c_str(), s.size() + 1).ok());
    return kData + offset;
  }

  std::string TempPath() {
    const char* dir = getenv("TEST_TMPDIR");
    return std::string(dir != nullptr ? dir : "/tmp") + "/km_syscalls_test_" +
           std::to_string(getpid());
  }

  FakeEngine* engine_ = nullptr;
  std::unique_ptr<Process> process_;
  bool last_end_thread_ = false;
};

}  // namespace km::testing
