#include "agent/handlers/extended_mode.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/log.h"
#include "agent/rsp/packet_writer.h"
#include "agent/rsp/packets/extended.h"
#include "agent/rsp/packets/misc.h"
#include "agent/rsp/packets/qxfer.h"

extern char** environ;

namespace agent {
namespace {

// What extended mode adds to the handlers' qSupported features.
constexpr char kExtendedFeatures[] =
    ";qXfer:osdata:read+;QEnvironmentHexEncoded+;QEnvironmentUnset+;QEnvironmentReset+";

constexpr char kNoProcessHelp[] =
    "km-gdb-agent: no process yet.\n"
    "  run [ARGS]        starts the program (set remote exec-file PATH picks it)\n"
    "  attach PID        attaches to a running km\n"
    "  monitor processes lists the km processes this user can attach to\n";

Response Reply(std::string packet) { return Response{{std::move(packet)}}; }

// A stop reply saying the process exited (W) or was killed (X): gdb now knows it is gone.
bool IsExitReply(absl::string_view packet) {
  return !packet.empty() && (packet[0] == 'W' || packet[0] == 'X');
}

// Packets about a process, which have nothing to act on without one.
bool NeedsProcess(absl::string_view p) {
  static constexpr absl::string_view kPrefixes[] = {"qC", "qXfer:", "vCont", "vKill", "bs", "bc"};
  for (absl::string_view prefix : kPrefixes) {
    if (absl::StartsWith(p, prefix)) return true;
  }
  return absl::StrContains("gGpPmMXZzcCsSDT", p[0]);
}

}  // namespace

ExtendedMode::ExtendedMode(ProcessSource* source) : source_(source) {}

ExtendedMode::~ExtendedMode() = default;

absl::Status ExtendedMode::Adopt(std::unique_ptr<Target> target, bool attached) {
  Target* raw = target.get();
  return Start(std::move(target), raw, attached);
}

absl::Status ExtendedMode::AdoptBorrowed(Target& target, bool attached) {
  return Start(nullptr, &target, attached);
}

absl::Status ExtendedMode::Start(std::unique_ptr<Target> owned, Target* target, bool attached) {
  absl::StatusOr<TargetInfo> info = target->GetTarget();
  if (!info.ok()) return info.status();
  Process p;
  p.owned = std::move(owned);
  p.target = target;
  p.pid = info->pid;
  p.attached = attached;
  p.records = info->recording;
  p.handlers = std::make_unique<Handlers>(*target, *info);
  p.handlers->ShareHostFiles(host_files_);
  // The connection's features (multiprocess) hold for every process it debugs.
  if (!qsupported_.empty()) p.handlers->Handle(qsupported_);
  if (absl::Status s = p.handlers->Begin(); !s.ok()) {
    // A km started for this run that cannot be debugged is of no use to anyone.
    if (!attached && source_ != nullptr) source_->Ended(info->pid);
    return s;
  }
  // gdb says QNonStop before each run, often with no process yet: the mode holds for the next.
  if (non_stop_) p.handlers->Handle("QNonStop:1");
  // gdb sends its signal lists only when they change: each new process gets the last ones.
  if (!pass_signals_.empty()) p.handlers->Handle(pass_signals_);
  if (!program_signals_.empty()) p.handlers->Handle(program_signals_);
  last_argv_ = info->argv.empty() ? std::vector<std::string>{info->payload_path} : info->argv;
  last_argv_[0] = info->payload_path;
  Log(absl::StrFormat("debugging %s in km pid %d%s", info->payload_path, info->pid,
                      attached ? "" : " (started for gdb)"));
  process_ = std::move(p);
  gone_ = false;
  return absl::OkStatus();
}

void ExtendedMode::Retire(bool gone) {
  const int pid = process_->pid;
  const bool launched = !process_->attached;
  process_.reset();
  gone_ = gone;
  if (gone) {
    if (source_ != nullptr) source_->Ended(pid);
    return;
  }
  Log(absl::StrFormat("detached from km pid %d; its payload runs on%s", pid,
                      launched ? " (this agent started it: it ends when the agent does)" : ""));
}

SessionEnd ExtendedMode::Disconnect() {
  if (!process_) return gone_ ? SessionEnd::kPayloadGone : SessionEnd::kGdbLeft;
  if (process_->handlers->payload_gone()) {
    Retire(/*gone=*/true);
    return SessionEnd::kPayloadGone;
  }
  process_->handlers->Disconnect();
  Retire(/*gone=*/false);
  return SessionEnd::kGdbLeft;
}

int ExtendedMode::event_fd() const { return process_ ? process_->target->event_fd() : -1; }

bool ExtendedMode::running() const { return process_ && process_->handlers->running(); }

std::optional<std::string> ExtendedMode::Interrupt() {
  if (!process_) return std::nullopt;
  return process_->handlers->Interrupt();
}

std::optional<std::string> ExtendedMode::TakeNotification() {
  if (!process_) return std::nullopt;
  return process_->handlers->TakeNotification();
}

std::vector<std::string> ExtendedMode::TakeEvents() {
  std::vector<std::string> stops;
  while (process_) {
    std::optional<Event> event = process_->target->NextEvent();
    if (!event) break;
    std::optional<std::string> stop = process_->handlers->HandleEvent(*event);
    if (!stop) continue;
    stops.push_back(*stop);
    if (IsExitReply(*stop)) Retire(/*gone=*/true);
  }
  return stops;
}

Response ExtendedMode::Handle(absl::string_view p) {
  using absl::StartsWith;
  if (p == "!") {
    extended_ = true;
    return Reply("OK");
  }
  if (StartsWith(p, "qSupported")) return QSupported(p);
  if (p == "QStartNoAckMode") return Reply("OK");
  // A process's handlers serve its own /proc files; the files are the connection's either way.
  if (StartsWith(p, "vFile:")) {
    return process_ ? process_->handlers->Handle(p) : host_files_->Handle(p);
  }
  if (StartsWith(p, "vRun;")) return VRun(p);
  if (extended_ && StartsWith(p, "R")) return Restart();
  if (StartsWith(p, "vAttach;")) return VAttach(p);
  if (StartsWith(p, "QEnvironment")) return Environment(p);
  if (StartsWith(p, "qXfer:osdata:read:")) return Osdata(p);
  if (p == "qAttached" || StartsWith(p, "qAttached:")) {
    if (!process_) return Reply("E01");
    return Reply(process_->attached ? "1" : "0");
  }
  if (StartsWith(p, "qRcmd,")) {
    if (std::optional<Response> r = Monitor(p)) return *r;
  }
  if (StartsWith(p, "QNonStop:")) return SetNonStop(p);
  if (StartsWith(p, "QPassSignals:") && rsp::ParsePassSignals(p).ok()) {
    pass_signals_ = std::string(p);
    if (!process_) return Reply("OK");
  }
  if (StartsWith(p, "QProgramSignals:") && rsp::ParseProgramSignals(p).ok()) {
    program_signals_ = std::string(p);
    if (!process_) return Reply("OK");
  }
  if (!process_) return WithoutProcess(p);

  Response r = process_->handlers->Handle(p);
  const bool killed = p == "k" || StartsWith(p, "vKill;");
  bool exit_reported = false;
  for (const std::string& packet : r.packets) exit_reported = exit_reported || IsExitReply(packet);
  if ((killed || exit_reported) && process_->handlers->payload_gone()) {
    Retire(/*gone=*/true);
  } else if (!p.empty() && p[0] == 'D' && r.packets == std::vector<std::string>{"OK"}) {
    Retire(/*gone=*/false);
  }
  return r;
}

Response ExtendedMode::SetNonStop(absl::string_view p) {
  if (p != "QNonStop:0" && p != "QNonStop:1") return Reply("E01");
  if (process_) {
    Response r = process_->handlers->Handle(p);
    if (r.packets == std::vector<std::string>{"OK"}) non_stop_ = p == "QNonStop:1";
    return r;
  }
  non_stop_ = p == "QNonStop:1";
  return Reply("OK");
}

Response ExtendedMode::WithoutProcess(absl::string_view p) {
  if (p.empty()) return Reply("");
  // W: no process. gdb in extended mode waits for run or attach; in plain mode it says the
  // target is not running.
  if (p == "?") return Reply("W00");
  if (p == "k") return Response{};
  if (p[0] == 'H') return Reply("OK");
  if (p == "qfThreadInfo" || p == "qsThreadInfo") return Reply("l");
  if (p == "qSymbol::") return Reply("OK");
  // No km, no trace run. The empty reply would have gdb give up tracing for the connection.
  if (p == "qTStatus") return Reply("T0;tnotrun:0");
  if (NeedsProcess(p)) return Reply("E01");
  return Reply("");
}

Response ExtendedMode::QSupported(absl::string_view packet) {
  qsupported_ = std::string(packet);
  multiprocess_ = rsp::GdbSupports(rsp::ParseQSupported(packet), "multiprocess");
  if (process_) process_->handlers->Handle(packet);
  // gdb asks once per connection. Before a process exists, reverse execution is offered, as the
  // process gdb runs may be able to record; one that cannot says so when gdb tries.
  const bool reverse = !process_ || process_->records;
  return Reply(absl::StrCat(Handlers::SupportedFeatures(multiprocess_, reverse), kExtendedFeatures));
}

Response ExtendedMode::VRun(absl::string_view packet) {
  absl::StatusOr<rsp::RunRequest> run = rsp::ParseVRun(packet);
  if (!run.ok()) {
    Log(run.status().message());
    return Reply("E01");
  }
  std::vector<std::string> argv;
  if (!run->program.empty()) {
    argv.push_back(run->program);
  } else if (!last_argv_.empty()) {
    argv.push_back(last_argv_[0]);
  } else {
    Log("run: which program? (set remote exec-file PATH)");
    return Reply("E01");
  }
  argv.insert(argv.end(), run->args.begin(), run->args.end());
  return Run(std::move(argv));
}

Response ExtendedMode::Restart() {
  if (last_argv_.empty()) {
    Log("R: nothing ran before to restart");
    return Response{};
  }
  Run(last_argv_);
  // R has no reply: gdb asks '?' next.
  return Response{};
}

Response ExtendedMode::Run(std::vector<std::string> argv) {
  if (source_ == nullptr) {
    Log("this agent serves one km and cannot start programs");
    return Reply("E01");
  }
  if (process_) {
    // gdb kills the old process before it runs a new one; one still here goes now.
    process_->handlers->Handle("k");
    Retire(/*gone=*/true);
  }
  absl::StatusOr<std::unique_ptr<Target>> target = source_->Launch(argv, PayloadEnvironment());
  if (!target.ok()) {
    Log(absl::StrCat("run ", absl::StrJoin(argv, " "), ": ", target.status().message()));
    return Reply("E01");
  }
  if (absl::Status s = Adopt(*std::move(target), /*attached=*/false); !s.ok()) {
    Log(absl::StrCat("run ", absl::StrJoin(argv, " "), ": ", s.message()));
    return Reply("E01");
  }
  last_argv_ = std::move(argv);
  return process_->handlers->Handle("?");
}

Response ExtendedMode::VAttach(absl::string_view packet) {
  absl::StatusOr<int> pid = rsp::ParseVAttach(packet);
  if (!pid.ok()) {
    Log(pid.status().message());
    return Reply("E01");
  }
  if (source_ == nullptr) {
    Log("this agent serves one km and cannot attach to others");
    return Reply("E01");
  }
  if (process_) {
    Log(absl::StrFormat("attach %d: already debugging km pid %d", *pid, process_->pid));
    return Reply("E01");
  }
  absl::StatusOr<std::unique_ptr<Target>> target = source_->Attach(*pid);
  if (!target.ok()) {
    Log(absl::StrFormat("attach %d: %s", *pid, target.status().message()));
    return Reply("E01");
  }
  if (absl::Status s = Adopt(*std::move(target), !source_->Launched(*pid)); !s.ok()) {
    Log(absl::StrFormat("attach %d: %s", *pid, s.message()));
    return Reply("E01");
  }
  return process_->handlers->Handle("?");
}

Response ExtendedMode::Environment(absl::string_view packet) {
  if (packet == "QEnvironmentReset") {
    env_set_.clear();
    env_unset_.clear();
    return Reply("OK");
  }
  if (absl::StartsWith(packet, "QEnvironmentHexEncoded:")) {
    absl::StatusOr<rsp::EnvironmentSetting> set = rsp::ParseEnvironmentSet(packet);
    if (!set.ok()) {
      Log(set.status().message());
      return Reply("E01");
    }
    env_unset_.erase(set->name);
    env_set_[set->name] = set->value;
    return Reply("OK");
  }
  if (absl::StartsWith(packet, "QEnvironmentUnset:")) {
    absl::StatusOr<std::string> name = rsp::ParseEnvironmentUnset(packet);
    if (!name.ok()) {
      Log(name.status().message());
      return Reply("E01");
    }
    env_set_.erase(*name);
    env_unset_.insert(*name);
    return Reply("OK");
  }
  return Reply("");
}

std::vector<std::string> ExtendedMode::PayloadEnvironment() const {
  // The agent's own environment, as gdbserver gives its inferiors, changed as gdb says.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view entry = *e;
    const std::string name(entry.substr(0, entry.find('=')));
    if (env_set_.count(name) != 0 || env_unset_.count(name) != 0) continue;
    env.emplace_back(entry);
  }
  for (const auto& [name, value] : env_set_) env.push_back(absl::StrCat(name, "=", value));
  return env;
}

