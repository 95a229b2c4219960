#include "km_hooks/agent_expr.h"

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "km_hooks/agent_expr_opcodes.h"
#include "km_hooks/agent_printf.h"

namespace km_hooks {
namespace {

using namespace agent_expr_op;  // NOLINT: the opcodes read as the gdb manual names them

// Operand bytes that follow an opcode; -1 for an unknown opcode. printf's are variable and
// measured separately.
int OperandSize(uint8_t op) {
  switch (op) {
    case kTraceQuick:
    case kExt:
    case kConst8:
    case kZeroExt:
    case kPick:
      return 1;
    case kIfGoto:
    case kGoto:
    case kConst16:
    case kReg:
    case kGetv:
    case kSetv:
    case kTracev:
    case kTrace16:
      return 2;
    case kConst32:
      return 4;
    case kConst64:
      return 8;
    case kPrintf:
      return 0;
    default:
      return (op >= kFloat && op <= kRot && op != 0x31) ? 0 : -1;
  }
}

// Big-endian, as gdb encodes every operand.
uint64_t Operand(absl::string_view code, size_t at, int size) {
  uint64_t v = 0;
  for (int i = 0; i < size; ++i) v = (v << 8) | static_cast<uint8_t>(code[at + i]);
  return v;
}

// The length of a printf's operands (nargs, a 16-bit string length, the string), or -1.
int PrintfOperandSize(absl::string_view code, size_t pc) {
  if (pc + 3 > code.size()) return -1;
  const uint64_t len = Operand(code, pc + 1, 2);
  if (pc + 3 + len > code.size()) return -1;
  return static_cast<int>(3 + len);
}

absl::Status Malformed(size_t pc, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrFormat("agent expression at byte %d: %s", pc, what));
}

// A condition must leave its value and has no business printing; a breakpoint command may
// print and a tracepoint's collection may record, and either may end with an empty stack.
enum class Kind { kCondition, kCommand, kCollect };

class Machine {
 public:
  Machine(absl::string_view code, const AgentExprEnv& env, Kind kind)
      : code_(code), env_(env), kind_(kind) {}

  // What the command's printf calls printed.
  const std::string& output() const { return output_; }

  absl::StatusOr<uint64_t> Run() {
    size_t pc = 0;
    for (int steps = 0; steps < kMaxAgentExprSteps; ++steps) {
      if (pc >= code_.size()) return Malformed(pc, "ran past the end without 'end'");
      const uint8_t op = static_cast<uint8_t>(code_[pc]);
      const int size = op == kPrintf ? PrintfOperandSize(code_, pc + 1) : OperandSize(op);
      if (size < 0) return Malformed(pc, absl::StrFormat("unknown opcode 0x%02x", op));
      if (pc + 1 + size > code_.size()) return Malformed(pc, "operand runs past the end");
      const uint64_t arg = op == kPrintf ? 0 : Operand(code_, pc + 1, size);
      const size_t next = pc + 1 + size;
      if (op == kEnd) {
        if (sp_ == 0 && kind_ != Kind::kCondition) return 0;
        if (sp_ == 0) return Malformed(pc, "'end' with an empty stack");
        return stack_[sp_ - 1];
      }
      absl::StatusOr<size_t> to =
          op == kPrintf && kind_ == Kind::kCommand ? Printf(pc, next) : Execute(op, arg, pc, next);
      if (!to.ok()) return to.status();
      pc = *to;
    }
    return absl::ResourceExhaustedError(
        absl::StrFormat("agent expression still running after %d bytecodes", kMaxAgentExprSteps));
  }

 private:
  absl::Status Push(uint64_t v) {
    if (sp_ == stack_.size()) return absl::ResourceExhaustedError("agent expression stack full");
    stack_[sp_++] = v;
    return absl::OkStatus();
  }
  absl::Status Need(size_t n, size_t pc) {
    if (sp_ < n) return Malformed(pc, "stack underflow");
    return absl::OkStatus();
  }
  uint64_t& Top(size_t depth = 0) { return stack_[sp_ - 1 - depth]; }

  // Pops b, then a, and pushes f(a, b).
  template <typename F>
  absl::Status Binary(size_t pc, F f) {
    if (absl::Status s = Need(2, pc); !s.ok()) return s;
    const uint64_t b = Top();
    --sp_;
    absl::StatusOr<uint64_t> r = f(Top(), b);
    if (!r.ok()) return r.status();
    Top() = *r;
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Read(uint64_t addr, size_t len, size_t pc) {
    uint8_t bytes[8] = {};
    if (!env_.read(addr, bytes, len)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "agent expression at byte %d reads unmapped memory at 0x%x", pc, addr));
    }
    uint64_t v = 0;
    for (size_t i = len; i > 0; --i) v = (v << 8) | bytes[i - 1];  // x86 is little-endian
    return v;
  }

