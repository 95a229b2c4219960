// Signals sent to km from the host go to the payload, as if sent to it: a shell's ^C, `kill
// -TERM`, a terminal's SIGWINCH, a child's SIGCHLD (the payload's children are km's) reach the
// payload's handlers, or end it as they would end it
// natively. km keeps SIGUSR1 (late attach, km_hooks/late_attach.h), lets job control (SIGTSTP,
// SIGCONT...) stop and continue km as a whole, and ignores SIGPIPE for itself (a guest write
// to a broken pipe raises the guest's own).
#pragma once

#include "km/runtime/process.h"

namespace km {

// First thing in main, before km makes any thread (they all inherit the mask): blocks the
// forwarded signals, so that one arriving during start-up waits for ForwardHostSignals.
void BlockForwardedSignals();

// Whether a signal sent to km reaches its payload as that signal: the forwarded ones, and those
// the host acts on for km as it would for the payload (SIGKILL, job control's stops and SIGCONT).
// Not km's own (SIGUSR1 attaches a debugger).
bool ReachesPayload(int signo);

// Takes the forwarded signals on a thread of its own and sends each to the payload
// (Process::SendSignal), with its sender's pid and uid.
void ForwardHostSignals(Process& process);

}  // namespace km
