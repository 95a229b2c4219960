// An engine that runs nothing: lets tests build a Process and call syscall handlers on its
// main thread without a CPU.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "km/engine.h"

namespace km::testing {

class FakeVcpu : public Vcpu {
 public:
  explicit FakeVcpu(int id) : id_(id) {}
  int id() const override { return id_; }
  absl::StatusOr<VcpuExit> Run() override {
    return absl::UnimplementedError("the fake engine runs nothing");
  }
  void RequestStop() override {}
  absl::Status GetRegs(Regs* regs) override {
    *regs = regs_;
    return absl::OkStatus();
  }
  absl::Status SetRegs(const Regs& regs) override {
    regs_ = regs;
    return absl::OkStatus();
  }
  absl::Status GetFpu(FpuRegs* fpu) override {
    *fpu = fpu_;
    return absl::OkStatus();
  }
  absl::Status SetFpu(const FpuRegs& fpu) override {
    fpu_ = fpu;
    return absl::OkStatus();
  }
  absl::Status SetSingleStep(bool) override { return absl::OkStatus(); }
  absl::Status SetHwBreakpoints(const std::vector<uint64_t>&) override {
    return absl::OkStatus();
  }
  absl::Status SetWatchpoints(const std::vector<Watchpoint>&) override {
    return absl::OkStatus();
  }
  void SkipBreakpointOnce() override {}
  absl::Status StepOverBreakpoint(uint64_t, uint8_t) override { return absl::OkStatus(); }

 private:
  int id_;
  Regs regs_{};
  FpuRegs fpu_{};
};

class FakeEngine : public Engine {
 public:
  std::string_view name() const override { return "fake"; }
  EngineCaps caps() const override { return {}; }
  absl::Status MapRegion(uint64_t, uint64_t, uint64_t, uint32_t) override {
    return absl::OkStatus();
  }
  absl::Status UnmapRegion(uint64_t, uint64_t) override { return absl::OkStatus(); }
  absl::Status ProtectRegion(uint64_t, uint64_t, uint32_t) override { return absl::OkStatus(); }
  void CodeModified(uint64_t, uint64_t) override { code_modified++; }
  absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(int id) override {
    return std::make_unique<FakeVcpu>(id);
  }

  int code_modified = 0;
};

}  // namespace km::testing
