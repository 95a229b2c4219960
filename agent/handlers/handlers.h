// gdb's packets, answered by feature: each family lives in its own file (base.cc, threads.cc,
// registers.cc, memory.cc, breakpoints.cc, resume.cc, reverse.cc, non_stop.cc, qxfer.cc,
// vfile.cc, monitor.cc, proc_files.cc for the payload's /proc files, lldb.cc for LLDB's own
// packets, tracepoints.cc and trace_frames.cc for tracing), and dispatch.cc says which packet
// goes where. Everything goes through the Target interface, so a fake target drives these in
// unit tests.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/breakpoint_table.h"
#include "agent/memory_cache.h"
#include "agent/rsp/stop_notifications.h"
#include "agent/run_control.h"
#include "agent/run_control_non_stop.h"
#include "agent/target.h"
#include "agent/trace_definitions.h"

namespace agent {

class HostFiles;

// What to send back for one packet.
struct Response {
  std::vector<std::string> packets;  // payloads, unframed, in order (none: no reply at all)
  bool resumed = false;              // the target runs; a stop reply follows when it stops
};

inline constexpr size_t kPacketSize = 0x20000;

// A request the target refused: logged, and E01 for gdb (which shows no message).
Response Failed(const absl::Status& s);

class Handlers {
 public:
  Handlers(Target& target, TargetInfo info);
  ~Handlers();

  // Stops the process for this connection; the stop '?' reports.
  absl::Status Begin();

  Response Handle(absl::string_view packet);

  // What qSupported answers (extended_mode.cc adds its own features when it answers for a
  // session with no process yet). reverse: offer bs and bc.
  static std::string SupportedFeatures(bool multiprocess, bool reverse);
  // The connection's vFile files, shared by each process's handlers (vfile.cc).
  void ShareHostFiles(std::shared_ptr<HostFiles> files);

  // An event from the target; the stop reply to send when it ends a run.
  std::optional<std::string> HandleEvent(const Event& event);
  // ^C (or vCtrlC): the stop reply, when something was running.
  std::optional<std::string> Interrupt();
  // Non-stop: the event of the Stop notification to send gdb now, if one is due.
  std::optional<std::string> TakeNotification() { return notifications_.TakeNotification(); }

  // gdb went away without detaching: end the session so the payload runs on.
  void Disconnect();

  // All-stop with the target running: gdb waits for the stop reply and may only interrupt.
  bool running() const { return !non_stop_ && run_.running(); }
  // The payload exited or was killed.
  bool payload_gone() const { return non_stop_ ? non_stop_->exited() : run_.exited(); }

