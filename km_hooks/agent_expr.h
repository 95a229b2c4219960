// gdb's agent expressions (the "Agent Expressions" appendix of the gdb manual): the bytecode
// gdb compiles a breakpoint condition to when the target offers ConditionalBreakpoints, so that
// km can decide at the hit whether the stop is wanted, without a round trip to gdb; and the
// breakpoint commands it sends when the target offers BreakpointCommands (a dprintf with
// `set dprintf-style agent`: a printf km renders at the hit, with no stop at all).
//
// The evaluator is bounded (operand stack depth, instructions executed) and never touches the
// guest directly: registers and memory come through AgentExprEnv. What it cannot do (floating
// point, printf inside a condition, trace state variables outside a tracepoint) is an
// evaluation error, and so is a read of unmapped memory: as with gdbserver, the caller then
// reports the stop and gdb evaluates the condition itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace km_hooks {

// Longest condition accepted (gdb's packet size bounds what it can send anyway).
inline constexpr size_t kMaxAgentExprBytes = 4096;
inline constexpr size_t kMaxAgentExprStack = 256;
// A condition that loops (goto backwards) gives up after this many bytecodes.
inline constexpr int kMaxAgentExprSteps = 100000;

// What a tracepoint's expressions act on beyond registers and memory: the trace frame being
// collected (the trace bytecodes record into it) and the trace state variables.
class AgentExprTrace {
 public:
  virtual ~AgentExprTrace() = default;
  // Records len bytes at addr, or up to the first zero byte (included) when until_zero.
  // Unreadable memory is left out of the frame, not an error: gdb shows it unavailable.
  virtual void RecordMemory(uint64_t addr, uint64_t len, bool until_zero) = 0;
  // NotFound for a variable the run did not define.
  virtual absl::StatusOr<int64_t> GetVariable(int number) = 0;
  virtual absl::Status SetVariable(int number, int64_t value) = 0;
  virtual absl::Status RecordVariable(int number) = 0;
};

struct AgentExprEnv {
  // gdb's remote register number (the target description's order) to its value; nullopt for
  // a register the evaluator cannot read.
  absl::FunctionRef<std::optional<uint64_t>(int regnum)> reg;
  // Copies len bytes at addr; false if any of them is unmapped.
  absl::FunctionRef<bool(uint64_t addr, void* dst, size_t len)> read;
  // Set at tracepoints; without it trace bytecodes only pop their operands.
  AgentExprTrace* trace = nullptr;
};

// Checks the shape of an expression before it is accepted: every opcode known, every operand
// inside the bytecode, every jump target inside it. InvalidArgument says what is wrong.
absl::Status ValidateAgentExpr(absl::string_view bytecode);

// Runs the expression and returns the value on top of the stack at its `end`.
absl::StatusOr<uint64_t> EvalAgentExpr(absl::string_view bytecode, const AgentExprEnv& env);

// Runs a breakpoint command and returns what its printf bytecodes printed (agent_printf.h);
// unlike a condition it may end with an empty stack.
absl::StatusOr<std::string> RunAgentCommand(absl::string_view bytecode, const AgentExprEnv& env);

// Runs a tracepoint's collect (or teval) expression for what it records through env.trace and
// its effect on variables; it may end with an empty stack.
absl::Status RunAgentCollect(absl::string_view bytecode, const AgentExprEnv& env);

}  // namespace km_hooks
