#include "agent/rsp/packets/trace.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {
namespace {

absl::Status Bad(absl::string_view what, absl::string_view packet) {
  return absl::InvalidArgumentError(absl::StrCat("bad ", what, " in '", packet, "'"));
}

// The hex digits text starts with, taken off it.
absl::string_view TakeHex(absl::string_view& text) {
  size_t n = 0;
  while (n < text.size() && HexDigit(text[n]) >= 0) ++n;
  absl::string_view digits = text.substr(0, n);
  text.remove_prefix(n);
  return digits;
}

absl::StatusOr<uint32_t> ParseNumber(absl::string_view text) {
  absl::StatusOr<uint64_t> n = ParseHex(text);
  if (!n.ok()) return n.status();
  if (*n > UINT32_MAX) return absl::InvalidArgumentError(absl::StrCat("number ", text, " too big"));
  return static_cast<uint32_t>(*n);
}

// "LEN,BYTES" (what follows an X): LEN bytes of bytecode, in hex, taken off text.
absl::StatusOr<std::string> TakeExpression(absl::string_view& text) {
  absl::StatusOr<uint64_t> len = ParseHex(TakeHex(text));
  if (!len.ok() || !absl::ConsumePrefix(&text, ",") || *len == 0 || *len > text.size() / 2) {
    return absl::InvalidArgumentError("agent expression");
  }
  absl::StatusOr<std::string> bytes = HexDecode(text.substr(0, 2 * *len));
  if (!bytes.ok()) return absl::InvalidArgumentError("agent expression");
  text.remove_prefix(2 * *len);
  return bytes;
}

// "BASEREG,OFFSET,LEN" (what follows an M), taken off text.
absl::StatusOr<TraceMemoryAction> TakeMemory(absl::string_view& text) {
  // -1, the only negative base, says the offset is an address.
  const bool absolute = absl::ConsumePrefix(&text, "-");
  absl::StatusOr<int> base = ParseHexInt(TakeHex(text), "base register");
  if (!base.ok() || (absolute && *base != 1) || !absl::ConsumePrefix(&text, ",")) {
    return absl::InvalidArgumentError("base register");
  }
  absl::StatusOr<uint64_t> offset = ParseHex(TakeHex(text));
  if (!offset.ok() || !absl::ConsumePrefix(&text, ",")) {
    return absl::InvalidArgumentError("memory offset");
  }
  absl::StatusOr<uint32_t> length = ParseNumber(TakeHex(text));
  if (!length.ok()) return absl::InvalidArgumentError("memory length");
  return TraceMemoryAction{absolute ? -1 : *base, static_cast<int64_t>(*offset), *length};
}

absl::StatusOr<TracepointActions> ParseActions(absl::string_view packet, absl::string_view body) {
  std::vector<absl::string_view> fields = absl::StrSplit(body, absl::MaxSplits(':', 2));
  if (fields.size() != 3) return Bad("tracepoint actions", packet);
  TracepointActions out;
  absl::StatusOr<uint32_t> number = ParseNumber(fields[0]);
  if (!number.ok()) return Bad("tracepoint number", packet);
  absl::StatusOr<uint64_t> address = ParseHex(fields[1]);
  if (!address.ok()) return Bad("tracepoint address", packet);
  out.number = *number;
  out.address = *address;
  absl::string_view actions = fields[2];
  out.stepping = absl::ConsumePrefix(&actions, "S");
  while (!actions.empty()) {
    const char kind = actions[0];
    actions.remove_prefix(1);
    if (kind == 'R') {
      const absl::string_view mask = TakeHex(actions);
      if (mask.empty()) return Bad("register mask", packet);
      out.collect_registers = out.collect_registers || mask.find_first_not_of('0') != mask.npos;
    } else if (kind == 'M') {
      absl::StatusOr<TraceMemoryAction> m = TakeMemory(actions);
      if (!m.ok()) return Bad(m.status().message(), packet);
      out.memory.push_back(*m);
    } else if (kind == 'X') {
      absl::StatusOr<std::string> e = TakeExpression(actions);
      if (!e.ok()) return Bad(e.status().message(), packet);
      out.expressions.push_back(*std::move(e));
    } else {
      return Bad(absl::StrCat("tracepoint action '", std::string(1, kind), "'"), packet);
    }
  }
  return out;
}

absl::StatusOr<TracepointHeader> ParseHeader(absl::string_view packet, absl::string_view body) {
  std::vector<absl::string_view> fields = absl::StrSplit(body, ':');
  if (fields.size() < 5 || (fields[2] != "E" && fields[2] != "D")) {
    return Bad("tracepoint", packet);
  }
  TracepointHeader out;
  absl::StatusOr<uint32_t> number = ParseNumber(fields[0]);
  absl::StatusOr<uint64_t> address = ParseHex(fields[1]);
  absl::StatusOr<uint64_t> step = ParseHex(fields[3]);
  absl::StatusOr<uint64_t> pass = ParseHex(fields[4]);
  if (!number.ok() || !address.ok() || !step.ok() || !pass.ok()) return Bad("tracepoint", packet);
  out.number = *number;
  out.address = *address;
  out.enabled = fields[2] == "E";
  out.step_count = *step;
  out.pass_count = *pass;
  for (size_t i = 5; i < fields.size(); ++i) {
    absl::string_view option = fields[i];
    if (absl::ConsumePrefix(&option, "F")) {
      if (!ParseHex(option).ok()) return Bad("fast tracepoint length", packet);
      out.fast = true;
    } else if (absl::ConsumePrefix(&option, "X")) {
      absl::StatusOr<std::string> condition = TakeExpression(option);
      if (!condition.ok() || !option.empty()) return Bad("tracepoint condition", packet);
      out.condition = *std::move(condition);
    } else {
      return Bad("tracepoint option", packet);
    }
  }
  return out;
}

// The part of a range "START:END" after its name.
absl::Status ParseRange(absl::string_view text, TraceFrameSelect& out) {
  std::vector<absl::string_view> bounds = absl::StrSplit(text, ':');
  if (bounds.size() != 2) return absl::InvalidArgumentError("bad range");
  absl::StatusOr<uint64_t> start = ParseHex(bounds[0]);
  absl::StatusOr<uint64_t> end = ParseHex(bounds[1]);
  if (!start.ok() || !end.ok()) return absl::InvalidArgumentError("bad range");
  out.start = *start;
  out.end = *end;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TracepointPacket> ParseTracepoint(absl::string_view packet) {
  absl::string_view body = packet;
  if (!absl::ConsumePrefix(&body, "QTDP:")) return Bad("QTDP packet", packet);
  // Nothing in a definition ends with '-' but the mark that another packet follows.
  absl::ConsumeSuffix(&body, "-");
  if (absl::ConsumePrefix(&body, "-")) {
    absl::StatusOr<TracepointActions> actions = ParseActions(packet, body);
    if (!actions.ok()) return actions.status();
    return *std::move(actions);
  }
  absl::StatusOr<TracepointHeader> header = ParseHeader(packet, body);
  if (!header.ok()) return header.status();
  return *std::move(header);
}

absl::StatusOr<TraceVariableDefinition> ParseTraceVariable(absl::string_view packet) {
  absl::string_view body = packet;
  if (!absl::ConsumePrefix(&body, "QTDV:")) return Bad("QTDV packet", packet);
  std::vector<absl::string_view> fields = absl::StrSplit(body, ':');
  if (fields.size() != 4 || (fields[2] != "0" && fields[2] != "1")) {
    return Bad("trace state variable", packet);
  }
  absl::StatusOr<uint32_t> number = ParseNumber(fields[0]);
  absl::StatusOr<uint64_t> value = ParseHex(fields[1]);
  absl::StatusOr<std::string> name = HexDecode(fields[3]);
  if (!number.ok() || !value.ok() || !name.ok()) return Bad("trace state variable", packet);
  return TraceVariableDefinition{*number, static_cast<int64_t>(*value), fields[2] == "1", *name};
}

absl::StatusOr<TraceBufferSetting> ParseTraceBuffer(absl::string_view packet) {
  absl::string_view body = packet;
  TraceBufferSetting out;
  if (absl::ConsumePrefix(&body, "QTBuffer:circular:")) {
    if (body != "0" && body != "1") return Bad("circular flag", packet);
    out.kind = TraceBufferSetting::Kind::kCircular;
    out.circular = body == "1";
    return out;
  }
  if (absl::ConsumePrefix(&body, "QTBuffer:size:")) {
    out.kind = TraceBufferSetting::Kind::kSize;
    if (body == "-1") return out;
    absl::StatusOr<uint64_t> size = ParseHex(body);
    if (!size.ok()) return Bad("buffer size", packet);
    out.size = *size;
    return out;
  }
  return Bad("QTBuffer packet", packet);
}

absl::StatusOr<bool> ParseDisconnectedTracing(absl::string_view packet) {
  if (packet == "QTDisconnected:0") return false;
  if (packet == "QTDisconnected:1") return true;
  return Bad("QTDisconnected packet", packet);
}

absl::StatusOr<TracepointQuery> ParseTracepointQuery(absl::string_view packet) {
  absl::string_view body = packet;
  if (!absl::ConsumePrefix(&body, "qTP:")) return Bad("qTP packet", packet);
  std::vector<absl::string_view> fields = absl::StrSplit(body, ':');
  if (fields.size() != 2) return Bad("qTP packet", packet);
  absl::StatusOr<uint32_t> number = ParseNumber(fields[0]);
  absl::StatusOr<uint64_t> address = ParseHex(fields[1]);
  if (!number.ok() || !address.ok()) return Bad("qTP packet", packet);
  return TracepointQuery{*number, *address};
}

absl::StatusOr<uint32_t> ParseTraceVariableQuery(absl::string_view packet) {
  absl::string_view body = packet;
  if (!absl::ConsumePrefix(&body, "qTV:")) return Bad("qTV packet", packet);
  absl::StatusOr<uint32_t> number = ParseNumber(body);
  if (!number.ok()) return Bad("trace state variable number", packet);
  return *number;
}

absl::StatusOr<TraceFrameSelect> ParseTraceFrameSelect(absl::string_view packet) {
  absl::string_view body = packet;
  if (!absl::ConsumePrefix(&body, "QTFrame:")) return Bad("QTFrame packet", packet);
  TraceFrameSelect out;
  if (absl::ConsumePrefix(&body, "pc:")) {
    absl::StatusOr<uint64_t> pc = ParseHex(body);
    if (!pc.ok()) return Bad("pc", packet);
    out.kind = TraceFrameSelect::Kind::kPc;
    out.pc = *pc;
  } else if (absl::ConsumePrefix(&body, "tdp:")) {
    absl::StatusOr<uint32_t> tracepoint = ParseNumber(body);
    if (!tracepoint.ok()) return Bad("tracepoint number", packet);
    out.kind = TraceFrameSelect::Kind::kTracepoint;
    out.tracepoint = *tracepoint;
  } else if (absl::ConsumePrefix(&body, "range:")) {
    if (!ParseRange(body, out).ok()) return Bad("range", packet);
    out.kind = TraceFrameSelect::Kind::kInside;
  } else if (absl::ConsumePrefix(&body, "outside:")) {
    if (!ParseRange(body, out).ok()) return Bad("range", packet);
    out.kind = TraceFrameSelect::Kind::kOutside;
  } else if (body == "ffffffff" || body == "-1") {
    out.kind = TraceFrameSelect::Kind::kNone;
  } else {
    absl::StatusOr<uint64_t> number = ParseHex(body);
    if (!number.ok()) return Bad("trace frame number", packet);
    out.kind = TraceFrameSelect::Kind::kNumber;
    out.number = *number;
  }
  return out;
}

std::string FormatTraceStatus(const TraceStatusReply& r) {
  std::string out = r.running ? "T1" : "T0";
  if (!r.running) {
    switch (r.stop) {
      case TraceStatusReply::Stop::kNotRun: out += ";tnotrun:0"; break;
      // The notes of gdb's tstop command would go between the colons, hex-encoded.
      case TraceStatusReply::Stop::kRequested: out += ";tstop::0"; break;
      case TraceStatusReply::Stop::kPassCount:
        absl::StrAppendFormat(&out, ";tpasscount:%x", r.tracepoint);
        break;
      case TraceStatusReply::Stop::kBufferFull: out += ";tfull:0"; break;
      case TraceStatusReply::Stop::kDisconnected: out += ";tdisconnected:0"; break;
      case TraceStatusReply::Stop::kError:
        absl::StrAppendFormat(&out, ";terror:%s:%x", HexEncode(r.error), r.tracepoint);
        break;
      case TraceStatusReply::Stop::kUnknown: out += ";tunknown:0"; break;
    }
  }
  absl::StrAppendFormat(&out, ";tframes:%x;tcreated:%x;tfree:%x;tsize:%x;circular:%d;disconn:0",
                        r.frames, r.frames_created, r.buffer_free, r.buffer_size,
                        r.circular ? 1 : 0);
  if (r.start_time_us != 0) {
    absl::StrAppendFormat(&out, ";starttime:%x;stoptime:%x", r.start_time_us, r.stop_time_us);
  }
  return out;
}

std::string FormatTraceFrameFound(uint64_t frame, uint32_t tracepoint) {
  return absl::StrFormat("F%xT%x", frame, tracepoint);
}

std::string FormatTracepointHits(uint64_t hits, uint64_t bytes) {
  return absl::StrFormat("V%x:%x", hits, bytes);
}

std::string FormatTraceVariableUpload(uint32_t number, int64_t initial_value, bool builtin,
                                      absl::string_view name) {
  return absl::StrFormat("%x:%x:%d:%s", number, static_cast<uint64_t>(initial_value),
                         builtin ? 1 : 0, HexEncode(name));
}

std::string FormatTraceVariableValue(int64_t value) {
  return absl::StrFormat("V%x", static_cast<uint64_t>(value));
}

std::string TraceframeInfoXml(const std::vector<std::pair<uint64_t, uint64_t>>& blocks,
                              const std::vector<uint32_t>& variables) {
  std::string out = "<traceframe-info>\n";
  for (const auto& [address, length] : blocks) {
    absl::StrAppendFormat(&out, "<memory start=\"0x%x\" length=\"0x%x\"/>\n", address, length);
  }
  for (uint32_t v : variables) absl::StrAppendFormat(&out, "<tvar id=\"%d\"/>\n", v);
  out += "</traceframe-info>\n";
  return out;
}

}  // namespace agent::rsp
