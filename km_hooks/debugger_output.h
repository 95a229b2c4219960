// Where km prints what a debugger asks it to print at a breakpoint (a dprintf with gdb's
// `set dprintf-style agent`): km's standard output as it was when km started, which is where
// gdbserver prints the same. Guest fds are host fds, so the payload may close or replace fd 1
// (and its new fd 1 may be a file of its own); km keeps a duplicate the payload cannot name.
#pragma once

#include "absl/strings/string_view.h"

namespace km_hooks {

// At start-up, before the payload runs: keeps a duplicate of fd 1.
void KeepDebuggerOutput();

// Writes text in one piece where it can (a line from two threads never interleaves) to the
// duplicate; nowhere if there is none (fd 1 was closed when km started: the payload's next
// file may get that number). Errors (a closed pipe) are ignored: the payload must not stop
// over a debugger's printf.
void PrintForDebugger(absl::string_view text);

}  // namespace km_hooks
