// Conversions between km's own types and the km.debug.v1 messages.
#pragma once

#include "absl/status/status.h"
#include "km/guest_memory.h"
#include "km/regs.h"
#include "proto/km_debug.pb.h"

namespace km_hooks {

namespace v1 = ::km::debug::v1;

void ToProto(const km::Regs& regs, v1::Registers* out);
void ToProto(const km::FpuRegs& fpu, v1::FpuRegisters* out);
void ToProto(const km::Region& region, v1::MemoryRegion* out);
km::Regs FromProto(const v1::Registers& in);
// Fails naming the field whose size is wrong.
absl::Status FromProto(const v1::FpuRegisters& in, km::FpuRegs* out);

}  // namespace km_hooks
