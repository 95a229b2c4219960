// The text of an agent expression's printf (gdb's `dprintf` with `set dprintf-style agent`):
// gdb sends the format string as the user wrote it, escapes unprocessed, and the argument
// values as integers, so the target renders it. The format comes from the debugger and the
// %s strings from the guest: neither ever reaches the C library's printf as a format. Each
// directive is checked and rebuilt from the characters it allows before one value is
// formatted with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace km_hooks {

// Widest field and longest precision a directive may ask for, longest %s read from the guest
// without a precision, and most text one printf may produce.
inline constexpr int kMaxPrintfField = 1024;
inline constexpr size_t kMaxPrintfString = 4096;
inline constexpr size_t kMaxPrintfOutput = 64 * 1024;

// Copies len bytes at addr; false if any of them is unmapped.
using GuestRead = absl::FunctionRef<bool(uint64_t addr, void* dst, size_t len)>;

// Renders format with args (one per directive, in order). Integer directives take the low
// bits their length modifier names (%d an int, %ld a long...), %c a char, %p a pointer
// ("(nil)" for 0, as glibc), %s a NUL-terminated string read from the guest ("(null)" for 0).
// InvalidArgument for what gdb's own printf would refuse or km cannot do (an unknown escape or
// directive, %n, a '*' width, floating point, wide characters, a count of arguments that does
// not match); FailedPrecondition for a %s that reads unmapped memory.
absl::StatusOr<std::string> FormatAgentPrintf(absl::string_view format,
                                              absl::Span<const uint64_t> args, GuestRead read);

}  // namespace km_hooks
