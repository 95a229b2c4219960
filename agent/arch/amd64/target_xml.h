// The target description gdb reads through qXfer:features:read:target.xml: gdb's own amd64
// Linux features (core, sse, linux, segments, and avx when the engine has AVX), registers in the
// order registers.h numbers them.
#pragma once

#include <string>

namespace agent::amd64 {

std::string TargetXml(bool avx);

}  // namespace agent::amd64
