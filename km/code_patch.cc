#include "km/code_patch.h"

namespace km {

void RestoreInt3(Engine& engine, const GuestMemory& mem, uint64_t addr, uint8_t original) {
  uint8_t now = 0;
  if (mem.ReadIgnoringProt(addr, &now, 1) != 1 || now != kInt3) return;
  engine.WriteCode(addr, 1, [&] { mem.WriteIgnoringProt(addr, &original, 1); });
}

}  // namespace km
