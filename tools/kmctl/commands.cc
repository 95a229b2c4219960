#include "tools/kmctl/commands.h"

#include <cstdint>
#include <fstream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/kmctl/errors.h"
#include "tools/kmctl/expr_compiler.h"
#include "tools/kmctl/format.h"

namespace kmctl {
namespace {

absl::Status WantArgs(const std::string& usage, const std::vector<std::string>& args, size_t min,
                      size_t max) {
  if (args.size() < min || args.size() > max) return UsageError("usage: " + usage);
  return absl::OkStatus();
}

// Commands that change run state or memory: they need the session only `kmctl session` holds,
// since a one-shot Attach would end (resuming everything) the moment kmctl exits.
bool IsControl(const std::string& c) {
  static const auto* kControl = new std::vector<std::string>{
      "stop",   "resume", "step",           "set-reg",      "break",           "hbreak",
      "dprintf", "watch", "delete", "wait",  "detach",       "catch-syscalls",
      "reverse-step",     "reverse-continue", "core"};
  return std::find(kControl->begin(), kControl->end(), c) != kControl->end();
}

// How each resume command is written, and what it says it did.
struct ResumeForm {
  const char* usage;
  size_t min_args, max_args;
  const char* doing;
};
ResumeForm FormOf(v1::ResumeMode mode) {
  switch (mode) {
    case v1::RESUME_MODE_STEP: return {"step TID", 1, 1, "stepping"};
    case v1::RESUME_MODE_REVERSE_STEP: return {"reverse-step TID", 1, 1, "reverse-stepping"};
    // Reverse execution goes back in every thread at once: a reverse continue names none.
    case v1::RESUME_MODE_REVERSE_CONTINUE: return {"reverse-continue", 0, 0, "reverse-continuing"};
    default: return {"resume [TID]", 0, 1, "resumed"};
  }
}

#define KMCTL_ASSIGN(lhs, expr)          \
  auto lhs##_or = (expr);                \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = std::move(*lhs##_or)

#define KMCTL_RETURN_IF_ERROR(expr)      \
  do {                                   \
    absl::Status _s = (expr);            \
    if (!_s.ok()) return _s;             \
  } while (0)

}  // namespace

std::string Usage() {
  return R"(usage: kmctl --debug-socket PATH [--json] [--elf PAYLOAD] COMMAND [ARGS...]

Reading (no session needed):
  status                      payload, pid, engine, entry, thread count
  threads                     tid, name, state and stop reason of each thread
  regs TID [REG...]           general registers of a stopped thread
  maps                        memory regions
  mem read ADDR LEN [--out F] hex dump, or the raw bytes into file F
  record status               whether km records execution (for reverse), and how much
  trace status                the tracepoint run: running or why it stopped, frames, buffer
  trace frame N               what trace frame N collected: pc, registers, memory, variables
  ls                          the service's methods
Controlling (only inside `kmctl ... session`, which reads commands from stdin):
  stop [TID]  resume [TID]  step TID  set-reg TID REG VALUE  mem write ADDR HEXBYTES
  break ADDR [if COND]  hbreak ADDR [if COND]  watch ADDR LEN write|read|access
  dprintf ADDR "FORMAT"[, ARG...]   km prints at each hit; the thread runs on
  delete KIND ADDR [LEN]      KIND: break (also a dprintf), hbreak, write, read, access
  catch-syscalls all|off|NUMBER...   stop threads at these syscalls' entry and return
  record on [--max N] | record off   execution recording, keeping the last N instructions
  reverse-step TID  reverse-continue back through the recording; `wait` shows where
  core PATH [TID]             km writes a core of the stopped payload at PATH (TID's thread first)
  wait [SECONDS]  detach
ADDR is 0x hex, or with --elf a symbol (main, main+0x10). COND and ARG are C expressions over
registers ($rdi), numbers, symbols (their addresses) and memory (*(int *)counter).
Exit status: 0 ok, 2 usage, 3 connection, 4 the call failed.
)";
}

absl::Status TakeOptions(std::vector<std::string>& words, Options& options) {
  static const std::map<std::string, std::string Options::*> kValued = {
      {"--debug-socket", &Options::socket},
      {"--elf", &Options::elf},
      {"--out", &Options::out},
      {"--max", &Options::max}};
  std::vector<std::string> rest;
  for (size_t i = 0; i < words.size(); i++) {
    const std::string& w = words[i];
    if (!absl::StartsWith(w, "--")) {
      rest.push_back(w);
      continue;
    }
    const size_t eq = w.find('=');
    const std::string name = w.substr(0, eq);
    if (name == "--json" && eq == std::string::npos) {
      options.json = true;
    } else if (name == "--keep-going" && eq == std::string::npos) {
      options.keep_going = true;
    } else if (auto it = kValued.find(name); it != kValued.end()) {
      if (eq != std::string::npos) {
        options.*(it->second) = w.substr(eq + 1);
      } else if (i + 1 < words.size()) {
        options.*(it->second) = words[++i];
      } else {
        return UsageError(absl::StrFormat("%s needs a value", name));
      }
    } else {
      return UsageError(absl::StrFormat("unknown option %s (see kmctl help)", w));
    }
  }
  words = std::move(rest);
  return absl::OkStatus();
}

absl::StatusOr<int> Commands::Tid(const std::string& word) const {
  int tid;
  if (!absl::SimpleAtoi(word, &tid) || tid <= 0) {
    return UsageError(absl::StrFormat("thread id '%s': need a positive number", word));
  }
  return tid;
}

absl::Status Commands::Run(const std::vector<std::string>& words, const Options& o,
                           std::ostream& out) {
  if (words.empty()) return UsageError("no command given (see kmctl help)");
  const std::string& c = words[0];
  std::vector<std::string> args(words.begin() + 1, words.end());
  if (c == "mem") {
    if (args.empty()) return UsageError("usage: mem read ADDR LEN | mem write ADDR HEXBYTES");
    const std::string sub = args[0];
    args.erase(args.begin());
    if (sub == "read") return MemRead(args, o, out);
    if (sub == "write") {
      if (session_ == nullptr) {
        return UsageError("'mem write' changes the payload: run it inside `kmctl session`");
      }
      return MemWrite(args, o, out);
    }
    return UsageError(absl::StrFormat("unknown mem command '%s': read or write", sub));
  }
  if (c == "record") return Record(args, o, out);
  if (c == "trace") return Trace(args, o, out);
  if (IsControl(c) && session_ == nullptr) {
    return UsageError(absl::StrFormat(
        "'%s' needs a debug session: run it inside `kmctl --debug-socket PATH session`", c));
  }
  if (c == "status") {
    KMCTL_RETURN_IF_ERROR(WantArgs("status", args, 0, 0));
    return Status(o, out);
  }
  if (c == "threads") {
    KMCTL_RETURN_IF_ERROR(WantArgs("threads", args, 0, 0));
    return Threads(o, out);
  }
  if (c == "regs") return Regs(args, o, out);
  if (c == "maps") {
    KMCTL_RETURN_IF_ERROR(WantArgs("maps", args, 0, 0));
    return Maps(o, out);
  }
  if (c == "ls") {
    KMCTL_RETURN_IF_ERROR(WantArgs("ls", args, 0, 0));
    out << (o.json ? ServiceJson() : FormatService());
    return absl::OkStatus();
  }
  if (c == "stop") return StopThreads(args, o, out);
  if (c == "resume") return Resume(args, v1::RESUME_MODE_CONTINUE, o, out);
  if (c == "step") return Resume(args, v1::RESUME_MODE_STEP, o, out);
  if (c == "reverse-step") return Resume(args, v1::RESUME_MODE_REVERSE_STEP, o, out);
  if (c == "reverse-continue") return Resume(args, v1::RESUME_MODE_REVERSE_CONTINUE, o, out);
  if (c == "set-reg") return SetReg(args, o, out);
  if (c == "break" || c == "hbreak" || c == "dprintf" || c == "watch" || c == "delete") {
    return Breakpoint(c, args, o, out);
  }
  if (c == "catch-syscalls") return CatchSyscalls(args, o, out);
  if (c == "core") return Core(args, o, out);
  if (c == "wait") return Wait(args, o, out);
  if (c == "detach") {
    KMCTL_RETURN_IF_ERROR(WantArgs("detach", args, 0, 0));
    return Detach(o, out);
  }
  return UsageError(absl::StrFormat("unknown command '%s' (see kmctl help)", c));
}

absl::Status Commands::Status(const Options& o, std::ostream& out) {
  v1::Target target;
  grpc::Status s = stub_->GetTarget(CallContext().get(), {}, &target);
  if (!s.ok()) return RpcError("GetTarget", s);
  out << (o.json ? ToJson(target) : FormatStatus(target));
  return absl::OkStatus();
}

absl::Status Commands::Threads(const Options& o, std::ostream& out) {
  v1::ListThreadsResponse threads;
  grpc::Status s = stub_->ListThreads(CallContext().get(), {}, &threads);
  if (!s.ok()) return RpcError("ListThreads", s);
  out << (o.json ? ToJson(threads) : FormatThreads(threads));
  return absl::OkStatus();
}

absl::Status Commands::Regs(const std::vector<std::string>& args, const Options& o,
                            std::ostream& out) {
  KMCTL_RETURN_IF_ERROR(WantArgs("regs TID [REG...]", args, 1, 64));
  KMCTL_ASSIGN(tid, Tid(args[0]));
  const std::vector<std::string> names(args.begin() + 1, args.end());
  v1::ReadRegistersRequest req;
  req.set_tid(tid);
  v1::Registers regs;
  grpc::Status s = stub_->ReadRegisters(CallContext().get(), req, &regs);
  if (!s.ok()) return RpcError("ReadRegisters", s);
  KMCTL_ASSIGN(text, o.json ? RegistersJson(regs, names) : FormatRegisters(regs, names));
  out << text;
  return absl::OkStatus();
}

absl::Status Commands::Maps(const Options& o, std::ostream& out) {
  v1::Target target;
  grpc::Status s = stub_->GetTarget(CallContext().get(), {}, &target);
  if (!s.ok()) return RpcError("GetTarget", s);
  if (o.json) {
    v1::Target regions;
    *regions.mutable_regions() = target.regions();
    out << ToJson(regions);
  } else {
    out << FormatMaps(target);
  }
  return absl::OkStatus();
}

absl::Status Commands::MemRead(const std::vector<std::string>& args, const Options& o,
                               std::ostream& out) {
  KMCTL_RETURN_IF_ERROR(WantArgs("mem read ADDR LEN [--out FILE]", args, 2, 2));
  KMCTL_ASSIGN(addr, resolver_->Resolve(args[0]));
  KMCTL_ASSIGN(len, ParseNumber("length", args[1]));
  v1::ReadMemoryRequest req;
  req.set_addr(addr);
  req.set_len(len);
  v1::ReadMemoryResponse resp;
  grpc::Status s = stub_->ReadMemory(CallContext().get(), req, &resp);
  if (!s.ok()) return RpcError("ReadMemory", s);
  if (!o.out.empty()) {
    std::ofstream file(o.out, std::ios::binary | std::ios::trunc);
    file << resp.data();
    file.close();
    if (!file) return absl::PermissionDeniedError(absl::StrFormat("%s: cannot write", o.out));
    if (!o.json) out << absl::StrFormat("%d bytes from 0x%x written to %s\n", resp.data().size(), addr, o.out);
  }
  if (o.json) {
    out << ToJson(resp);
  } else if (o.out.empty()) {
    out << HexDump(addr, resp.data());
  }
  return absl::OkStatus();
}

absl::Status Commands::MemWrite(const std::vector<std::string>& args, const Options& o,
                                std::ostream& out) {
  KMCTL_RETURN_IF_ERROR(WantArgs("mem write ADDR HEXBYTES", args, 2, 2));
  KMCTL_ASSIGN(addr, resolver_->Resolve(args[0]));
  KMCTL_ASSIGN(bytes, ParseHexBytes(args[1]));
  v1::WriteMemoryRequest req;
  req.set_session(session_->id());
  req.set_addr(addr);
  req.set_data(bytes);
  v1::WriteMemoryResponse resp;
  grpc::Status s = stub_->WriteMemory(CallContext().get(), req, &resp);
  if (!s.ok()) return RpcError("WriteMemory", s);
  out << (o.json ? ToJson(resp) : absl::StrFormat("wrote %d bytes at 0x%x\n", resp.written(), addr));
  return absl::OkStatus();
}

absl::Status Commands::StopThreads(const std::vector<std::string>& args, const Options& o,
                                   std::ostream& out) {
  KMCTL_RETURN_IF_ERROR(WantArgs("stop [TID]", args, 0, 1));
  v1::StopRequest req;
  req.set_session(session_->id());
  if (!args.empty()) {
    KMCTL_ASSIGN(tid, Tid(args[0]));
    req.add_tids(tid);
  }
  v1::StopResponse resp;
  grpc::Status s = stub_->Stop(CallContext().get(), req, &resp);
  if (!s.ok()) return RpcError("Stop", s);
  if (o.json) {
    out << ToJson(resp);
  } else {
    for (const v1::StopEvent& ev : resp.stopped()) out << FormatStop(ev);
  }
  return absl::OkStatus();
}

absl::Status Commands::Resume(const std::vector<std::string>& args, v1::ResumeMode mode,
                              const Options& o, std::ostream& out) {
  const ResumeForm form = FormOf(mode);
  KMCTL_RETURN_IF_ERROR(WantArgs(form.usage, args, form.min_args, form.max_args));
  v1::ResumeRequest req;
  req.set_session(session_->id());
  v1::ThreadAction* action = req.add_actions();
  if (!args.empty()) {
    KMCTL_ASSIGN(tid, Tid(args[0]));
    action->set_tid(tid);
  }
  action->set_mode(mode);
  v1::ResumeResponse resp;
  grpc::Status s = stub_->Resume(CallContext().get(), req, &resp);
  if (!s.ok()) return RpcError("Resume", s);
  if (o.json) {
    out << ToJson(resp);
  } else {
    const std::string who = args.empty() ? "every stopped thread" : "thread " + args[0];
    out << form.doing << " " << who << "\n";
  }
  return absl::OkStatus();
}

absl::Status Commands::Record(const std::vector<std::string>& args, const Options& o,
                              std::ostream& out) {
  const char* usage = "record on [--max N] | record off | record status";
  KMCTL_RETURN_IF_ERROR(WantArgs(usage, args, 1, 1));
  const std::string& sub = args[0];
  if (sub != "on" && sub != "off" && sub != "status") return UsageError(absl::StrCat("usage: ", usage));
  v1::RecordingStatus status;
  if (sub == "status") {
    grpc::Status s = stub_->GetRecording(CallContext().get(), {}, &status);
    if (!s.ok()) return RpcError("GetRecording", s);
  } else {
    // Like the other control commands: a one-shot session would end before anything ran.
    if (session_ == nullptr) {
      return UsageError(absl::StrFormat(
          "'record %s' needs a debug session: run it inside `kmctl --debug-socket PATH session`", sub));
    }
    v1::SetRecordingRequest req;
    req.set_session(session_->id());
    req.set_enabled(sub == "on");
    if (sub == "on" && !o.max.empty()) {
      KMCTL_ASSIGN(max, ParseNumber("--max", o.max));
      if (max == 0) return UsageError("--max: keep at least 1 instruction");
      req.set_max_instructions(max);
    }
    grpc::Status s = stub_->SetRecording(CallContext().get(), req, &status);
    if (!s.ok()) return RpcError("SetRecording", s);
  }
  out << (o.json ? ToJson(status) : FormatRecording(status));
  return absl::OkStatus();
}

absl::Status Commands::Trace(const std::vector<std::string>& args, const Options& o,
                             std::ostream& out) {
  const char* usage = "trace status | trace frame N";
  if (args.empty()) return UsageError(absl::StrCat("usage: ", usage));
  if (args[0] == "status") {
    KMCTL_RETURN_IF_ERROR(WantArgs(usage, args, 1, 1));
    v1::TraceStatus status;
    grpc::Status s = stub_->GetTraceStatus(CallContext().get(), {}, &status);
    if (!s.ok()) return RpcError("GetTraceStatus", s);
    out << (o.json ? ToJson(status) : FormatTraceStatus(status));
    return absl::OkStatus();
  }
  if (args[0] != "frame") return UsageError(absl::StrCat("usage: ", usage));
  KMCTL_RETURN_IF_ERROR(WantArgs(usage, args, 2, 2));
  KMCTL_ASSIGN(number, ParseNumber("frame number", args[1]));
  v1::FindTraceFrameRequest req;
  req.set_number(number);
  v1::TraceFrame frame;
  grpc::Status s = stub_->FindTraceFrame(CallContext().get(), req, &frame);
  if (!s.ok()) return RpcError("FindTraceFrame", s);
  // km answers a missing frame with found false; kmctl fails as for km's other unknown things
  // (a thread, a breakpoint), so that a script need not look inside the answer.
  if (!frame.found()) {
    return RpcError("FindTraceFrame", grpc::Status(grpc::StatusCode::NOT_FOUND,
                                                   absl::StrFormat("no trace frame %d", number)));
  }
  out << (o.json ? ToJson(frame) : FormatTraceFrame(frame));
  return absl::OkStatus();
}

absl::Status Commands::Core(const std::vector<std::string>& args, const Options& o,
                            std::ostream& out) {
  KMCTL_RETURN_IF_ERROR(WantArgs("core PATH [TID]", args, 1, 2));
  v1::WriteCoreRequest req;
  req.set_session(session_->id());
  req.set_path(args[0]);
  if (args.size() == 2) {
    KMCTL_ASSIGN(tid, Tid(args[1]));
    req.set_tid(tid);
  }
  v1::WriteCoreResponse resp;
  grpc::Status s = stub_->WriteCore(CallContext().get(), req, &resp);
  if (!s.ok()) return RpcError("WriteCore", s);
  if (o.json) {
    out << ToJson(resp);
  } else {
    out << absl::StrFormat("core of %d threads written to %s (%d bytes)\n", resp.threads(),
                           resp.path(), resp.size());
  }
  return absl::OkStatus();
}

absl::Status Commands::SetReg(const std::vector<std::string>& args, const Options& o,
                              std::ostream& out) {
  KMCTL_RETURN_IF_ERROR(WantArgs("set-reg TID REG VALUE", args, 3, 3));
  KMCTL_ASSIGN(tid, Tid(args[0]));
  KMCTL_ASSIGN(value, ParseNumber("register value", args[2]));
  v1::ReadRegistersRequest rreq;
  rreq.set_tid(tid);
  v1::Registers regs;
  grpc::Status s = stub_->ReadRegisters(CallContext().get(), rreq, &regs);
  if (!s.ok()) return RpcError("ReadRegisters", s);
  KMCTL_RETURN_IF_ERROR(SetRegister(regs, args[1], value));
  v1::WriteRegistersRequest wreq;
  wreq.set_session(session_->id());
  wreq.set_tid(tid);
  *wreq.mutable_registers() = regs;
  v1::WriteRegistersResponse wresp;
  s = stub_->WriteRegisters(CallContext().get(), wreq, &wresp);
  if (!s.ok()) return RpcError("WriteRegisters", s);
  KMCTL_ASSIGN(text, o.json ? RegistersJson(regs, {args[1]}) : FormatRegisters(regs, {args[1]}));
  out << text;
  return absl::OkStatus();
}

absl::Status Commands::Breakpoint(const std::string& command, const std::vector<std::string>& args,
                                  const Options& o, std::ostream& out) {
  static const std::map<std::string, v1::BreakpointKind> kKinds = {
      {"break", v1::BREAKPOINT_KIND_SOFTWARE},     {"hbreak", v1::BREAKPOINT_KIND_HARDWARE},
      {"dprintf", v1::BREAKPOINT_KIND_SOFTWARE},
      {"write", v1::BREAKPOINT_KIND_WATCH_WRITE},  {"read", v1::BREAKPOINT_KIND_WATCH_READ},
      {"access", v1::BREAKPOINT_KIND_WATCH_ACCESS}};
  std::string kind_word = command;
  std::vector<std::string> rest = args;
  const char* usage = "break ADDR [if CONDITION]";
  if (command == "hbreak") usage = "hbreak ADDR [if CONDITION]";
  if (command == "dprintf") usage = "dprintf ADDR \"FORMAT\"[, ARG...]";
  if (command == "watch") {
    usage = "watch ADDR LEN write|read|access";
    KMCTL_RETURN_IF_ERROR(WantArgs(usage, args, 3, 3));
    kind_word = args[2];
    rest.pop_back();
  } else if (command == "delete") {
    usage = "delete break|hbreak|write|read|access ADDR [LEN]";
    KMCTL_RETURN_IF_ERROR(WantArgs(usage, args, 2, 3));
    kind_word = args[0];
    rest.erase(rest.begin());
  }
  auto kind = kKinds.find(kind_word);
  if (kind == kKinds.end()) return UsageError(absl::StrCat("usage: ", usage));
  const bool watch = kind->second >= v1::BREAKPOINT_KIND_WATCH_WRITE;
  const bool inserting_code = command == "break" || command == "hbreak" || command == "dprintf";
  const size_t max_args = watch ? 2 : inserting_code ? SIZE_MAX : 1;
  KMCTL_RETURN_IF_ERROR(WantArgs(usage, rest, watch ? 2 : 1, max_args));
  KMCTL_ASSIGN(addr, resolver_->Resolve(rest[0]));
  uint64_t len = 1;
  if (watch) {
    KMCTL_ASSIGN(n, ParseNumber("watch length", rest[1]));
    len = n;
  }
  v1::BreakpointRequest req;
  std::string condition;
  if (command == "dprintf") {
    // The format as typed, spaces and all: from its opening quote on.
    const size_t quote = o.line.find('"');
    const std::string text = quote != std::string::npos
                                 ? o.line.substr(quote)
                                 : absl::StrJoin(rest.begin() + 1, rest.end(), " ");
    KMCTL_ASSIGN(code, CompileDprintf(text, *resolver_));
    req.add_commands(code);
  } else if (inserting_code && rest.size() > 1) {
    if (rest[1] != "if" || rest.size() < 3) return UsageError(absl::StrCat("usage: ", usage));
    condition = absl::StrJoin(rest.begin() + 2, rest.end(), " ");
    KMCTL_ASSIGN(code, CompileCondition(condition, *resolver_));
    req.add_conditions(code);
  }
  req.set_session(session_->id());
  req.set_kind(kind->second);
  req.set_addr(addr);
  req.set_len(len);
  v1::BreakpointResponse resp;
  const bool remove = command == "delete";
  grpc::Status s = remove ? stub_->RemoveBreakpoint(CallContext().get(), req, &resp)
                          : stub_->InsertBreakpoint(CallContext().get(), req, &resp);
  if (!s.ok()) return RpcError(remove ? "RemoveBreakpoint" : "InsertBreakpoint", s);
  if (o.json) {
    out << ToJson(req);
  } else {
    const std::string what = watch ? absl::StrFormat("%s watchpoint (%d bytes)", kind_word, len)
                             : kind_word == "break"   ? "breakpoint"
                             : kind_word == "dprintf" ? "dprintf"
                                                      : "hardware breakpoint";
    out << absl::StrFormat("%s %s at 0x%x%s\n", remove ? "removed" : "inserted", what, addr,
                           condition.empty() ? "" : absl::StrCat(" if ", condition));
  }
  return absl::OkStatus();
}

absl::Status Commands::CatchSyscalls(const std::vector<std::string>& args, const Options& o,
                                     std::ostream& out) {
  const char* usage = "catch-syscalls all|off|NUMBER...";
  KMCTL_RETURN_IF_ERROR(WantArgs(usage, args, 1, 64));
  v1::CatchSyscallsRequest req;
  req.set_session(session_->id());
  const bool all = args.size() == 1 && args[0] == "all";
  const bool off = args.size() == 1 && args[0] == "off";
  req.set_enabled(!off);
  if (!all && !off) {
    for (const std::string& word : args) {
      KMCTL_ASSIGN(n, ParseNumber("syscall number", word));
      req.add_numbers(static_cast<int64_t>(n));
    }
  }
  v1::CatchSyscallsResponse resp;
  grpc::Status s = stub_->CatchSyscalls(CallContext().get(), req, &resp);
  if (!s.ok()) return RpcError("CatchSyscalls", s);
  if (o.json) {
    out << ToJson(req);
  } else if (off) {
    out << "catching no syscall\n";
  } else if (all) {
    out << "catching every syscall\n";
  } else {
    out << "catching syscalls " << absl::StrJoin(req.numbers(), " ") << "\n";
  }
  return absl::OkStatus();
}

absl::Status Commands::Wait(const std::vector<std::string>& args, const Options& o,
                            std::ostream& out) {
  KMCTL_RETURN_IF_ERROR(WantArgs("wait [SECONDS]", args, 0, 1));
  absl::Duration timeout = absl::Seconds(60);
  if (!args.empty()) {
    KMCTL_ASSIGN(seconds, ParseNumber("seconds", args[0]));
    timeout = absl::Seconds(seconds);
  }
  // Thread notices come out too, in order, up to the stop or exit the caller waits for.
  for (;;) {
    KMCTL_ASSIGN(ev, session_->Wait(timeout));
    out << (o.json ? ToJson(ev) : FormatEvent(ev));
    if (ev.has_stop() || ev.has_process_exited()) return absl::OkStatus();
  }
}

absl::Status Commands::Detach(const Options& o, std::ostream& out) {
  KMCTL_RETURN_IF_ERROR(session_->Detach());
  detached_ = true;
  out << (o.json ? ToJson(v1::DetachResponse()) : "detached\n");
  return absl::OkStatus();
}

}  // namespace kmctl
