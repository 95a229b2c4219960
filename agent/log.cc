#include "agent/log.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"

namespace agent {
namespace {

bool verbose = false;

}  // namespace

void Log(absl::string_view message) {
  const std::string line = absl::StrCat("km-gdb-agent: ", message, "\n");
  fwrite(line.data(), 1, line.size(), stderr);
  fflush(stderr);
}

void SetVerbose(bool v) { verbose = v; }
bool Verbose() { return verbose; }

}  // namespace agent
