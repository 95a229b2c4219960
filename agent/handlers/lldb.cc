// What lldb needs beyond what gdb asks for: qOffsets for a static-pie payload, the reply to 'k',
// thread names, and LLDB's own packets (agent/rsp/packets/lldb.h says which stay unanswered,
// and why).
#include <algorithm>
#include <limits>

#include "absl/strings/str_format.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/packets/lldb.h"

namespace agent {
namespace {

rsp::MemoryRange RangeHolding(std::vector<Region> regions, uint64_t addr) {
  std::sort(regions.begin(), regions.end(),
            [](const Region& a, const Region& b) { return a.start < b.start; });
  uint64_t gap_start = 0;
  for (const Region& r : regions) {
    if (addr < r.start) return rsp::MemoryRange{.start = gap_start, .size = r.start - gap_start};
    if (addr - r.start < r.size) {
      return rsp::MemoryRange{.start = r.start,
                              .size = r.size,
                              .mapped = true,
                              .read = r.read,
                              .write = r.write,
                              .exec = r.exec,
                              .stack = r.kind == "stack",
                              .name = r.name.empty() ? "[" + r.kind + "]" : r.name};
    }
    gap_start = r.start + r.size;
  }
  return rsp::MemoryRange{.start = gap_start,
                          .size = std::numeric_limits<uint64_t>::max() - gap_start};
}

}  // namespace

Response Handlers::HostInfo() {
  // Left unanswered (see lldb.h); what it tells is who is asking.
  lldb_client_ = true;
  return Response{{""}};
}

Response Handlers::Offsets() {
  // A static-pie payload runs at km's load bias; a client that asks (lldb, whose static loader
  // would otherwise place it at its file addresses) slides it by that much. gdb also asks and
  // finds the same displacement as the one it derives from the auxv's AT_ENTRY.
  if (!info_.pie) return Response{{""}};
  return Response{{rsp::OffsetsReply(info_.load_bias)}};
}

std::string Handlers::NameForLldb(int tid) {
  if (!lldb_client_ || non_stop_) return "";
  if (!stop_threads_) {
    absl::StatusOr<std::vector<agent::ThreadInfo>> listed = target_.ListThreads();
    if (!listed.ok()) {
      Log(listed.status().message());
      return "";
    }
    // Everything is stopped: the list holds until the next resume or event resets it.
    stop_threads_ = *std::move(listed);
  }
  for (const agent::ThreadInfo& t : *stop_threads_) {
    if (t.tid == tid) return t.name;
  }
  return "";
}

Response Handlers::ThreadStopInfo(absl::string_view packet) {
  absl::StatusOr<int> tid = rsp::ParseThreadStopInfo(packet);
  if (!tid.ok()) {
    Log(tid.status().message());
    return Response{{"E01"}};
  }
  const StopReport& last = run_.last_report();
  if (last.kind == StopReport::Kind::kThread && last.tid == *tid) {
    return Response{{StopReply(last)}};
  }
  // Any other thread stopped because this one did: no reason, no signal (lldb-server's T00).
  auto record = threads().records().find(*tid);
  if (record == threads().records().end() || !record->second.stop) {
    Log(absl::StrFormat("qThreadStopInfo: thread %d is not stopped", *tid));
    return Response{{"E01"}};
  }
  StopReport report;
  report.tid = *tid;
  report.requested = true;
  report.regs = record->second.stop->regs;
  return Response{{StopReply(report)}};
}

Response Handlers::MemoryRegionInfo(absl::string_view packet) {
  absl::StatusOr<uint64_t> addr = rsp::ParseMemoryRegionInfo(packet);
  if (!addr.ok()) {
    Log(addr.status().message());
    return Response{{"E01"}};
  }
  // Asked afresh each time: the payload maps and unmaps memory as it runs.
  absl::StatusOr<TargetInfo> info = target_.GetTarget();
  if (!info.ok()) return Failed(info.status());
  return Response{{rsp::MemoryRegionInfoReply(RangeHolding(std::move(info->regions), *addr))}};
}

}  // namespace agent
