#include "tools/kmctl/format.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "proto/km_debug.grpc.pb.h"
#include "tools/kmctl/errors.h"

namespace kmctl {
namespace {

using google::protobuf::FieldDescriptor;

// Pads every column to its widest cell so that tables line up whatever the values.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size());
    for (size_t i = 0; i < row.size(); i++) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); i++) {
      if (i + 1 == row.size()) {
        absl::StrAppend(&line, row[i]);
      } else {
        absl::StrAppend(&line, row[i], std::string(widths[i] - row[i].size() + 2, ' '));
      }
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

// "STOP_KIND_BREAKPOINT" -> "breakpoint".
std::string EnumWord(const std::string& name, const std::string& prefix) {
  return absl::AsciiStrToLower(name.substr(name.rfind(prefix, 0) == 0 ? prefix.size() : 0));
}

std::string Reason(const v1::StopReason& r) {
  std::string out = EnumWord(v1::StopKind_Name(r.kind()), "STOP_KIND_");
  switch (r.kind()) {
    case v1::STOP_KIND_WATCHPOINT:
      absl::StrAppendFormat(&out, " %s 0x%x", EnumWord(v1::WatchKind_Name(r.watch_kind()), "WATCH_KIND_"),
                            r.watch_addr());
      break;
    case v1::STOP_KIND_SIGNAL:
      // A fault's (si_code > 0) has an address; a sent one has a sender.
      if (r.signal_code() > 0) {
        absl::StrAppendFormat(&out, " %d at 0x%x", r.signal(), r.fault_addr());
      } else {
        absl::StrAppendFormat(&out, " %d from pid %d", r.signal(), r.sender_pid());
      }
      break;
    case v1::STOP_KIND_SYSCALL_ENTRY:
    case v1::STOP_KIND_SYSCALL_RETURN:
      absl::StrAppendFormat(&out, " %d", r.syscall());
      break;
    case v1::STOP_KIND_EXEC:
      absl::StrAppendFormat(&out, " %s", r.exec_path());
      break;
    case v1::STOP_KIND_HISTORY_BEGIN:
      // Where reverse execution can go back no further: gdb's "no more history".
      out = "history begin";
      break;
    default:
      break;
  }
  return out;
}

// The general registers in proto order: the scalar fields of Registers.
std::vector<const FieldDescriptor*> GeneralRegisters() {
  std::vector<const FieldDescriptor*> out;
  const auto* d = v1::Registers::descriptor();
  for (int i = 0; i < d->field_count(); i++) {
    if (d->field(i)->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) out.push_back(d->field(i));
  }
  return out;
}

absl::StatusOr<std::vector<const FieldDescriptor*>> Select(const std::vector<std::string>& names) {
  if (names.empty()) return GeneralRegisters();
  std::vector<const FieldDescriptor*> out;
  for (const std::string& name : names) {
    const FieldDescriptor* f = v1::Registers::descriptor()->FindFieldByName(absl::AsciiStrToLower(name));
    if (f == nullptr || f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return UsageError(absl::StrFormat("no register '%s' (general registers: rax ... orig_rax)", name));
    }
    out.push_back(f);
  }
  return out;
}

uint64_t Value(const v1::Registers& regs, const FieldDescriptor* f) {
  const auto* r = regs.GetReflection();
  return f->cpp_type() == FieldDescriptor::CPPTYPE_UINT64 ? r->GetUInt64(regs, f)
                                                          : r->GetUInt32(regs, f);
}

std::string RegisterTable(const v1::Registers& regs,
                          const std::vector<const FieldDescriptor*>& fields) {
  std::vector<std::vector<std::string>> rows;
  for (const FieldDescriptor* f : fields) {
    const uint64_t v = Value(regs, f);
    rows.push_back({f->name(), absl::StrFormat("0x%016x", v), absl::StrCat(v)});
  }
  return Table(rows);
}

std::string TraceState(const v1::TraceStatus& t) {
  if (t.running()) return "running";
  if (!t.ever_run()) return "never run";
  switch (t.stop_reason()) {
    case v1::TRACE_STOP_REASON_REQUESTED: return "stopped by request";
    case v1::TRACE_STOP_REASON_PASS_COUNT:
      return absl::StrFormat("stopped, tracepoint %d reached its pass count",
                             t.stopping_tracepoint());
    case v1::TRACE_STOP_REASON_BUFFER_FULL: return "stopped, the buffer is full";
    case v1::TRACE_STOP_REASON_DISCONNECTED: return "stopped, the session ended";
    case v1::TRACE_STOP_REASON_ERROR:
      return absl::StrFormat("stopped by an error at tracepoint %d: %s", t.stopping_tracepoint(),
                             t.error());
    default: return "stopped";
  }
}

std::string VariableTable(
    const google::protobuf::RepeatedPtrField<v1::TraceVariableValue>& variables) {
  if (variables.empty()) return "";
  std::vector<std::vector<std::string>> rows = {{"VARIABLE", "VALUE"}};
  for (const v1::TraceVariableValue& v : variables) {
    rows.push_back({absl::StrCat(v.number()), absl::StrCat(v.value())});
  }
  return Table(rows);
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  // Zero-valued fields (tid 0, rax 0) are answers too: scripts should not have to guess them.
  options.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out + "\n";
}

std::string FormatStatus(const v1::Target& t) {
  const auto& e = t.engine();
  return Table({
      {"payload", t.payload_path()},
      {"argv", absl::StrJoin(t.argv(), " ")},
      {"pid", absl::StrCat(t.pid())},
      {"engine", absl::StrFormat("%s (avx %s, data watchpoints %s, hw breakpoints %d, recording %s)",
                                 e.name(), e.avx() ? "yes" : "no", e.data_watchpoints() ? "yes" : "no",
                                 e.hw_breakpoints(), e.recording() ? "yes" : "no")},
      {"entry", absl::StrFormat("0x%x", t.entry())},
      {"load bias", absl::StrFormat("0x%x%s", t.load_bias(), t.pie() ? " (pie)" : "")},
      {"threads", absl::StrCat(t.threads_size())},
  });
}

std::string FormatThreads(const v1::ListThreadsResponse& threads) {
  std::vector<std::vector<std::string>> rows = {{"TID", "NAME", "STATE", "REASON"}};
  for (const v1::Thread& t : threads.threads()) {
    const bool stopped = t.state() == v1::THREAD_STATE_STOPPED;
    rows.push_back({absl::StrCat(t.tid()), t.name(), EnumWord(v1::ThreadState_Name(t.state()), "THREAD_STATE_"),
                    stopped ? Reason(t.stop_reason()) : ""});
  }
  return Table(rows);
}

std::string FormatMaps(const v1::Target& target) {
  std::vector<std::vector<std::string>> rows = {{"START", "END", "SIZE", "PERM", "KIND", "NAME"}};
  for (const v1::MemoryRegion& r : target.regions()) {
    rows.push_back({absl::StrFormat("0x%x", r.start()), absl::StrFormat("0x%x", r.start() + r.size()),
                    absl::StrFormat("0x%x", r.size()),
                    absl::StrCat(r.read() ? "r" : "-", r.write() ? "w" : "-", r.exec() ? "x" : "-"),
                    EnumWord(v1::RegionKind_Name(r.kind()), "REGION_KIND_"), r.name()});
  }
  return Table(rows);
}

std::string FormatStop(const v1::StopEvent& s) {
  return absl::StrFormat("thread %d stopped: %s at rip 0x%x (rsp 0x%x)\n", s.tid(), Reason(s.reason()),
                         s.rip(), s.rsp());
}

std::string FormatRecording(const v1::RecordingStatus& r) {
  if (!r.enabled()) return "recording: off\n";
  std::string out = absl::StrFormat("recording: on, %d instructions kept (at most %d)\n",
                                    r.instructions(), r.max_instructions());
  if (r.replay_position() > 0) {
    absl::StrAppendFormat(&out, "replaying %d instructions back from the end\n", r.replay_position());
  }
  return out;
}

std::string FormatTraceStatus(const v1::TraceStatus& t) {
  std::string out = absl::StrCat("trace: ", TraceState(t), "\n");
  // A run that never started has nothing more to tell than km's defaults.
  if (!t.running() && !t.ever_run()) return out;
  absl::StrAppendFormat(&out, "frames: %d in the buffer, %d created\n", t.frames(),
                        t.frames_created());
  absl::StrAppendFormat(&out, "buffer: %d of %d bytes used, %s\n",
                        t.buffer_size() - t.buffer_free(), t.buffer_size(),
                        t.circular() ? "circular" : "not circular");
  if (!t.tracepoints().empty()) {
    std::vector<std::vector<std::string>> rows = {{"TRACEPOINT", "ADDRESS", "HITS", "BYTES"}};
    for (const v1::TracepointStatus& tp : t.tracepoints()) {
      rows.push_back({absl::StrCat(tp.number()), absl::StrFormat("0x%x", tp.address()),
                      absl::StrCat(tp.hits()), absl::StrCat(tp.bytes())});
    }
    out += Table(rows);
  }
  return out + VariableTable(t.variables());
}

std::string FormatTraceFrame(const v1::TraceFrame& f) {
  std::string out = absl::StrFormat("frame %d: tracepoint %d, thread %d, pc 0x%x\n", f.number(),
                                    f.tracepoint(), f.tid(), f.pc());
  if (f.has_registers()) {
    out += "registers:\n" + RegisterTable(f.registers(), GeneralRegisters());
  } else {
    out += "registers: not collected\n";
  }
  if (!f.memory().empty()) {
    out += "memory:\n";
    for (const v1::MemoryBlock& m : f.memory()) out += HexDump(m.address(), m.data());
  }
  return out + VariableTable(f.variables());
}

std::string FormatEvent(const v1::Event& ev) {
  switch (ev.kind_case()) {
    case v1::Event::kStop: return FormatStop(ev.stop());
    case v1::Event::kThreadCreated:
      return absl::StrFormat("thread %d created\n", ev.thread_created().tid());
    case v1::Event::kForked:
      return absl::StrFormat("thread %d %s child process %d\n", ev.forked().tid(),
                             ev.forked().vfork() ? "vforked" : "forked", ev.forked().child_pid());
    case v1::Event::kThreadExited:
      return absl::StrFormat("thread %d exited with %d\n", ev.thread_exited().tid(),
                             ev.thread_exited().exit_status());
    case v1::Event::kProcessExited:
      return ev.process_exited().signal() != 0
                 ? absl::StrFormat("process killed by signal %d\n", ev.process_exited().signal())
                 : absl::StrFormat("process exited with %d\n", ev.process_exited().status());
    default: return "unknown event\n";
  }
}

std::string HexDump(uint64_t addr, const std::string& data) {
  std::string out;
  for (size_t line = 0; line < data.size(); line += 16) {
    std::string hex, text;
    for (size_t i = line; i < line + 16; i++) {
      if (i < data.size()) {
        const unsigned char c = data[i];
        absl::StrAppendFormat(&hex, "%02x ", c);
        text.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '.');
      } else {
        hex += "   ";
      }
      if (i == line + 7) hex += " ";
    }
    absl::StrAppendFormat(&out, "0x%016x  %s |%s|\n", addr + line, hex, text);
  }
  return out;
}

