// Extended mode (`target extended-remote`) and the process a connection debugs. gdb's `run`
// (vRun, R) starts a fresh km, `attach PID` (vAttach) attaches to a running one, and the
// connection outlives each process: when the payload exits or is killed, or gdb detaches, the
// session goes on with no process until the next run or attach. Every packet about the process
// goes to its Handlers, made anew for each process. In plain `target remote` the same class
// serves the one process the connection started with.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/handlers/handlers.h"
#include "agent/handlers/host_files.h"
#include "agent/process_source.h"
#include "agent/target.h"

namespace agent {

enum class SessionEnd {
  kGdbLeft,      // detached or disconnected; the payload runs on
  kPayloadGone,  // exited or killed: nothing left to debug
};

class ExtendedMode {
 public:
  // source may be null: run and attach are then refused.
  explicit ExtendedMode(ProcessSource* source);
  ~ExtendedMode();

  // The process the connection starts with: stopped, then served.
  absl::Status Adopt(std::unique_ptr<Target> target, bool attached);
  absl::Status AdoptBorrowed(Target& target, bool attached);

  Response Handle(absl::string_view packet);

  // The current process's event fd, or -1 with no process.
  int event_fd() const;
  // Takes the target's pending events; the stop replies they end in.
  std::vector<std::string> TakeEvents();
  // ^C (or vCtrlC): the stop reply, when something was running.
  std::optional<std::string> Interrupt();
  bool running() const;
  // Non-stop: the stop notification due now, if any.
  std::optional<std::string> TakeNotification();

  // gdb went away: a process still there runs on, detached.
  SessionEnd Disconnect();

 private:
  struct Process {
    std::unique_ptr<Target> owned;
    Target* target = nullptr;
    std::unique_ptr<Handlers> handlers;
    int pid = 0;
    bool attached = true;
    bool records = false;  // its engine can record: gdb may reverse
  };

  absl::Status Start(std::unique_ptr<Target> owned, Target* target, bool attached);
  // The process is gone or detached: drop it (and reap its km when it is gone).
  void Retire(bool gone);
  // A packet gdb sends with no process to ask about.
  Response WithoutProcess(absl::string_view packet);
  // QNonStop: the mode of the current process and of the ones started after it.
  Response SetNonStop(absl::string_view packet);

  Response QSupported(absl::string_view packet);
  Response Run(std::vector<std::string> argv);
  Response VRun(absl::string_view packet);
  Response Restart();
  Response VAttach(absl::string_view packet);
  Response Environment(absl::string_view packet);
  Response Osdata(absl::string_view packet);
  std::optional<Response> Monitor(absl::string_view packet);
  std::vector<std::string> PayloadEnvironment() const;
  std::string ProcessTable();

  ProcessSource* source_;
  std::optional<Process> process_;
  bool extended_ = false;
  bool non_stop_ = false;  // what gdb last asked for with QNonStop
  std::string qsupported_;  // gdb's, told to each new process's handlers
  std::string pass_signals_;  // gdb's last QPassSignals, likewise
  std::string program_signals_;  // and QProgramSignals
  bool multiprocess_ = false;
  bool gone_ = false;       // the last process exited or was killed
  std::vector<std::string> last_argv_;  // what the last process ran, for vRun without a program
  std::map<std::string, std::string> env_set_;  // gdb's `set environment`
  std::set<std::string> env_unset_;             // gdb's `unset environment`
  // gdb's vFile files outlive each process: it checks its executable before each run.
  std::shared_ptr<HostFiles> host_files_ = std::make_shared<HostFiles>();
  std::string osdata_;  // built for offset 0 of a qXfer:osdata read, served in pieces
};

}  // namespace agent
