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
  t.step_count = h.step_count;
  setup_.tracepoints.push_back(std::move(t));
  stepping_actions_ = false;
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
  // gdb marks only the first packet of the while-stepping actions with S: the packets after
  // it are stepping actions too.
  stepping_actions_ = stepping_actions_ || a.stepping;
  Tracepoint& t = setup_.tracepoints.back();
  bool& registers = stepping_actions_ ? t.step_collect_registers : t.collect_registers;
  std::vector<TraceMemory>& memory = stepping_actions_ ? t.step_memory : t.memory;
  std::vector<std::string>& expressions = stepping_actions_ ? t.step_expressions : t.expressions;
  registers = registers || a.collect_registers;
  for (const rsp::TraceMemoryAction& m : a.memory) {
    memory.push_back(TraceMemory{m.base_register, m.offset, m.length});
  }
  expressions.insert(expressions.end(), a.expressions.begin(), a.expressions.end());
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
