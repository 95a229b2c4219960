// How wide a faulting instruction's memory access is and whether a store also reads: what a
// page-protection watchpoint needs to decide whether the access touched the watched bytes, since
// a #PF gives only the first faulting address and whether it was a write. A table of the common
// integer and SSE forms, not a decoder: anything else counts as a 16-byte read-and-write, so an
// unknown instruction may report a neighbour's access but never misses one.
#include "km/engine_kvm_internal.h"

namespace km::kvm {
namespace {

bool IsLegacyPrefix(uint8_t b) {
  switch (b) {
    case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
    case 0x2e: case 0x36: case 0x3e: case 0x26: case 0x64: case 0x65:
      return true;
    default:
      return false;
  }
}

MemoryAccess Reads(int width) { return {width, true}; }
MemoryAccess Stores(int width) { return {width, false}; }

// Two-byte opcodes (0F xx). sse: the width of a packed SSE operand after the mandatory prefix.
MemoryAccess TwoByte(uint8_t op, uint8_t modrm_reg, int opsize, bool rex_w, int sse) {
  if (op >= 0x40 && op <= 0x4f) return Reads(opsize);  // cmovcc
  if (op >= 0x90 && op <= 0x9f) return Stores(1);      // setcc
  switch (op) {
    case 0xb6: case 0xbe: return Reads(1);  // movzx, movsx from r/m8
    case 0xb7: case 0xbf: return Reads(2);
    case 0xaf: return Reads(opsize);        // imul r, r/m
    case 0xb0: case 0xc0: return Reads(1);  // cmpxchg, xadd r/m8
    case 0xb1: case 0xc1: return Reads(opsize);
    case 0xc7: if (modrm_reg == 1) return Reads(rex_w ? 16 : 8);  // cmpxchg8b/16b
      break;
    case 0xc3: return Stores(opsize);       // movnti
    case 0x10: case 0x28: return Reads(sse);    // movups/movss/movsd, movaps
    case 0x11: case 0x29: case 0x2b: return Stores(sse);
    case 0x12: case 0x16: return Reads(8);      // movlps, movhps
    case 0x13: case 0x17: return Stores(8);
    case 0x6e: return Reads(rex_w ? 8 : 4);     // movd/movq xmm, r/m
    case 0xd6: return Stores(8);                // movq m64, xmm
    default:
      break;
  }
  return {16, true};
}

}  // namespace

MemoryAccess ClassifyAccess(const uint8_t* insn, size_t n) {
  const MemoryAccess unknown = {16, true};
  size_t i = 0;
  bool opsize16 = false, rep = false, repne = false;
  for (; i < n && IsLegacyPrefix(insn[i]); ++i) {
    if (insn[i] == 0x66) opsize16 = true;
    if (insn[i] == 0xf3) rep = true;
    if (insn[i] == 0xf2) repne = true;
  }
  bool rex_w = false;
  if (i < n && (insn[i] & 0xf0) == 0x40) rex_w = (insn[i++] & 0x08) != 0;
  if (i >= n) return unknown;
  const int opsize = rex_w ? 8 : opsize16 ? 2 : 4;
  const int stack = opsize16 ? 2 : 8;  // push and pop default to 64 bits
  const uint8_t op = insn[i];
  const uint8_t reg = i + 1 < n ? (insn[i + 1] >> 3) & 7 : 0;

  if (op == 0x0f) {
    if (i + 1 >= n) return unknown;
    const uint8_t op2 = insn[i + 1];
    const uint8_t reg2 = i + 2 < n ? (insn[i + 2] >> 3) & 7 : 0;
    // movq/movdqa/movdqu and their stores: 16 bytes with 66 or F3, 8 (MMX) without.
    if (op2 == 0x6f) return Reads(opsize16 || rep ? 16 : 8);
    if (op2 == 0x7f || op2 == 0xe7) return Stores(opsize16 || rep ? 16 : 8);
    if (op2 == 0x7e) return rep ? Reads(8) : Stores(rex_w ? 8 : 4);
    const int sse = rep ? 4 : repne ? 8 : 16;
    return TwoByte(op2, reg2, opsize, rex_w, sse);
  }
  if (op < 0x40 && (op & 7) < 4) {
    // add/or/adc/sbb/and/sub/xor/cmp: even forms are r/m8.
    return Reads((op & 1) ? opsize : 1);
  }
  if (op >= 0x50 && op <= 0x57) return Stores(stack);  // push r
  if (op >= 0x58 && op <= 0x5f) return Reads(stack);   // pop r
  switch (op) {
    case 0x63: return Reads(4);                          // movsxd
    case 0x68: case 0x6a: case 0x9c: case 0xe8: return Stores(stack);  // push imm, pushf, call
    case 0x69: case 0x6b: return Reads(opsize);         // imul r, r/m, imm
    case 0x80: case 0x82: case 0x84: case 0x86: case 0x8a: return Reads(1);
    case 0x81: case 0x83: case 0x85: case 0x87: case 0x8b: return Reads(opsize);
    case 0x88: case 0xc6: case 0xa2: return Stores(1);
    case 0x89: case 0xc7: case 0xa3: return Stores(opsize);
    case 0x8c: return Stores(2);
    case 0x8e: return Reads(2);
    case 0x8f: return Stores(stack);                    // pop r/m: the store is the operand
    case 0x9d: case 0xc3: case 0xc2: case 0xc9: return Reads(stack);  // popf, ret, leave
    case 0xa0: return Reads(1);
    case 0xa1: return Reads(opsize);
    // String instructions: a write fault is the destination, which they only store.
    case 0xa4: case 0xaa: return Stores(1);
    case 0xa5: case 0xab: return Stores(opsize);
    case 0xa6: case 0xac: case 0xae: return Reads(1);
    case 0xa7: case 0xad: case 0xaf: return Reads(opsize);
    case 0xc0: case 0xd0: case 0xd2: case 0xf6: case 0xfe: return Reads(1);
    case 0xc1: case 0xd1: case 0xd3: case 0xf7: return Reads(opsize);
    case 0xff:
      if (reg == 2 || reg == 4) return Reads(8);  // call, jmp through memory
      if (reg == 6) return Stores(stack);         // push r/m: a write fault is the stack's
      return Reads(opsize);                       // inc, dec
    default:
      return unknown;
  }
}

}  // namespace km::kvm
