#include "agent/grpc_target.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "agent/log.h"
#include "grpcpp/grpcpp.h"
#include "proto/km_debug.grpc.pb.h"
#include "proto/km_debug.pb.h"

namespace agent {
namespace {

namespace v1 = ::km::debug::v1;

// Every call but the event stream is a quick request to km; a stuck km must not hang gdb.
constexpr auto kCallTimeout = std::chrono::seconds(30);
constexpr auto kConnectTimeout = std::chrono::seconds(5);
// How long following an exec may take: km execs itself, and the next km loads its payload and
// opens its socket.
constexpr absl::Duration kExecTimeout = absl::Seconds(30);

// Whether a process has ended for good: no such pid, or a zombie waiting for its parent's wait.
bool ProcessEnded(int pid) {
  std::ifstream in(absl::StrFormat("/proc/%d/stat", pid));
  std::string stat;
  if (!std::getline(in, stat)) return true;
  // "PID (COMM) STATE ...": COMM may hold anything, ')' included.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return true;
  return stat[close + 2] == 'Z' || stat[close + 2] == 'X';
}

absl::Status FromGrpc(absl::string_view rpc, const grpc::Status& s) {
  if (Verbose()) Log(absl::StrCat("rpc ", rpc, s.ok() ? "" : " failed"));
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(rpc, ": ", s.error_message()));
}

amd64::GeneralRegs FromProto(const v1::Registers& r) {
  amd64::GeneralRegs g;
  g.gpr = {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rbp(), r.rsp(),
           r.r8(),  r.r9(),  r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15()};
  g.rip = r.rip();
  g.eflags = r.rflags();
  g.seg = {r.cs(), r.ss(), r.ds(), r.es(), r.fs(), r.gs()};
  g.fs_base = r.fs_base();
  g.gs_base = r.gs_base();
  g.orig_rax = r.orig_rax();
  return g;
}

void ToProto(const amd64::GeneralRegs& g, v1::Registers* r) {
  r->set_rax(g.gpr[0]);
  r->set_rbx(g.gpr[1]);
  r->set_rcx(g.gpr[2]);
  r->set_rdx(g.gpr[3]);
  r->set_rsi(g.gpr[4]);
  r->set_rdi(g.gpr[5]);
  r->set_rbp(g.gpr[6]);
  r->set_rsp(g.gpr[7]);
  r->set_r8(g.gpr[8]);
  r->set_r9(g.gpr[9]);
  r->set_r10(g.gpr[10]);
  r->set_r11(g.gpr[11]);
  r->set_r12(g.gpr[12]);
  r->set_r13(g.gpr[13]);
  r->set_r14(g.gpr[14]);
  r->set_r15(g.gpr[15]);
  r->set_rip(g.rip);
  r->set_rflags(g.eflags);
  r->set_cs(g.seg[0]);
  r->set_ss(g.seg[1]);
  r->set_ds(g.seg[2]);
  r->set_es(g.seg[3]);
  r->set_fs(g.seg[4]);
  r->set_gs(g.seg[5]);
  r->set_fs_base(g.fs_base);
  r->set_gs_base(g.gs_base);
  r->set_orig_rax(g.orig_rax);
}

template <size_t N>
absl::Status CopyBytes(const std::string& in, std::array<uint8_t, N>& out, absl::string_view what) {
  if (in.size() != N) {
    return absl::DataLossError(
        absl::StrFormat("km sent %d bytes for %s, want %d", in.size(), what, N));
  }
  memcpy(out.data(), in.data(), N);
  return absl::OkStatus();
}

absl::StatusOr<amd64::FpuRegs> FromProto(const v1::FpuRegisters& f) {
  amd64::FpuRegs out;
  if (f.st_size() != 8 || f.xmm_size() != 16 || (f.ymmh_size() != 0 && f.ymmh_size() != 16)) {
    return absl::DataLossError(absl::StrFormat(
        "km sent %d st, %d xmm and %d ymmh registers", f.st_size(), f.xmm_size(), f.ymmh_size()));
  }
  for (int i = 0; i < 8; ++i) {
    if (absl::Status s = CopyBytes(f.st(i), out.st[i], absl::StrCat("st", i)); !s.ok()) return s;
  }
  for (int i = 0; i < 16; ++i) {
    if (absl::Status s = CopyBytes(f.xmm(i), out.xmm[i], absl::StrCat("xmm", i)); !s.ok()) return s;
  }
  out.has_ymmh = f.ymmh_size() == 16;
  for (int i = 0; out.has_ymmh && i < 16; ++i) {
    if (absl::Status s = CopyBytes(f.ymmh(i), out.ymmh[i], absl::StrCat("ymm", i, "h")); !s.ok()) {
      return s;
    }
  }
  out.x87_control = {f.fcw(), f.fsw(), f.ftw(), f.fiseg(), f.fioff(), f.foseg(), f.fooff(), f.fop()};
  out.mxcsr = f.mxcsr();
  return out;
}

void ToProto(const amd64::FpuRegs& in, v1::FpuRegisters* f) {
  for (const auto& st : in.st) f->add_st(reinterpret_cast<const char*>(st.data()), st.size());
  f->set_fcw(in.x87_control[0]);
  f->set_fsw(in.x87_control[1]);
  f->set_ftw(in.x87_control[2]);
  f->set_fiseg(in.x87_control[3]);
  f->set_fioff(in.x87_control[4]);
  f->set_foseg(in.x87_control[5]);
  f->set_fooff(in.x87_control[6]);
  f->set_fop(in.x87_control[7]);
  f->set_mxcsr(in.mxcsr);
  for (const auto& x : in.xmm) f->add_xmm(reinterpret_cast<const char*>(x.data()), x.size());
  if (in.has_ymmh) {
    for (const auto& y : in.ymmh) f->add_ymmh(reinterpret_cast<const char*>(y.data()), y.size());
  }
}

// The general registers, and the FPU state when fpu says km sent it.
absl::StatusOr<amd64::Registers> FromProto(const v1::Registers& r, bool fpu) {
  amd64::Registers out{FromProto(r), std::nullopt};
  if (fpu) {
    absl::StatusOr<amd64::FpuRegs> f = FromProto(r.fpu());
    if (!f.ok()) return f.status();
    out.fpu = *f;
  }
  return out;
}

StopReason FromProto(const v1::StopReason& r) {
  StopReason out;
  switch (r.kind()) {
    case v1::STOP_KIND_BREAKPOINT: out.kind = StopKind::kBreakpoint; break;
    case v1::STOP_KIND_HW_BREAKPOINT: out.kind = StopKind::kHwBreakpoint; break;
    case v1::STOP_KIND_WATCHPOINT: out.kind = StopKind::kWatchpoint; break;
    case v1::STOP_KIND_STEP: out.kind = StopKind::kStep; break;
    case v1::STOP_KIND_SIGNAL: out.kind = StopKind::kSignal; break;
    case v1::STOP_KIND_SYSCALL_ENTRY: out.kind = StopKind::kSyscallEntry; break;
    case v1::STOP_KIND_SYSCALL_RETURN: out.kind = StopKind::kSyscallReturn; break;
    case v1::STOP_KIND_HISTORY_BEGIN: out.kind = StopKind::kHistoryBegin; break;
    case v1::STOP_KIND_EXEC: out.kind = StopKind::kExec; break;
    default: out.kind = StopKind::kInterrupted; break;
  }
  out.syscall = r.syscall();
  out.linux_signal = r.signal();
  out.fault_addr = r.fault_addr();
  out.signal_code = r.signal_code();
  out.sender_pid = r.sender_pid();
  out.sender_uid = r.sender_uid();
  out.watch_addr = r.watch_addr();
  out.exec_path = r.exec_path();
  switch (r.watch_kind()) {
    case v1::WATCH_KIND_READ: out.watch_kind = WatchKind::kRead; break;
    case v1::WATCH_KIND_ACCESS: out.watch_kind = WatchKind::kAccess; break;
    default: out.watch_kind = WatchKind::kWrite; break;
  }
  return out;
}

ThreadStop FromProto(const v1::StopEvent& e) {
  return ThreadStop{e.tid(), FromProto(e.reason()), FromProto(e.registers()), e.stack_addr(),
                    e.stack()};
}

std::string RegionKindName(v1::RegionKind kind) {
  switch (kind) {
    case v1::REGION_KIND_TEXT: return "text";
    case v1::REGION_KIND_DATA: return "data";
    case v1::REGION_KIND_HEAP: return "heap";
    case v1::REGION_KIND_STACK: return "stack";
    case v1::REGION_KIND_MMAP: return "mmap";
    default: return "other";
  }
}

v1::BreakpointKind ToProto(BreakpointKind kind) {
  switch (kind) {
    case BreakpointKind::kSoftware: return v1::BREAKPOINT_KIND_SOFTWARE;
    case BreakpointKind::kHardware: return v1::BREAKPOINT_KIND_HARDWARE;
    case BreakpointKind::kWatchWrite: return v1::BREAKPOINT_KIND_WATCH_WRITE;
    case BreakpointKind::kWatchRead: return v1::BREAKPOINT_KIND_WATCH_READ;
    case BreakpointKind::kWatchAccess: return v1::BREAKPOINT_KIND_WATCH_ACCESS;
  }
  return v1::BREAKPOINT_KIND_SOFTWARE;
}

v1::ResumeMode ToProto(ResumeMode mode) {
  switch (mode) {
    case ResumeMode::kStep: return v1::RESUME_MODE_STEP;
    case ResumeMode::kRangeStep: return v1::RESUME_MODE_RANGE_STEP;
    case ResumeMode::kContinue: return v1::RESUME_MODE_CONTINUE;
    case ResumeMode::kReverseStep: return v1::RESUME_MODE_REVERSE_STEP;
    case ResumeMode::kReverseContinue: return v1::RESUME_MODE_REVERSE_CONTINUE;
  }
  return v1::RESUME_MODE_CONTINUE;
}

RecordingStatus FromProto(const v1::RecordingStatus& r) {
  return RecordingStatus{r.enabled(), r.instructions(), r.max_instructions(), r.replay_position()};
}

ThreadState FromProto(v1::ThreadState state) {
  switch (state) {
    case v1::THREAD_STATE_STOPPED: return ThreadState::kStopped;
    case v1::THREAD_STATE_EXITED: return ThreadState::kExited;
    default: return ThreadState::kRunning;
  }
}

ThreadInfo FromProto(const v1::Thread& t) {
  return ThreadInfo{t.tid(), t.name(), FromProto(t.state())};
}

void ToProto(const TraceMemory& m, v1::MemoryCollection* c) {
  c->set_base_register(m.base_register);
  c->set_offset(m.offset);
  c->set_length(m.length);
}

void ToProto(const Tracepoint& t, v1::Tracepoint* p) {
  p->set_number(t.number);
  p->set_address(t.address);
  p->set_enabled(t.enabled);
  p->set_pass_count(t.pass_count);
  p->set_condition(t.condition);
  p->set_collect_registers(t.collect_registers);
  for (const TraceMemory& m : t.memory) ToProto(m, p->add_memory());
  for (const std::string& e : t.expressions) p->add_expressions(e);
  p->set_step_count(t.step_count);
  p->set_step_collect_registers(t.step_collect_registers);
  for (const TraceMemory& m : t.step_memory) ToProto(m, p->add_step_memory());
  for (const std::string& e : t.step_expressions) p->add_step_expressions(e);
}

TraceStopReason FromProto(v1::TraceStopReason reason) {
  switch (reason) {
    case v1::TRACE_STOP_REASON_REQUESTED: return TraceStopReason::kRequested;
    case v1::TRACE_STOP_REASON_PASS_COUNT: return TraceStopReason::kPassCount;
    case v1::TRACE_STOP_REASON_BUFFER_FULL: return TraceStopReason::kBufferFull;
    case v1::TRACE_STOP_REASON_DISCONNECTED: return TraceStopReason::kDisconnected;
    case v1::TRACE_STOP_REASON_ERROR: return TraceStopReason::kError;
    default: return TraceStopReason::kNone;
  }
}

TraceVariableValue FromProto(const v1::TraceVariableValue& v) {
  return TraceVariableValue{v.number(), v.value()};
}

TraceStatus FromProto(const v1::TraceStatus& s) {
  TraceStatus out;
  out.running = s.running();
  out.ever_run = s.ever_run();
  out.stop_reason = FromProto(s.stop_reason());
  out.stopping_tracepoint = s.stopping_tracepoint();
  out.error = s.error();
  out.frames = s.frames();
  out.frames_created = s.frames_created();
  out.buffer_size = s.buffer_size();
  out.buffer_free = s.buffer_free();
  out.circular = s.circular();
  for (const v1::TracepointStatus& t : s.tracepoints()) {
    out.tracepoints.push_back(TracepointStatus{t.number(), t.address(), t.hits(), t.bytes()});
  }
  for (const v1::TraceVariableValue& v : s.variables()) out.variables.push_back(FromProto(v));
  out.start_time_us = s.start_time_us();
  out.stop_time_us = s.stop_time_us();
  return out;
}

v1::FindTraceFrameRequest ToProto(const TraceFrameQuery& q) {
  v1::FindTraceFrameRequest req;
  req.set_after(q.after);
  switch (q.kind) {
    case TraceFrameQuery::Kind::kNumber: req.set_number(q.number); break;
    case TraceFrameQuery::Kind::kPc: req.set_pc(q.pc); break;
    case TraceFrameQuery::Kind::kTracepoint: req.set_tracepoint(q.tracepoint); break;
    case TraceFrameQuery::Kind::kInside:
      req.mutable_inside()->set_start(q.start);
      req.mutable_inside()->set_end(q.end);
      break;
    case TraceFrameQuery::Kind::kOutside:
      req.mutable_outside()->set_start(q.start);
      req.mutable_outside()->set_end(q.end);
      break;
  }
  return req;
}

absl::StatusOr<TraceFrame> FromProto(const v1::TraceFrame& f) {
  TraceFrame out;
  out.number = f.number();
  out.tracepoint = f.tracepoint();
  out.pc = f.pc();
  out.tid = f.tid();
  if (f.has_registers()) {
    absl::StatusOr<amd64::Registers> regs = FromProto(f.registers(), f.registers().has_fpu());
    if (!regs.ok()) return regs.status();
    out.registers = *std::move(regs);
  }
  for (const v1::MemoryBlock& b : f.memory()) out.memory.push_back({b.address(), b.data()});
  for (const v1::TraceVariableValue& v : f.variables()) out.variables.push_back(FromProto(v));
  return out;
}

// km answers with up to 64 MiB (a trace frame, a large memory read); gRPC's default would
// refuse anything over 4.
grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return args;
}

