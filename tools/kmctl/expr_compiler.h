// kmctl's breakpoint conditions and dprintfs, compiled to gdb's agent expressions: the bytecode
// km evaluates at a hit (BreakpointRequest.conditions and .commands), so that a script has km
// decide whether a hit stops, or print at a hit without stopping, as gdb does with its own
// conditions and `dprintf` (docs/kmctl.md says how to write them).
//
// The language is a small C over 64-bit integers:
// - integers (42, 0x2a, 'a'); registers ($rax ... $r15, $rip, $eflags, $fs_base, $gs_base, the
//   aliases $pc $sp $fp, and the 32-bit $eax ... $esp, $r8d ... $r15d, signed as gdb types them);
//   symbols of --elf, which stand for their addresses (as `break main` does);
// - casts to C's integer types, pointers included: (int)$rdi, (unsigned char *)$rsi;
// - memory through a pointer: *(int *)counter, *((long *)$rdi + 1) (pointer arithmetic scales);
// - C's operators and precedence: unary - ! ~ *, * / %, + -, << >>, < <= > >=, == !=, &, ^, |,
//   && || (which evaluate their right side only when needed), and parentheses.
// A value is unsigned where C's would be for 64-bit operands: when an operand is an unsigned
// long (or pointer), or both are unsigned.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/kmctl/parse.h"

namespace kmctl {

// A condition: km stops the thread when it is not zero.
absl::StatusOr<std::string> CompileCondition(absl::string_view text,
                                             const AddressResolver& resolver);

// `"FORMAT"[, ARG]...`, as gdb's dprintf takes it: km prints FORMAT (C escapes allowed) with
// the arguments' values at each hit, and the thread runs on.
absl::StatusOr<std::string> CompileDprintf(absl::string_view text, const AddressResolver& resolver);

}  // namespace kmctl
