#include "agent/trace_definitions.h"

#include <variant>

#include "absl/strings/str_format.h"

namespace agent {

void TraceDefinitions::Clear() {
  setup_.tracepoints.clear();
  setup_.variables.clear();
}

absl::Status TraceDefinitions::Add(const rsp::TracepointPacket& packet) {
  if (const auto* header = std::get_if<rsp::TracepointHeader>(&packet)) return AddHeader(*header);
  return AddActions(std::get<rsp::TracepointActions>(packet));
}

absl::Status TraceDefinitions::AddHeader(const rsp::TracepointHeader& h) {
  if (h.step_count > 0) {
    return absl::UnimplementedError(absl::StrFormat(
        "tracepoint %d at 0x%x: km does not trace while stepping (while-stepping %d)", h.number,
        h.address, h.step_count));
  }
  if (h.fast) {
    return absl::UnimplementedError(absl::StrFormat(
        "tracepoint %d at 0x%x: km has no fast tracepoints (use trace, not ftrace)", h.number,
        h.address));
  }
  Tracepoint t;
  t.number = h.number;
  t.address = h.address;
  t.enabled = h.enabled;
  t.pass_count = h.pass_count;
  t.condition = h.condition;
  setup_.tracepoints.push_back(std::move(t));
  return absl::OkStatus();
}

absl::Status TraceDefinitions::AddActions(const rsp::TracepointActions& a) {
  // gdb sends a tracepoint's actions right after its first packet.
  if (setup_.tracepoints.empty() || setup_.tracepoints.back().number != a.number ||
      setup_.tracepoints.back().address != a.address) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "actions for tracepoint %d at 0x%x, which gdb did not define just before", a.number,
        a.address));
  }
  if (a.stepping) {
    return absl::UnimplementedError(absl::StrFormat(
        "tracepoint %d at 0x%x: km does not trace while stepping", a.number, a.address));
  }
  Tracepoint& t = setup_.tracepoints.back();
  t.collect_registers = t.collect_registers || a.collect_registers;
  for (const rsp::TraceMemoryAction& m : a.memory) {
    t.memory.push_back(TraceMemory{m.base_register, m.offset, m.length});
  }
  t.expressions.insert(t.expressions.end(), a.expressions.begin(), a.expressions.end());
  return absl::OkStatus();
}

void TraceDefinitions::AddVariable(const rsp::TraceVariableDefinition& v) {
  TraceVariable variable{v.number, v.initial_value, v.name};
  for (TraceVariable& known : setup_.variables) {
    if (known.number == v.number) {
      known = std::move(variable);
      return;
    }
  }
  setup_.variables.push_back(std::move(variable));
}

void TraceDefinitions::SetBuffer(const rsp::TraceBufferSetting& setting) {
  if (setting.kind == rsp::TraceBufferSetting::Kind::kCircular) {
    setup_.circular = setting.circular;
  } else {
    setup_.buffer_size = setting.size;
  }
}

}  // namespace agent