absl::StatusOr<std::string> FormatRegisters(const v1::Registers& regs,
                                            const std::vector<std::string>& names) {
  auto fields = Select(names);
  if (!fields.ok()) return fields.status();
  return RegisterTable(regs, *fields);
}

absl::StatusOr<std::string> RegistersJson(const v1::Registers& regs,
                                          const std::vector<std::string>& names) {
  if (names.empty()) return ToJson(regs);
  auto fields = Select(names);
  if (!fields.ok()) return fields.status();
  std::vector<std::string> members;
  for (const FieldDescriptor* f : *fields) {
    const uint64_t v = Value(regs, f);
    members.push_back(f->cpp_type() == FieldDescriptor::CPPTYPE_UINT64
                          ? absl::StrFormat("\"%s\":\"%d\"", f->json_name(), v)
                          : absl::StrFormat("\"%s\":%d", f->json_name(), v));
  }
  return absl::StrCat("{", absl::StrJoin(members, ","), "}\n");
}

absl::Status SetRegister(v1::Registers& regs, const std::string& name, uint64_t value) {
  auto fields = Select({name});
  if (!fields.ok()) return fields.status();
  const FieldDescriptor* f = (*fields)[0];
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
    if (value > UINT32_MAX) {
      return UsageError(absl::StrFormat("%s is 32 bits wide: 0x%x does not fit", f->name(), value));
    }
    regs.GetReflection()->SetUInt32(&regs, f, static_cast<uint32_t>(value));
  } else {
    regs.GetReflection()->SetUInt64(&regs, f, value);
  }
  return absl::OkStatus();
}

std::string FormatService() {
  const auto* service = v1::Debug::service_full_name();
  const auto* d = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  std::string out = absl::StrCat(service, "\n");
  for (int i = 0; d != nullptr && i < d->method_count(); i++) {
    const auto* m = d->method(i);
    absl::StrAppendFormat(&out, "  %s(%s) returns (%s%s)\n", m->name(), m->input_type()->name(),
                          m->server_streaming() ? "stream " : "", m->output_type()->name());
  }
  return out;
}

std::string ServiceJson() {
  const auto* d = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      v1::Debug::service_full_name());
  google::protobuf::ServiceDescriptorProto proto;
  if (d != nullptr) d->CopyTo(&proto);
  return ToJson(proto);
}

}  // namespace kmctl