// A controlling session with km.
struct Attached {
  std::unique_ptr<v1::Debug::Stub> stub;
  std::string session;
};

absl::StatusOr<Attached> AttachToKm(const std::string& socket_path,
                                    const std::string& client_name,
                                    std::chrono::system_clock::duration connect_timeout) {
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(absl::StrCat("unix:", socket_path),
                                grpc::InsecureChannelCredentials(), ChannelArgs());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + connect_timeout)) {
    return absl::UnavailableError(
        absl::StrCat("km's debug socket ", socket_path, " does not answer"));
  }
  Attached out{v1::Debug::NewStub(channel), ""};
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  v1::AttachRequest req;
  req.set_client_name(client_name);
  v1::AttachResponse resp;
  if (absl::Status s = FromGrpc("Attach", out.stub->Attach(&ctx, req, &resp)); !s.ok()) return s;
  out.session = resp.session();
  return out;
}

class GrpcTarget : public Target {
 public:
  GrpcTarget(Attached attached, std::string socket_path, std::string client_name, int event_fd)
      : stub_(std::move(attached.stub)),
        session_(std::move(attached.session)),
        socket_path_(std::move(socket_path)),
        client_name_(std::move(client_name)),
        event_fd_(event_fd) {}

  ~GrpcTarget() override {
    StopEvents();
    close(event_fd_);
  }

