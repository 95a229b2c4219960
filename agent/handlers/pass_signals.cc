// QPassSignals: the signals gdb would let through at once (`handle SIG nostop noprint pass`, by
// default SIGALRM, SIGCHLD, SIGURG, SIGWINCH, SIGIO, SIGPROF, SIGVTALRM...) reach the payload in
// km without a stop and a round trip to gdb each. gdb sends an empty list before each step off a
// breakpoint and its list again before the continue after it; km stops a stepping thread at any
// signal anyway, so in all-stop the list waits for a resume where it matters and reaches km only
// when it changed there: no call at all for that back and forth.
//
// QProgramSignals: the signals gdb lets the program have at all (`handle SIG pass`). gdb decides
// for each resume it asks for; the list matters when km resumes threads on its own, at the end
// of the session: a thread stopped with a signal gdb would not pass must not get it then (a
// SIGINT typed at km's terminal, say, then `detach`), as gdbserver does with the same list. It
// reaches km at once, so that it holds however the session ends (the agent killed too).
#include "agent/arch/signals.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/packets/misc.h"

namespace agent {

namespace {

// A parsed signal list packet in Linux numbers; nullopt (logged) for a malformed one.
std::optional<std::vector<int>> LinuxSignals(const absl::StatusOr<std::vector<int>>& gdb_signals) {
  if (!gdb_signals.ok()) {
    Log(gdb_signals.status().message());
    return std::nullopt;
  }
  std::vector<int> linux_signals;
  for (int g : *gdb_signals) {
    const int s = arch::GdbToLinuxSignal(g);
    if (s > 0) {
      linux_signals.push_back(s);
      continue;
    }
    // gdb's number for the signals it cannot name stands for each of them (SIGSTKFLT); gdb
    // also lists signals Linux does not have (SIGEMT, SIGLOST...), which nothing raises here.
    for (int l = 1; l <= 64; ++l) {
      if (arch::LinuxToGdbSignal(l) == g) linux_signals.push_back(l);
    }
  }
  return linux_signals;
}

}  // namespace

Response Handlers::PassSignals(absl::string_view packet) {
  std::optional<std::vector<int>> signals = LinuxSignals(rsp::ParsePassSignals(packet));
  if (!signals) return Response{{"E01"}};
  pass_signals_wanted_ = *std::move(signals);
  // Non-stop: threads run while gdb changes the list; it holds from now on.
  if (non_stop_) {
    absl::Status s = target_.PassSignals(pass_signals_wanted_);
    if (!s.ok()) return Failed(s);
    pass_signals_in_km_ = pass_signals_wanted_;
  }
  return Response{{"OK"}};
}

Response Handlers::ProgramSignals(absl::string_view packet) {
  std::optional<std::vector<int>> signals = LinuxSignals(rsp::ParseProgramSignals(packet));
  if (!signals) return Response{{"E01"}};
  if (absl::Status s = target_.ProgramSignals(*signals); !s.ok()) return Failed(s);
  return Response{{"OK"}};
}

absl::Status Handlers::FlushPassSignals(const std::vector<ThreadAction>& actions) {
  if (pass_signals_wanted_ == pass_signals_in_km_) return absl::OkStatus();
  if (LoneStep(actions) != nullptr) return absl::OkStatus();
  absl::Status s = target_.PassSignals(pass_signals_wanted_);
  if (s.ok()) pass_signals_in_km_ = pass_signals_wanted_;
  return s;
}

}  // namespace agent
