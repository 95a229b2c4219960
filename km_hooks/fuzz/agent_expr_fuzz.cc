// libFuzzer target for gdb's agent expressions as km runs them at a breakpoint hit: the
// bytecode of a condition or of a breakpoint command (a dprintf's printf), which reaches km from
// the network through the agent with no more than a syntax check. The input's first byte picks
// condition or command and seeds the registers; the rest is the bytecode, run against a page of
// guest memory that holds the input itself (so %s and ref reads find strings and pointers).
// Checks: validation never lets through what evaluation cannot decode safely, and a command's
// output stays within its bound.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "km_hooks/agent_expr.h"
#include "km_hooks/agent_printf.h"

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

constexpr uint64_t kPage = 0x10000;
constexpr size_t kPageSize = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool command = data[0] & 1;
  const uint8_t seed = data[0];
  const std::string code(reinterpret_cast<const char*>(data + 1), size - 1);
  if (!km_hooks::ValidateAgentExpr(code).ok()) return 0;

  std::string page(kPageSize, '\0');
  memcpy(page.data(), data, std::min(size, kPageSize));
  auto reg = [seed](int regnum) -> std::optional<uint64_t> {
    if (regnum > 60) return std::nullopt;
    // Some registers point into the page, others hold small numbers or nothing useful.
    return regnum % 3 == 0 ? kPage + ((seed * 16 + regnum) % kPageSize) : uint64_t(regnum * seed);
  };
  auto read = [&page](uint64_t addr, void* dst, size_t len) {
    if (addr < kPage || addr - kPage > kPageSize || len > kPageSize - (addr - kPage)) return false;
    memcpy(dst, page.data() + (addr - kPage), len);
    return true;
  };
  const km_hooks::AgentExprEnv env{reg, read};
  if (command) {
    absl::StatusOr<std::string> out = km_hooks::RunAgentCommand(code, env);
    if (out.ok()) Check(out->size() <= km_hooks::kMaxPrintfOutput);
  } else {
    (void)km_hooks::EvalAgentExpr(code, env);
  }
  return 0;
}
