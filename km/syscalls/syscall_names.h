// Names of x86-64 Linux syscalls, for messages about the ones km does not serve.
#pragma once

#include <cstdint>
#include <string_view>

namespace km {

// The kernel's name for syscall nr ("openat"), or "unknown".
std::string_view SyscallName(int64_t nr);

}  // namespace km