Response ExtendedMode::Osdata(absl::string_view packet) {
  absl::StatusOr<rsp::XferRead> req = rsp::ParseXferRead(packet);
  if (!req.ok()) {
    Log(req.status().message());
    return Reply("E01");
  }
  if (req->annex.empty()) return Reply(rsp::XferReply(rsp::OsdataTypes(), req->offset, req->length));
  if (req->annex != "processes") return Reply("E01");
  // Built once per read sequence so the pieces gdb asks for come from one document.
  if (req->offset == 0 || osdata_.empty()) {
    std::vector<rsp::OsProcess> rows;
    if (source_ != nullptr) {
      for (const AttachableProcess& p : source_->List()) rows.push_back({p.pid, p.user, p.command});
    }
    osdata_ = rsp::ProcessesOsdata(rows);
  }
  return Reply(rsp::XferReply(osdata_, req->offset, req->length));
}

std::optional<Response> ExtendedMode::Monitor(absl::string_view packet) {
  absl::StatusOr<std::string> command = rsp::ParseMonitorCommand(packet);
  if (!command.ok()) return std::nullopt;  // the handlers say what is wrong with it
  const absl::string_view c = absl::StripAsciiWhitespace(*command);
  std::string out;
  if (c == "processes") {
    out = ProcessTable();
  } else if (!process_) {
    out = kNoProcessHelp;
  } else {
    return std::nullopt;
  }
  return Response{{rsp::ConsoleOutput(out), "OK"}};
}

std::string ExtendedMode::ProcessTable() {
  if (source_ == nullptr) return "this agent serves one km and cannot attach to others\n";
  std::vector<AttachableProcess> processes = source_->List();
  if (processes.empty()) return "no km processes of this user\n";
  std::string out = absl::StrFormat("%-8s %-10s %s\n", "pid", "user", "command");
  for (const AttachableProcess& p : processes) {
    absl::StrAppendFormat(&out, "%-8d %-10s %s\n", p.pid, p.user, p.command);
  }
  return out;
}

}  // namespace agent
