// The agent's diagnostics on stderr (with --stdio, gdb shows them to its user).
#pragma once

#include "absl/strings/string_view.h"

namespace agent {

void Log(absl::string_view message);
// Packet traces, only with --verbose.
void SetVerbose(bool verbose);
bool Verbose();

}  // namespace agent
