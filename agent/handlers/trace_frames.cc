// Trace frames: QTFrame selects one (gdb's tfind), and until QTFrame:ffffffff gdb's register
// and memory reads are answered from it, as they were at that tracepoint hit: what the
// tracepoint did not collect is unavailable, and nothing can be written.
#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "agent/arch/amd64/registers.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/encoding.h"
#include "agent/rsp/packets/memory.h"
#include "agent/rsp/packets/qxfer.h"
#include "agent/rsp/packets/registers.h"
#include "agent/rsp/packets/trace.h"

namespace agent {
namespace {

TraceFrameQuery QueryOf(const rsp::TraceFrameSelect& select) {
  TraceFrameQuery q;
  q.number = select.number;
  q.pc = select.pc;
  q.tracepoint = select.tracepoint;
  q.start = select.start;
  q.end = select.end;
  using Select = rsp::TraceFrameSelect::Kind;
  using Query = TraceFrameQuery::Kind;
  switch (select.kind) {
    case Select::kPc: q.kind = Query::kPc; break;
    case Select::kTracepoint: q.kind = Query::kTracepoint; break;
    case Select::kInside: q.kind = Query::kInside; break;
    case Select::kOutside: q.kind = Query::kOutside; break;
    case Select::kNumber:
    case Select::kNone: q.kind = Query::kNumber; break;
  }
  return q;
}

// One register as the frame has it, in hex: x's (gdb's "unavailable") for one the tracepoint
// did not collect, but for rip, which is the tracepoint's address.
absl::StatusOr<std::string> RegisterHex(const TraceFrame& f, int regnum, bool avx) {
  if (f.registers && (f.registers->fpu || !amd64::IsFpuRegister(regnum))) {
    absl::StatusOr<std::string> value = amd64::ReadRegister(*f.registers, regnum, avx);
    if (!value.ok()) return value.status();
    return rsp::HexEncode(*value);
  }
  if (regnum == amd64::kRip) return rsp::HexLittleEndian(f.pc, 8);
  return std::string(2 * amd64::RegisterSize(regnum, avx), 'x');
}

// The bytes the frame's blocks hold from addr on without a gap, at most len.
std::string FrameMemory(const std::vector<MemoryBlock>& blocks, uint64_t addr, uint64_t len) {
  std::string out;
  while (out.size() < len) {
    const uint64_t at = addr + out.size();
    auto block = std::find_if(blocks.begin(), blocks.end(), [at](const MemoryBlock& b) {
      return at >= b.address && at - b.address < b.data.size();
    });
    if (block == blocks.end()) break;
    const uint64_t offset = at - block->address;
    const uint64_t n = std::min<uint64_t>(block->data.size() - offset, len - out.size());
    out.append(block->data, offset, n);
  }
  return out;
}

absl::Status ReadOnly(const TraceFrame& f) {
  return absl::FailedPreconditionError(absl::StrFormat(
      "gdb looks at trace frame %d: it cannot be written (tfind none goes back to the threads)",
      f.number));
}

}  // namespace

Response Handlers::SelectTraceFrame(absl::string_view packet) {
  absl::StatusOr<rsp::TraceFrameSelect> select = rsp::ParseTraceFrameSelect(packet);
  if (!select.ok()) return Failed(select.status());
  if (select->kind == rsp::TraceFrameSelect::Kind::kNone) {
    trace_frame_.reset();
    return Response{{"OK"}};
  }
  TraceFrameQuery query = QueryOf(*select);
  // tfind pc, tracepoint, range and outside search on from the frame gdb looks at.
  query.after = trace_frame_ ? static_cast<int64_t>(trace_frame_->number) : -1;
  absl::StatusOr<std::optional<TraceFrame>> found = target_.FindTraceFrame(query);
  if (!found.ok()) return Failed(found.status());
  // gdb keeps looking at the frame it had when none is found; so does the agent.
  if (!found->has_value()) return Response{{rsp::kTraceFrameNotFound}};
  trace_frame_ = **std::move(found);
  return Response{{rsp::FormatTraceFrameFound(trace_frame_->number, trace_frame_->tracepoint)}};
}

std::optional<Response> Handlers::DispatchTraceFrame(absl::string_view p) {
  switch (p[0]) {
    case 'g': return TraceFrameRegisters();
    case 'p': return TraceFrameRegister(p);
    case 'm': return TraceFrameMemory(p);
    case 'G':
    case 'P':
    case 'M':
    case 'X': return Failed(ReadOnly(*trace_frame_));
    default: return std::nullopt;
  }
}

Response Handlers::TraceFrameRegisters() {
  std::string reply;
  for (int regnum = 0; regnum < amd64::kGeneralCount; ++regnum) {
    absl::StatusOr<std::string> value = RegisterHex(*trace_frame_, regnum, info_.avx);
    if (!value.ok()) return Failed(value.status());
    reply += *value;
  }
  return Response{{std::move(reply)}};
}

Response Handlers::TraceFrameRegister(absl::string_view packet) {
  absl::StatusOr<int> regnum = rsp::ParseRegisterRead(packet.substr(1));
  if (!regnum.ok()) return Failed(regnum.status());
  if (amd64::RegisterSize(*regnum, info_.avx) == 0) {
    return Failed(absl::InvalidArgumentError(absl::StrFormat("no register %d", *regnum)));
  }
  absl::StatusOr<std::string> value = RegisterHex(*trace_frame_, *regnum, info_.avx);
  if (!value.ok()) return Failed(value.status());
  return Response{{*std::move(value)}};
}

Response Handlers::TraceFrameMemory(absl::string_view packet) {
  absl::StatusOr<rsp::MemoryRead> req = rsp::ParseMemoryRead(packet.substr(1));
  if (!req.ok()) return Failed(req.status());
  // The reply is hex: two characters a byte must fit in one packet.
  const uint64_t len = std::min<uint64_t>(req->length, (kPacketSize - 4) / 2);
  if (len == 0) return Response{{""}};
  const std::string data = FrameMemory(trace_frame_->memory, req->addr, len);
  if (data.empty()) {
    // gdb asks only for what traceframe-info lists, and reads read-only sections from the
    // executable: this is a probe, not worth a line unless verbose.
    if (Verbose()) {
      Log(absl::StrFormat("trace frame %d did not collect 0x%x", trace_frame_->number, req->addr));
    }
    return Response{{"E01"}};
  }
  return Response{{rsp::HexEncode(data)}};
}

Response Handlers::TraceframeInfo(absl::string_view packet) {
  absl::StatusOr<rsp::XferRead> req = rsp::ParseXferRead(packet);
  if (!req.ok()) return Failed(req.status());
  if (!trace_frame_) {
    return Failed(absl::FailedPreconditionError("qXfer:traceframe-info: no trace frame selected"));
  }
  std::vector<std::pair<uint64_t, uint64_t>> blocks;
  for (const MemoryBlock& b : trace_frame_->memory) blocks.emplace_back(b.address, b.data.size());
  std::vector<uint32_t> variables;
  for (const TraceVariableValue& v : trace_frame_->variables) variables.push_back(v.number);
  return Response{{rsp::XferReply(rsp::TraceframeInfoXml(blocks, variables), req->offset,
                                  req->length)}};
}

}  // namespace agent
