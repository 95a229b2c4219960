// qRcmd: `monitor` commands that show what km knows and gdb does not ask about.
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/packet_writer.h"
#include "agent/rsp/packets/misc.h"

namespace agent {
namespace {

constexpr char kHelp[] =
    "km-gdb-agent monitor commands:\n"
    "  help      this list\n"
    "  info      km's pid, the payload, its arguments and the engine\n"
    "  threads   every payload thread (vCPU) with its name and state\n"
    "  memory    the guest memory map\n"
    "  record    execution recording, for reverse-stepi, reverse-continue and the like:\n"
    "            'record on [MAX]' starts it (keeping the last MAX instructions, default\n"
    "            200000), 'record off' ends it, 'record' says how much it holds\n"
    "  processes km processes of this user that attach PID can debug\n";

std::string StateName(ThreadState state) {
  switch (state) {
    case ThreadState::kRunning: return "running";
    case ThreadState::kStopped: return "stopped";
    case ThreadState::kExited: return "exited";
  }
  return "?";
}

}  // namespace

Response Handlers::Monitor(absl::string_view packet) {
  absl::StatusOr<std::string> command = rsp::ParseMonitorCommand(packet);
  if (!command.ok()) {
    Log(command.status().message());
    return Response{{"E01"}};
  }
  // One O packet for the whole output: gdb prints it as it comes, then waits for OK.
  return Response{{rsp::ConsoleOutput(MonitorOutput(absl::StripAsciiWhitespace(*command))), "OK"}};
}

std::string Handlers::MonitorOutput(absl::string_view command) {
  if (command.empty() || command == "help") return kHelp;
  if (command == "info") {
    absl::StatusOr<TargetInfo> info = target_.GetTarget();
    if (!info.ok()) return absl::StrCat(info.status().message(), "\n");
    return absl::StrFormat(
        "km pid:      %d\npayload:     %s\nargv:        %s\nentry:       0x%x%s\n"
        "engine:      %s (avx %s, data watchpoints %s, %d hardware breakpoints, recording %s)\n",
        info->pid, info->payload_path, absl::StrJoin(info->argv, " "), info->entry,
        info->pie ? absl::StrFormat(" (PIE, load bias 0x%x)", info->load_bias) : "",
        info->engine, info->avx ? "yes" : "no", info->data_watchpoints ? "yes" : "no",
        info->hw_breakpoints, info->recording ? "yes" : "no");
  }
  if (command == "threads") {
    absl::StatusOr<std::vector<agent::ThreadInfo>> threads = target_.ListThreads();
    if (!threads.ok()) return absl::StrCat(threads.status().message(), "\n");
    std::string out = absl::StrFormat("%-5s %-8s %-8s %s\n", "vcpu", "tid", "state", "name");
    int vcpu = 0;
    for (const agent::ThreadInfo& t : *threads) {
      absl::StrAppendFormat(&out, "%-5d %-8d %-8s %s\n", vcpu++, t.tid, StateName(t.state), t.name);
    }
    return out;
  }
  if (command == "memory") {
    absl::StatusOr<TargetInfo> info = target_.GetTarget();
    if (!info.ok()) return absl::StrCat(info.status().message(), "\n");
    std::string out = absl::StrFormat("%-18s %-18s %-4s %-6s %s\n", "start", "end", "prot", "kind", "name");
    for (const Region& r : info->regions) {
      absl::StrAppendFormat(&out, "0x%016x 0x%016x %c%c%c  %-6s %s\n", r.start, r.start + r.size,
                            r.read ? 'r' : '-', r.write ? 'w' : '-', r.exec ? 'x' : '-', r.kind,
                            r.name);
    }
    return out;
  }
  if (command == "record" || absl::StartsWith(command, "record ")) {
    return RecordCommand(command.substr(6));
  }
  return absl::StrCat("unknown monitor command '", command, "'; try 'monitor help'\n");
}

}  // namespace agent
