// Tracepoint packets: the definitions gdb sends before QTStart (QTDP, QTDV, QTBuffer,
// QTDisconnected), its questions about the run (qTP, qTV, QTFrame) and the replies that have
// a format of their own (qTStatus, QTFrame, qXfer:traceframe-info).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::rsp {

// "QTDP:N:ADDR:ENA:STEP:PASS[:FFLEN][:XLEN,BYTES][-]": a tracepoint's first packet.
struct TracepointHeader {
  uint32_t number = 0;
  uint64_t address = 0;
  bool enabled = true;      // E; D: disabled
  uint64_t step_count = 0;  // while-stepping steps after each hit
  uint64_t pass_count = 0;
  bool fast = false;        // F: a fast tracepoint
  std::string condition;    // X: agent expression bytecode; empty: none
};

// An M action: length bytes at the base register's value plus offset.
struct TraceMemoryAction {
  int base_register = -1;  // gdb's register number; -1: offset is the address
  int64_t offset = 0;      // gdb sends it as 64-bit two's complement
  uint32_t length = 0;
};

// "QTDP:-N:ADDR:[S]ACTION...[-]": more of a tracepoint's actions, each R (registers), M
// (memory) or X (an agent expression), concatenated.
struct TracepointActions {
  uint32_t number = 0;
  uint64_t address = 0;
  bool stepping = false;           // S: actions for the while-stepping steps
  bool collect_registers = false;  // an R action with any bit of its mask set
  std::vector<TraceMemoryAction> memory;
  std::vector<std::string> expressions;
};

using TracepointPacket = std::variant<TracepointHeader, TracepointActions>;
// The whole packet; the trailing '-' (more packets follow) is read and dropped.
absl::StatusOr<TracepointPacket> ParseTracepoint(absl::string_view packet);

// "QTDV:N:VALUE:BUILTIN:NAME" (value 64-bit two's complement, name hex-encoded).
struct TraceVariableDefinition {
  uint32_t number = 0;
  int64_t initial_value = 0;
  bool builtin = false;
  std::string name;
};
absl::StatusOr<TraceVariableDefinition> ParseTraceVariable(absl::string_view packet);

// "QTBuffer:circular:0|1" or "QTBuffer:size:N" (N hex, -1: the stub's default).
struct TraceBufferSetting {
  enum class Kind { kCircular, kSize };
  Kind kind = Kind::kCircular;
  bool circular = false;
  uint64_t size = 0;  // kSize: 0 for the default
};
absl::StatusOr<TraceBufferSetting> ParseTraceBuffer(absl::string_view packet);

// "QTDisconnected:0|1": whether the run goes on after gdb leaves.
absl::StatusOr<bool> ParseDisconnectedTracing(absl::string_view packet);

// "qTP:N:ADDR": the hits and buffer usage of tracepoint N's location at ADDR.
struct TracepointQuery {
  uint32_t number = 0;
  uint64_t address = 0;
};
absl::StatusOr<TracepointQuery> ParseTracepointQuery(absl::string_view packet);

// "qTV:N": trace state variable N's value.
absl::StatusOr<uint32_t> ParseTraceVariableQuery(absl::string_view packet);

// "QTFrame:N", "QTFrame:pc:ADDR", "QTFrame:tdp:T", "QTFrame:range:START:END",
// "QTFrame:outside:START:END" (the range inclusive), or "QTFrame:ffffffff" (gdb's -1: back to
// the live threads).
struct TraceFrameSelect {
  enum class Kind { kNone, kNumber, kPc, kTracepoint, kInside, kOutside };
  Kind kind = Kind::kNone;
  uint64_t number = 0;
  uint64_t pc = 0;
  uint32_t tracepoint = 0;
  uint64_t start = 0, end = 0;
};
absl::StatusOr<TraceFrameSelect> ParseTraceFrameSelect(absl::string_view packet);

// The reply to qTStatus.
struct TraceStatusReply {
  enum class Stop { kNotRun, kRequested, kPassCount, kBufferFull, kDisconnected, kError, kUnknown };
  bool running = false;
  Stop stop = Stop::kNotRun;  // when not running
  uint32_t tracepoint = 0;    // kPassCount, kError: the one that ended the run
  std::string error;          // kError
  uint64_t frames = 0;
  uint64_t frames_created = 0;
  uint64_t buffer_free = 0;
  uint64_t buffer_size = 0;
  bool circular = false;
  uint64_t start_time_us = 0;  // 0: not sent
  uint64_t stop_time_us = 0;
};
std::string FormatTraceStatus(const TraceStatusReply& reply);

// QTFrame's reply when a frame was found, and when none was.
std::string FormatTraceFrameFound(uint64_t frame, uint32_t tracepoint);
inline constexpr char kTraceFrameNotFound[] = "F-1";

// qTP's reply: "VHITS:USAGE".
std::string FormatTracepointHits(uint64_t hits, uint64_t bytes);
// qTV's reply for a known value: "VVALUE" (64-bit two's complement); "U" is the unknown one.
// The variable gdbserver defines for every run, whose value is the time of each read: gdb has
// none of its own and learns of it through qTfV.
inline constexpr char kTraceTimestampVariable[] = "trace_timestamp";

// qTfV's answer for one variable the target defines itself: number, initial value (hex), 1 if
// the target computes its value, the name in hex.
std::string FormatTraceVariableUpload(uint32_t number, int64_t initial_value, bool builtin,
                                      absl::string_view name);
std::string FormatTraceVariableValue(int64_t value);

// The document qXfer:traceframe-info reads: the frame's memory blocks (address and length)
// and the trace state variables it recorded.
std::string TraceframeInfoXml(const std::vector<std::pair<uint64_t, uint64_t>>& blocks,
                              const std::vector<uint32_t>& variables);

}  // namespace agent::rsp
