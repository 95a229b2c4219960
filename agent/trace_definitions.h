// The tracepoints and trace state variables gdb defines between QTinit and QTStart, and the
// buffer it asks for: km gets a run's whole definition at once, with StartTrace.
#pragma once

#include "absl/status/status.h"
#include "agent/rsp/packets/trace.h"
#include "agent/target.h"

namespace agent {

class TraceDefinitions {
 public:
  // QTinit: no tracepoints and no variables. The buffer settings stay (gdb sends them again
  // before each QTStart anyway).
  void Clear();
  // QTDP: a tracepoint's first packet, or more of its actions (while-stepping's too). What km
  // does not do (fast tracepoints) is refused, never dropped: gdb then fails its tstart.
  absl::Status Add(const rsp::TracepointPacket& packet);
  // QTDV: every variable, gdb's builtin $trace_timestamp too; a number defined again is replaced.
  void AddVariable(const rsp::TraceVariableDefinition& variable);
  void SetBuffer(const rsp::TraceBufferSetting& setting);

  const TraceSetup& setup() const { return setup_; }

 private:
  absl::Status AddHeader(const rsp::TracepointHeader& header);
  absl::Status AddActions(const rsp::TracepointActions& actions);

  TraceSetup setup_;
  // The last tracepoint's actions packets since one marked S are while-stepping's.
  bool stepping_actions_ = false;
};

}  // namespace agent