  void StartEvents() {
    {
      absl::MutexLock lock(&mu_);
      reader_done_ = false;
    }
    events_context_ = std::make_unique<grpc::ClientContext>();
    reader_ = std::thread([this] { ReadEvents(); });
  }

  absl::StatusOr<TargetInfo> GetTarget() override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::Target t;
    if (absl::Status s = FromGrpc("GetTarget", stub_->GetTarget(&ctx, {}, &t)); !s.ok()) return s;
    TargetInfo info;
    info.payload_path = t.payload_path();
    info.argv.assign(t.argv().begin(), t.argv().end());
    info.entry = t.entry();
    info.load_bias = t.load_bias();
    info.pie = t.pie();
    info.auxv = t.auxv();
    for (const v1::MemoryRegion& r : t.regions()) {
      info.regions.push_back(Region{r.start(), r.size(), r.read(), r.write(), r.exec(),
                                    RegionKindName(r.kind()), r.name()});
    }
    info.engine = t.engine().name();
    info.avx = t.engine().avx();
    info.data_watchpoints = t.engine().data_watchpoints();
    info.hw_breakpoints = static_cast<int>(t.engine().hw_breakpoints());
    info.recording = t.engine().recording();
    info.pid = t.pid();
    return info;
  }

  absl::StatusOr<std::vector<ThreadInfo>> ListThreads() override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::ListThreadsResponse resp;
    if (absl::Status s = FromGrpc("ListThreads", stub_->ListThreads(&ctx, {}, &resp)); !s.ok()) {
      return s;
    }
    std::vector<ThreadInfo> out;
    for (const v1::Thread& t : resp.threads()) out.push_back(FromProto(t));
    return out;
  }

  absl::StatusOr<std::vector<ThreadStop>> Stop(const std::vector<int>& tids) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::StopRequest req;
    req.set_session(session_);
    for (int tid : tids) req.add_tids(tid);
    v1::StopResponse resp;
    if (absl::Status s = FromGrpc("Stop", stub_->Stop(&ctx, req, &resp)); !s.ok()) return s;
    std::vector<ThreadStop> out;
    for (const v1::StopEvent& e : resp.stopped()) out.push_back(FromProto(e));
    return out;
  }

  absl::Status Resume(const std::vector<ThreadAction>& actions, StopWait wait) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::ResumeRequest req;
    req.set_session(session_);
    req.set_wait_for_stop_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(wait.wait)));
    req.set_list_threads(wait.list_threads);
    req.set_stop_others(wait.stop_others);
    for (const ThreadAction& a : actions) {
      v1::ThreadAction* p = req.add_actions();
      p->set_tid(a.tid);
      p->set_mode(ToProto(a.mode));
      p->set_range_start(a.range_start);
      p->set_range_end(a.range_end);
      p->set_signal(a.linux_signal);
    }
    v1::ResumeResponse resp;
    if (absl::Status s = FromGrpc("Resume", stub_->Resume(&ctx, req, &resp)); !s.ok()) return s;
    if (resp.has_stop()) {
      if (Verbose()) {
        Log(absl::StrFormat("stop of %d answered in the call%s", resp.stop().tid(),
                            resp.stopped_size() > 0 ? ", the others stopped by km" : ""));
      }
      {
        absl::MutexLock lock(&mu_);
        ThreadStop stop = FromProto(resp.stop());
        for (const v1::Thread& t : resp.threads()) stop.threads.push_back(FromProto(t));
        for (const v1::StopEvent& e : resp.stopped()) stop.all_stopped.push_back(FromProto(e));
        handed_.emplace_back(resp.stream_events_before(), std::move(stop));
      }
      Wake();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<amd64::Registers> ReadRegisters(int tid, bool fpu) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::ReadRegistersRequest req;
    req.set_tid(tid);
    req.set_fpu(fpu);
    v1::Registers resp;
    if (absl::Status s = FromGrpc("ReadRegisters", stub_->ReadRegisters(&ctx, req, &resp));
        !s.ok()) {
      return s;
    }
    return FromProto(resp, fpu);
  }

  absl::Status WriteRegisters(int tid, const amd64::Registers& regs) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::WriteRegistersRequest req;
    req.set_session(session_);
    req.set_tid(tid);
    ToProto(regs.general, req.mutable_registers());
    if (regs.fpu) ToProto(*regs.fpu, req.mutable_registers()->mutable_fpu());
    v1::WriteRegistersResponse resp;
    return FromGrpc("WriteRegisters", stub_->WriteRegisters(&ctx, req, &resp));
  }

  absl::StatusOr<std::string> ReadMemory(uint64_t addr, uint64_t len) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::ReadMemoryRequest req;
    req.set_addr(addr);
    req.set_len(len);
    v1::ReadMemoryResponse resp;
    if (absl::Status s = FromGrpc("ReadMemory", stub_->ReadMemory(&ctx, req, &resp)); !s.ok()) {
      return s;
    }
    return std::move(*resp.mutable_data());
  }

  absl::Status WriteMemory(uint64_t addr, absl::string_view data) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::WriteMemoryRequest req;
    req.set_session(session_);
    req.set_addr(addr);
    req.set_data(std::string(data));
    v1::WriteMemoryResponse resp;
    if (absl::Status s = FromGrpc("WriteMemory", stub_->WriteMemory(&ctx, req, &resp)); !s.ok()) {
      return s;
    }
    if (resp.written() != data.size()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "WriteMemory: wrote %d of %d bytes at 0x%x", resp.written(), data.size(), addr));
    }
    return absl::OkStatus();
  }

  absl::Status InsertBreakpoint(BreakpointKind kind, uint64_t addr, uint64_t len,
                                const BreakpointActions& actions) override {
    return Breakpoint(/*insert=*/true, kind, addr, len, actions);
  }
  absl::Status RemoveBreakpoint(BreakpointKind kind, uint64_t addr, uint64_t len) override {
    return Breakpoint(/*insert=*/false, kind, addr, len, {});
  }

  absl::Status CatchSyscalls(bool enabled, const std::vector<int64_t>& numbers) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::CatchSyscallsRequest req;
    req.set_session(session_);
    req.set_enabled(enabled);
    for (int64_t n : numbers) req.add_numbers(n);
    v1::CatchSyscallsResponse resp;
    absl::Status s = FromGrpc("CatchSyscalls", stub_->CatchSyscalls(&ctx, req, &resp));
    if (s.ok()) catch_syscalls_ = req;
    return s;
  }

  absl::Status PassSignals(const std::vector<int>& linux_signals) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::PassSignalsRequest req;
    req.set_session(session_);
    for (int s : linux_signals) req.add_signals(s);
    v1::PassSignalsResponse resp;
    absl::Status s = FromGrpc("PassSignals", stub_->PassSignals(&ctx, req, &resp));
    if (s.ok()) pass_signals_ = req;
    return s;
  }

  absl::Status ProgramSignals(const std::vector<int>& linux_signals) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::ProgramSignalsRequest req;
    req.set_session(session_);
    for (int s : linux_signals) req.add_signals(s);
    v1::ProgramSignalsResponse resp;
    absl::Status s = FromGrpc("ProgramSignals", stub_->ProgramSignals(&ctx, req, &resp));
    if (s.ok()) program_signals_ = req;
    return s;
  }

  absl::StatusOr<RecordingStatus> SetRecording(bool enabled, uint64_t max_instructions) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::SetRecordingRequest req;
    req.set_session(session_);
    req.set_enabled(enabled);
    req.set_max_instructions(max_instructions);
    v1::RecordingStatus resp;
    if (absl::Status s = FromGrpc("SetRecording", stub_->SetRecording(&ctx, req, &resp)); !s.ok()) {
      return s;
    }
    return FromProto(resp);
  }

  absl::StatusOr<RecordingStatus> GetRecording() override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::RecordingStatus resp;
    if (absl::Status s = FromGrpc("GetRecording", stub_->GetRecording(&ctx, {}, &resp)); !s.ok()) {
      return s;
    }
    return FromProto(resp);
  }

  absl::Status StartTrace(const TraceSetup& setup) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::StartTraceRequest req;
    req.set_session(session_);
    for (const Tracepoint& t : setup.tracepoints) ToProto(t, req.add_tracepoints());
    for (const TraceVariable& v : setup.variables) {
      v1::TraceVariable* p = req.add_variables();
      p->set_number(v.number);
      p->set_initial_value(v.initial_value);
      p->set_name(v.name);
    }
    req.set_buffer_size(setup.buffer_size);
    req.set_circular(setup.circular);
    v1::TraceStatus resp;
    return FromGrpc("StartTrace", stub_->StartTrace(&ctx, req, &resp));
  }

  absl::Status StopTrace() override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::StopTraceRequest req;
    req.set_session(session_);
    v1::TraceStatus resp;
    return FromGrpc("StopTrace", stub_->StopTrace(&ctx, req, &resp));
  }

  absl::StatusOr<TraceStatus> GetTraceStatus() override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::TraceStatus resp;
    if (absl::Status s = FromGrpc("GetTraceStatus", stub_->GetTraceStatus(&ctx, {}, &resp));
        !s.ok()) {
      return s;
    }
    return FromProto(resp);
  }

  absl::StatusOr<std::optional<TraceFrame>> FindTraceFrame(const TraceFrameQuery& query) override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::TraceFrame resp;
    absl::Status s = FromGrpc("FindTraceFrame", stub_->FindTraceFrame(&ctx, ToProto(query), &resp));
    if (!s.ok()) return s;
    if (!resp.found()) return std::optional<TraceFrame>();
    absl::StatusOr<TraceFrame> frame = FromProto(resp);
    if (!frame.ok()) return frame.status();
    return std::optional<TraceFrame>(*std::move(frame));
  }

  absl::Status Detach() override {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::DetachRequest req;
    req.set_session(session_);
    v1::DetachResponse resp;
    return FromGrpc("Detach", stub_->Detach(&ctx, req, &resp));
  }

  int event_fd() const override { return event_fd_; }

  std::optional<Event> NextEvent() override {
    std::optional<Event> e = TakeEvent();
    if (const ThreadStop* stop = e ? std::get_if<ThreadStop>(&*e) : nullptr;
        stop != nullptr && stop->reason.kind == StopKind::kExec) {
      return FollowExec(*stop);
    }
    return e;
  }

 private:
  static void SetDeadline(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  }

  std::optional<Event> TakeEvent() {
    absl::MutexLock lock(&mu_);
    // A stop km answered inside Resume goes after the stream events km sent before it, some
    // of which may still be on their way.
    const uint64_t next_from_stream = received_ - events_.size();
    if (!handed_.empty() && handed_.front().first <= next_from_stream) {
      Event e = std::move(handed_.front().second);
      handed_.pop_front();
      return e;
    }
    if (events_.empty()) {
      uint64_t count;
      (void)!read(event_fd_, &count, sizeof count);  // nonblocking: clears the readiness
      return std::nullopt;
    }
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
  }

  void StopEvents() {
    if (events_context_ != nullptr) events_context_->TryCancel();
    if (reader_.joinable()) reader_.join();
  }

  // km stopped a thread at an execve (STOP_KIND_EXEC): lets it go on, waits for km to exec
  // itself (the stream ends), attaches to the next km on the same socket and reports the
  // thread it holds before the new program's first instruction as the exec's stop. What the
  // session set in km that outlives an exec under Linux (caught syscalls, passed and program
  // signals) is set again; breakpoints are the debugger's to insert in the new program.
  Event FollowExec(const ThreadStop& exec_stop) {
    if (Verbose()) Log(absl::StrCat("following the exec of ", exec_stop.reason.exec_path));
    const absl::Time deadline = absl::Now() + kExecTimeout;
    // The pid stays across the exec: while it lives, a next km may still be starting. (Only
    // where this agent sees km's pid at all: not from another pid namespace.)
    absl::StatusOr<TargetInfo> before = GetTarget();
    if (!before.ok()) {
      return EventsEnded{absl::StrCat("cannot let km exec: ", before.status().message())};
    }
    const int pid = before->pid;
    const bool pid_seen = !ProcessEnded(pid);
    auto km_ended = [&] { return pid_seen && ProcessEnded(pid); };
    // km may exec before its answer is out (the connection then closes under the call): the
    // stream's end below tells whether it went on.
    absl::Status resumed = Resume({ThreadAction{}}, StopWait{});
    if (!resumed.ok() && !absl::IsUnavailable(resumed)) {
      return EventsEnded{absl::StrCat("cannot let km exec: ", resumed.message())};
    }
    {
      absl::MutexLock lock(&mu_);
      auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return reader_done_; };
      if (!mu_.AwaitWithDeadline(absl::Condition(&done), deadline)) {
        return EventsEnded{"km did not exec"};
      }
    }
    StopEvents();
    {
      absl::MutexLock lock(&mu_);
      // The old km's last words: its stream's end, or how the payload ended instead.
      for (Event& e : events_) {
        if (std::holds_alternative<ProcessExited>(e)) return std::move(e);
      }
      events_.clear();
      handed_.clear();
      received_ = 0;
    }
    // Until the next km has its socket in place, the old one's file refuses connections.
    absl::StatusOr<Attached> attached =
        AttachToKm(socket_path_, client_name_, std::chrono::milliseconds(100));
    while (!attached.ok() && absl::IsUnavailable(attached.status()) && absl::Now() < deadline &&
           !km_ended()) {
      absl::SleepFor(absl::Milliseconds(10));
      attached = AttachToKm(socket_path_, client_name_, std::chrono::milliseconds(100));
    }
    if (!attached.ok()) {
      return EventsEnded{absl::StrCat(
          "the km after the exec: ", attached.status().message(),
          km_ended() ? absl::StrFormat(" (km pid %d has ended)", pid) : "")};
    }
    stub_ = std::move(attached->stub);
    session_ = std::move(attached->session);
    StartEvents();
    ReplaySettings();
    absl::MutexLock lock(&mu_);
    auto held = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !events_.empty() || reader_done_;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&held), deadline) ||
        !std::holds_alternative<ThreadStop>(events_.front())) {
      return EventsEnded{"the km after the exec holds no thread"};
    }
    ThreadStop stop = std::get<ThreadStop>(std::move(events_.front()));
    events_.pop_front();
    stop.reason = exec_stop.reason;
    return stop;
  }

  void ReplaySettings() {
    SendAgain("CatchSyscalls", catch_syscalls_, &v1::Debug::Stub::CatchSyscalls);
    SendAgain("PassSignals", pass_signals_, &v1::Debug::Stub::PassSignals);
    SendAgain("ProgramSignals", program_signals_, &v1::Debug::Stub::ProgramSignals);
  }

  // A request km took before, sent again in this session.
  template <typename Request, typename Response>
  void SendAgain(absl::string_view rpc, std::optional<Request>& req,
                 grpc::Status (v1::Debug::Stub::*call)(grpc::ClientContext*, const Request&,
                                                       Response*)) {
    if (!req) return;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    req->set_session(session_);
    Response resp;
    (void)FromGrpc(rpc, (stub_.get()->*call)(&ctx, *req, &resp));
  }

  absl::Status Breakpoint(bool insert, BreakpointKind kind, uint64_t addr, uint64_t len,
                          const BreakpointActions& actions) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::BreakpointRequest req;
    req.set_session(session_);
    req.set_kind(ToProto(kind));
    req.set_addr(addr);
    req.set_len(len);
    for (const std::string& c : actions.conditions) req.add_conditions(c);
    for (const std::string& c : actions.commands) req.add_commands(c);
    req.set_persist_commands(actions.persist_commands);
    v1::BreakpointResponse resp;
    if (insert) return FromGrpc("InsertBreakpoint", stub_->InsertBreakpoint(&ctx, req, &resp));
    return FromGrpc("RemoveBreakpoint", stub_->RemoveBreakpoint(&ctx, req, &resp));
  }

  void Push(Event e) {
    {
      absl::MutexLock lock(&mu_);
      events_.push_back(std::move(e));
      ++received_;
    }
    Wake();
  }

  void Wake() {
    const uint64_t one = 1;
    (void)!write(event_fd_, &one, sizeof one);
  }

  void ReadEvents() {
    v1::EventsRequest req;
    req.set_session(session_);
    std::unique_ptr<grpc::ClientReader<v1::Event>> reader = stub_->Events(events_context_.get(), req);
    v1::Event ev;
    bool exited = false;
    while (reader->Read(&ev)) {
      switch (ev.kind_case()) {
        case v1::Event::kStop:
          Push(FromProto(ev.stop()));
          break;
        case v1::Event::kThreadCreated:
          Push(ThreadCreated{ev.thread_created().tid()});
          break;
        case v1::Event::kThreadExited:
          Push(ThreadExited{ev.thread_exited().tid(), ev.thread_exited().exit_status()});
          break;
        case v1::Event::kForked:
          Push(ChildForked{ev.forked().tid(), ev.forked().child_pid(), ev.forked().vfork()});
          break;
        case v1::Event::kProcessExited:
          exited = true;
          Push(ProcessExited{ev.process_exited().status(), ev.process_exited().signal()});
          break;
        default:
          break;
      }
    }
    grpc::Status s = reader->Finish();
    if (!exited) {
      Push(EventsEnded{s.ok() ? "km ended the event stream"
                              : absl::StrCat("km's event stream failed: ", s.error_message())});
    }
    absl::MutexLock lock(&mu_);
    reader_done_ = true;
  }

  // The km of the moment: an exec replaces them (FollowExec), on the caller's thread.
  std::unique_ptr<v1::Debug::Stub> stub_;
  std::string session_;
  const std::string socket_path_;
  const std::string client_name_;
  const int event_fd_;
  std::unique_ptr<grpc::ClientContext> events_context_;
  std::thread reader_;
  // The last of each setting km took, for the km after an exec.
  std::optional<v1::CatchSyscallsRequest> catch_syscalls_;
  std::optional<v1::PassSignalsRequest> pass_signals_;
  std::optional<v1::ProgramSignalsRequest> program_signals_;
  absl::Mutex mu_;
  bool reader_done_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  uint64_t received_ ABSL_GUARDED_BY(mu_) = 0;  // events read from the stream so far
  // Stops answered inside Resume, each with the number of stream events that come before it.
  std::deque<std::pair<uint64_t, Event>> handed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> ConnectToKm(const std::string& socket_path,
                                                     const std::string& client_name) {
  absl::StatusOr<Attached> attached = AttachToKm(socket_path, client_name, kConnectTimeout);
  if (!attached.ok()) return attached.status();
  const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  auto target = std::make_unique<GrpcTarget>(*std::move(attached), socket_path, client_name, fd);
  target->StartEvents();
  return target;
}

}  // namespace agent