  // Operands: nargs, the format's length (with its NUL), the format. Pops the function and the
  // channel (gdb's dprintf-function and dprintf-channel, which the agent style does not use),
  // then the arguments, the first on top.
  absl::StatusOr<size_t> Printf(size_t pc, size_t next) {
    const size_t nargs = static_cast<uint8_t>(code_[pc + 1]);
    const size_t len = Operand(code_, pc + 2, 2);
    if (len == 0 || code_[pc + 3 + len] != '\0') {
      return Malformed(pc, "printf format without its terminating NUL");
    }
    if (absl::Status s = Need(2 + nargs, pc); !s.ok()) return s;
    sp_ -= 2;
    std::vector<uint64_t> args(nargs);
    for (uint64_t& a : args) a = stack_[--sp_];
    absl::StatusOr<std::string> text =
        FormatAgentPrintf(code_.substr(pc + 4, len - 1), args, env_.read);
    if (!text.ok()) return text.status();
    if (output_.size() + text->size() > kMaxPrintfOutput) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("a breakpoint command printing more than %d bytes", kMaxPrintfOutput));
    }
    output_ += *text;
    return next;
  }

  static absl::Status NoVariables(uint8_t op) {
    return absl::UnimplementedError(absl::StrFormat(
        "agent expression opcode 0x%02x: trace state variables exist only at tracepoints", op));
  }

  absl::StatusOr<size_t> Jump(uint64_t target, size_t pc) {
    if (target >= code_.size()) return Malformed(pc, "jump past the end");
    return static_cast<size_t>(target);
  }

  absl::StatusOr<size_t> Execute(uint8_t op, uint64_t arg, size_t pc, size_t next) {
    using R = absl::StatusOr<uint64_t>;
    auto signed_of = [](uint64_t v) { return static_cast<int64_t>(v); };
    absl::Status s;
    switch (op) {
      case kAdd: s = Binary(pc, [](uint64_t a, uint64_t b) -> R { return a + b; }); break;
      case kSub: s = Binary(pc, [](uint64_t a, uint64_t b) -> R { return a - b; }); break;
      case kMul: s = Binary(pc, [](uint64_t a, uint64_t b) -> R { return a * b; }); break;
      case kDivSigned:
      case kRemSigned:
        s = Binary(pc, [&](uint64_t a, uint64_t b) -> R {
          if (b == 0) return absl::InvalidArgumentError("agent expression divides by zero");
          // INT64_MIN / -1 overflows in C++; the two's complement answer is INT64_MIN, rest 0.
          if (signed_of(b) == -1) return op == kDivSigned ? 0 - a : 0;
          return static_cast<uint64_t>(op == kDivSigned ? signed_of(a) / signed_of(b)
                                                        : signed_of(a) % signed_of(b));
        });
        break;
      case kDivUnsigned:
      case kRemUnsigned:
        s = Binary(pc, [&](uint64_t a, uint64_t b) -> R {
          if (b == 0) return absl::InvalidArgumentError("agent expression divides by zero");
          return op == kDivUnsigned ? a / b : a % b;
        });
        break;
      case kLsh: s = Binary(pc, [](uint64_t a, uint64_t b) -> R { return b >= 64 ? 0 : a << b; }); break;
      case kRshSigned:
        s = Binary(pc, [&](uint64_t a, uint64_t b) -> R {
          return static_cast<uint64_t>(signed_of(a) >> (b >= 64 ? 63 : b));
        });
        break;
      case kRshUnsigned: s = Binary(pc, [](uint64_t a, uint64_t b) -> R { return b >= 64 ? 0 : a >> b; }); break;
      case kBitAnd: s = Binary(pc, [](uint64_t a, uint64_t b) -> R { return a & b; }); break;
      case kBitOr: s = Binary(pc, [](uint64_t a, uint64_t b) -> R { return a | b; }); break;
      case kBitXor: s = Binary(pc, [](uint64_t a, uint64_t b) -> R { return a ^ b; }); break;
      case kEqual: s = Binary(pc, [](uint64_t a, uint64_t b) -> R { return a == b; }); break;
      case kLessSigned: s = Binary(pc, [&](uint64_t a, uint64_t b) -> R { return signed_of(a) < signed_of(b); }); break;
      case kLessUnsigned: s = Binary(pc, [](uint64_t a, uint64_t b) -> R { return a < b; }); break;
      case kLogNot:
      case kBitNot:
        if ((s = Need(1, pc)).ok()) Top() = op == kLogNot ? !Top() : ~Top();
        break;
      case kExt:
        if (arg == 0) return Malformed(pc, "ext 0");
        if ((s = Need(1, pc)).ok() && arg < 64) {
          const uint64_t sign = uint64_t{1} << (arg - 1);
          Top() &= (uint64_t{1} << arg) - 1;
          Top() = (Top() ^ sign) - sign;
        }
        break;
      case kZeroExt:
        if ((s = Need(1, pc)).ok() && arg < 64) Top() &= (uint64_t{1} << arg) - 1;
        break;
      case kRef8:
      case kRef16:
      case kRef32:
      case kRef64: {
        if (!(s = Need(1, pc)).ok()) break;
        absl::StatusOr<uint64_t> v = Read(Top(), size_t{1} << (op - kRef8), pc);
        if (!v.ok()) return v.status();
        Top() = *v;
        break;
      }
      case kIfGoto: {
        if (!(s = Need(1, pc)).ok()) break;
        const bool taken = Top() != 0;
        --sp_;
        if (taken) return Jump(arg, pc);
        break;
      }
      case kGoto:
        return Jump(arg, pc);
      case kConst8:
      case kConst16:
      case kConst32:
      case kConst64:
        s = Push(arg);
        break;
      case kReg: {
        std::optional<uint64_t> v = env_.reg(static_cast<int>(arg));
        if (!v) {
          return absl::UnimplementedError(
              absl::StrFormat("agent expression reads register %d, which km does not offer", arg));
        }
        s = Push(*v);
        break;
      }
      case kDup:
        if ((s = Need(1, pc)).ok()) s = Push(Top());
        break;
      case kPop:
        if ((s = Need(1, pc)).ok()) --sp_;
        break;
      case kSwap:
        if ((s = Need(2, pc)).ok()) std::swap(Top(0), Top(1));
        break;
      case kPick:
        if ((s = Need(arg + 1, pc)).ok()) s = Push(Top(arg));
        break;
      case kRot:
        // a b c => c a b
        if ((s = Need(3, pc)).ok()) {
          const uint64_t c = Top(0);
          Top(0) = Top(1);
          Top(1) = Top(2);
          Top(2) = c;
        }
        break;
      // Collection bytecodes record data for tracepoints; elsewhere there is nothing to record
      // into, so they do nothing beyond their stack effect.
      case kTrace:
      case kTracenz:
        if (!(s = Need(2, pc)).ok()) break;
        if (env_.trace) env_.trace->RecordMemory(Top(1), Top(0), op == kTracenz);
        sp_ -= 2;
        break;
      case kTraceQuick:
      case kTrace16:
        if (!(s = Need(1, pc)).ok()) break;
        if (env_.trace) env_.trace->RecordMemory(Top(), arg, /*until_zero=*/false);
        break;
      case kTracev:
        if (env_.trace) s = env_.trace->RecordVariable(static_cast<int>(arg));
        break;
      case kGetv: {
        if (!env_.trace) return NoVariables(op);
        absl::StatusOr<int64_t> v = env_.trace->GetVariable(static_cast<int>(arg));
        if (!v.ok()) return v.status();
        s = Push(static_cast<uint64_t>(*v));
        break;
      }
      case kSetv:
        if (!env_.trace) return NoVariables(op);
        if ((s = Need(1, pc)).ok()) {
          s = env_.trace->SetVariable(static_cast<int>(arg), static_cast<int64_t>(Top()));
        }
        break;
      default:
        return absl::UnimplementedError(
            absl::StrFormat("agent expression opcode 0x%02x (floating point or printf) is not "
                            "evaluated by km",
                            op));
    }
    if (!s.ok()) return s;
    return next;
  }

  absl::string_view code_;
  const AgentExprEnv& env_;
  const Kind kind_;
  std::array<uint64_t, kMaxAgentExprStack> stack_{};
  size_t sp_ = 0;
  std::string output_;
};

}  // namespace

