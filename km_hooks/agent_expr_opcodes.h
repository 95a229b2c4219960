// The opcodes of gdb's agent expressions (gdb's ax.def, the gdb manual's "Agent Expressions"):
// part of the protocol, they never change. km evaluates them (agent_expr.h); kmctl compiles
// its conditions and dprintfs to them (tools/kmctl/expr_compiler.h).
#pragma once

#include <cstdint>

namespace km_hooks::agent_expr_op {

enum Op : uint8_t {
  kFloat = 0x01,
  kAdd = 0x02,
  kSub = 0x03,
  kMul = 0x04,
  kDivSigned = 0x05,
  kDivUnsigned = 0x06,
  kRemSigned = 0x07,
  kRemUnsigned = 0x08,
  kLsh = 0x09,
  kRshSigned = 0x0a,
  kRshUnsigned = 0x0b,
  kTrace = 0x0c,
  kTraceQuick = 0x0d,
  kLogNot = 0x0e,
  kBitAnd = 0x0f,
  kBitOr = 0x10,
  kBitXor = 0x11,
  kBitNot = 0x12,
  kEqual = 0x13,
  kLessSigned = 0x14,
  kLessUnsigned = 0x15,
  kExt = 0x16,
  kRef8 = 0x17,
  kRef16 = 0x18,
  kRef32 = 0x19,
  kRef64 = 0x1a,
  kRefFloat = 0x1b,
  kRefDouble = 0x1c,
  kRefLongDouble = 0x1d,
  kLToD = 0x1e,
  kDToL = 0x1f,
  kIfGoto = 0x20,
  kGoto = 0x21,
  kConst8 = 0x22,
  kConst16 = 0x23,
  kConst32 = 0x24,
  kConst64 = 0x25,
  kReg = 0x26,
  kEnd = 0x27,
  kDup = 0x28,
  kPop = 0x29,
  kZeroExt = 0x2a,
  kSwap = 0x2b,
  kGetv = 0x2c,
  kSetv = 0x2d,
  kTracev = 0x2e,
  kTracenz = 0x2f,
  kTrace16 = 0x30,
  kPick = 0x32,
  kRot = 0x33,
  kPrintf = 0x34,
};

}  // namespace km_hooks::agent_expr_op
