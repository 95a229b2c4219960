// g, G, p and P: registers of the thread Hg selected, from the stop's cached copy; only FPU
// registers cost an RPC, once per stop.
#include "absl/strings/str_format.h"
#include "agent/arch/amd64/registers.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/encoding.h"
#include "agent/rsp/packets/registers.h"

namespace agent {

Response Handlers::ReadAllRegisters() {
  absl::StatusOr<amd64::Registers> regs = threads().Registers(GeneralThread(), /*fpu=*/false);
  if (!regs.ok()) return Failed(regs.status());
  return Response{{rsp::HexEncode(amd64::EncodeGeneral(regs->general))}};
}

Response Handlers::WriteAllRegisters(absl::string_view packet) {
  absl::StatusOr<std::string> raw = rsp::HexDecode(packet.substr(1));
  if (!raw.ok()) return Failed(raw.status());
  const int tid = GeneralThread();
  // A G longer than the general registers carries FPU registers too.
  const bool fpu = raw->size() > amd64::EncodeGeneral({}).size();
  absl::StatusOr<amd64::Registers> regs = threads().Registers(tid, fpu);
  if (!regs.ok()) return Failed(regs.status());
  if (absl::Status s = amd64::DecodeRegisters(*raw, *regs, info_.avx); !s.ok()) return Failed(s);
  if (absl::Status s = threads().SetRegisters(tid, *regs); !s.ok()) return Failed(s);
  return Response{{"OK"}};
}

Response Handlers::ReadOneRegister(absl::string_view packet) {
  absl::StatusOr<int> regnum = rsp::ParseRegisterRead(packet.substr(1));
  if (!regnum.ok()) return Failed(regnum.status());
  if (amd64::RegisterSize(*regnum, info_.avx) == 0) {
    return Failed(absl::InvalidArgumentError(absl::StrFormat("no register %d", *regnum)));
  }
  absl::StatusOr<amd64::Registers> regs =
      threads().Registers(GeneralThread(), amd64::IsFpuRegister(*regnum));
  if (!regs.ok()) return Failed(regs.status());
  absl::StatusOr<std::string> value = amd64::ReadRegister(*regs, *regnum, info_.avx);
  if (!value.ok()) return Failed(value.status());
  return Response{{rsp::HexEncode(*value)}};
}

Response Handlers::WriteOneRegister(absl::string_view packet) {
  absl::StatusOr<rsp::RegisterWrite> write = rsp::ParseRegisterWrite(packet.substr(1));
  if (!write.ok()) return Failed(write.status());
  const int tid = GeneralThread();
  absl::StatusOr<amd64::Registers> regs = threads().Registers(tid, amd64::IsFpuRegister(write->regnum));
  if (!regs.ok()) return Failed(regs.status());
  absl::Status s = amd64::WriteRegister(*regs, write->regnum, write->value, info_.avx);
  if (!s.ok()) return Failed(s);
  // Only the state that changed goes back: the FPU state travels only for an FPU register.
  if (!amd64::IsFpuRegister(write->regnum)) regs->fpu.reset();
  if (absl::Status s = threads().SetRegisters(tid, *regs); !s.ok()) return Failed(s);
  return Response{{"OK"}};
}

}  // namespace agent