absl::Status ValidateAgentExpr(absl::string_view code) {
  if (code.empty()) return absl::InvalidArgumentError("empty agent expression");
  if (code.size() > kMaxAgentExprBytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "agent expression of %d bytes: at most %d", code.size(), kMaxAgentExprBytes));
  }
  for (size_t pc = 0; pc < code.size();) {
    const uint8_t op = static_cast<uint8_t>(code[pc]);
    const int size = op == kPrintf ? PrintfOperandSize(code, pc + 1) : OperandSize(op);
    if (size < 0) return Malformed(pc, absl::StrFormat("unknown opcode 0x%02x", op));
    if (pc + 1 + size > code.size()) return Malformed(pc, "operand runs past the end");
    if ((op == kGoto || op == kIfGoto) && Operand(code, pc + 1, 2) >= code.size()) {
      return Malformed(pc, "jump past the end");
    }
    if (op == kExt && Operand(code, pc + 1, 1) == 0) return Malformed(pc, "ext 0");
    pc += 1 + size;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> EvalAgentExpr(absl::string_view bytecode, const AgentExprEnv& env) {
  return Machine(bytecode, env, Kind::kCondition).Run();
}

absl::StatusOr<std::string> RunAgentCommand(absl::string_view bytecode, const AgentExprEnv& env) {
  Machine machine(bytecode, env, Kind::kCommand);
  if (absl::Status s = machine.Run().status(); !s.ok()) return s;
  return machine.output();
}

absl::Status RunAgentCollect(absl::string_view bytecode, const AgentExprEnv& env) {
  return Machine(bytecode, env, Kind::kCollect).Run().status();
}

}  // namespace km_hooks
