#include "km_hooks/debugger_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace km_hooks {
namespace {

std::atomic<int> output_fd{-1};

}  // namespace

void KeepDebuggerOutput() {
  // Above the numbers a payload usually gets, and close-on-exec so no host child inherits it.
  output_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 100);
}

void PrintForDebugger(absl::string_view text) {
  const int fd = output_fd.load();
  if (fd < 0) return;
  while (!text.empty()) {
    const ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace km_hooks