 private:
  // dispatch.cc
  Response Dispatch(absl::string_view packet);
  // base.cc
  Response QSupported(absl::string_view packet);
  Response StopStatus();
  Response Detach(absl::string_view packet);
  Response Kill(absl::string_view packet);
  // threads.cc
  Response SetThread(absl::string_view packet);
  Response ThreadAlive(absl::string_view packet);
  Response CurrentThread();
  Response ThreadInfo(bool first);
  absl::StatusOr<std::string> ThreadsXml();
  // registers.cc
  Response ReadAllRegisters();
  Response WriteAllRegisters(absl::string_view packet);
  Response ReadOneRegister(absl::string_view packet);
  Response WriteOneRegister(absl::string_view packet);
  // memory.cc
  Response ReadMemory(absl::string_view packet);
  Response WriteMemory(absl::string_view packet);
  // breakpoints.cc
  Response Breakpoint(absl::string_view packet);
  Response CatchSyscalls(absl::string_view packet);
  // pass_signals.cc
  Response PassSignals(absl::string_view packet);
  Response ProgramSignals(absl::string_view packet);
  // Before an all-stop resume: km gets gdb's latest pass list, unless the resume is one thread's
  // lone step, whose stop comes at any signal whatever the list says.
  absl::Status FlushPassSignals(const std::vector<ThreadAction>& actions);
  // resume.cc
  Response VContQuery();
  Response VCont(absl::string_view packet);
  Response LegacyResume(absl::string_view packet);
  Response ResumeWith(const std::vector<ThreadAction>& actions);
  // Where a lone step without a signal starts: the breakpoint gdb removed there can stay in km.
  std::optional<uint64_t> SteppedOffBreakpoint(const std::vector<ThreadAction>& actions);
  // reverse.cc
  Response ReverseResume(absl::string_view packet);
  // `monitor record [on [MAX]|off]`: args is what follows "record".
  std::string RecordCommand(absl::string_view args);
  // Console output for gdb when a reverse resume can only meet the history's beginning.
  std::optional<std::string> NotRecordingHint();
  // non_stop.cc
  Response SetNonStop(absl::string_view packet);
  std::optional<Response> DispatchNonStop(absl::string_view packet);
  Response NonStopResume(const std::vector<ThreadAction>& actions, const std::vector<int>& stop_tids,
                         bool stop_all);
  std::optional<std::string> NonStopEvent(const Event& event);
  std::optional<std::string> NonStopInterrupt();
  // resume.cc: the process became another program; nothing the agent knew of the old one holds.
  void ForgetProgram();
  void Notify(const StopReport& report);
  // qxfer.cc
  Response Xfer(absl::string_view packet);
  std::string ExecFilePath();
  // qXfer:siginfo: the general thread's, as Linux would give it to a debugger at this stop.
  absl::StatusOr<std::string> Siginfo();
  // vfile.cc
  Response VFile(absl::string_view packet);
  // proc_files.cc: the payload's /proc/PID files that must not come from km's
  std::optional<absl::StatusOr<std::string>> ProcFile(absl::string_view path);
  std::optional<std::string> ProcLink(absl::string_view path);
  // monitor.cc
  Response Monitor(absl::string_view packet);
  std::string MonitorOutput(absl::string_view command);
  // lldb.cc
  Response HostInfo();
  Response Offsets();
  Response MemoryRegionInfo(absl::string_view packet);
  Response ThreadStopInfo(absl::string_view packet);
  // tracepoints.cc
  Response DefineTracepoint(absl::string_view packet);
  Response DefineTraceVariable(absl::string_view packet);
  Response InitTrace();
  Response SetTraceBuffer(absl::string_view packet);
  Response SetDisconnectedTracing(absl::string_view packet);
  Response StartTracing();
  Response StopTracing();
  Response ReportTraceStatus();
  Response ReportTracepointHits(absl::string_view packet);
  // qTfV: the variables the target defines itself.
  Response UploadTraceVariables();
  Response ReportTraceVariable(absl::string_view packet);
  // trace_frames.cc
  Response SelectTraceFrame(absl::string_view packet);
  // While gdb looks at a trace frame: its answer to reads and writes of registers and memory.
  std::optional<Response> DispatchTraceFrame(absl::string_view packet);
  Response TraceFrameRegisters();
  Response TraceFrameRegister(absl::string_view packet);
  Response TraceFrameMemory(absl::string_view packet);
  Response TraceframeInfo(absl::string_view packet);
  // stop_reply.cc
  std::string StopReply(const StopReport& report);
  // lldb only (it shows them; gdb has qXfer:threads): the thread's name, "" if unknown.
  std::string NameForLldb(int tid);

  // The thread g, p, m and friends act on: gdb's Hg choice, else the one last reported.
  int GeneralThread() const;
  // The threads as the run control of the current mode knows them.
  ThreadTable& threads() { return non_stop_ ? non_stop_->threads() : run_.threads(); }
  const ThreadTable& threads() const { return const_cast<Handlers*>(this)->threads(); }

  Target& target_;
  TargetInfo info_;
  BreakpointTable breakpoints_;
  MemoryCache memory_;
  RunControl run_;                                // all-stop, until gdb asks for non-stop
  std::unique_ptr<NonStopRunControl> non_stop_;   // set by QNonStop:1
  rsp::StopNotifications notifications_;          // non-stop's stops not yet acknowledged
  bool multiprocess_ = false;
  bool exec_events_ = false;  // gdb follows an exec ("exec:" in a stop reply)
  bool lldb_client_ = false;  // the client sent qHostInfo, which only lldb does
  bool detached_ = false;
  int general_thread_ = 0;  // 0: whichever thread last stopped
  int continue_thread_ = 0;  // gdb's Hc choice, for bs and bc; 0: any or all
  // Whether km records, as it last said. Only the controlling session can change that, and
  // this one does so through `monitor record` only.
  std::optional<bool> recording_;
  std::string threads_xml_;  // built for offset 0 of a qXfer:threads read, served in pieces
  // The threads as the target listed them with the last stop, while nothing has run since.
  std::optional<std::vector<agent::ThreadInfo>> stop_threads_;
  // gdb's QPassSignals list (Linux numbers) and what km has: all-stop sends it with the next
  // resume that can meet a signal (see pass_signals.cc).
  std::vector<int> pass_signals_wanted_, pass_signals_in_km_;
  std::shared_ptr<HostFiles> host_files_;
  TraceDefinitions trace_definitions_;
  // The trace frame gdb looks at (QTFrame): reads come from it instead of the threads.
  std::optional<TraceFrame> trace_frame_;
};

}  // namespace agent
