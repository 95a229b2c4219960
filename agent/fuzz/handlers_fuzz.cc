// libFuzzer target for the agent's command parser: the input is what gdb sends, framed and
// answered as a gdb session does (agent/server/gdb_session.cc), against a fake target with a
// main thread and a worker. Every reply must be a well-formed packet payload that fits in the
// packet size the agent announces.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "agent/handlers/handlers.h"
#include "agent/rsp/framer.h"
#include "agent/testing/fake_target.h"

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

// A reply travels framed: '$', '#' may not appear in it unescaped.
void CheckReply(const std::string& reply) {
  Check(reply.size() <= agent::kPacketSize);
  Check(reply.find_first_of("$#") == std::string::npos);
}

void DeliverEvents(agent::testing::FakeTarget& target, agent::Handlers& handlers) {
  while (std::optional<agent::Event> e = target.NextEvent()) {
    if (std::optional<std::string> stop = handlers.HandleEvent(*e)) CheckReply(*stop);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using agent::rsp::FramedItem;
  agent::testing::FakeTarget target;
  target.AddThread(101, "worker", /*running=*/false);
  // Frames for QTFrame to select once a QTStart ran: reads then come from them.
  agent::TraceFrame with_registers;
  with_registers.registers.emplace();
  with_registers.memory = {{0x400000, std::string(16, '\x90')}};
  agent::TraceFrame memory_only = with_registers;
  memory_only.number = 1;
  memory_only.registers.reset();
  target.RecordsAtStart({with_registers, memory_only});
  agent::Handlers handlers(target, target.info());
  if (!handlers.Begin().ok()) return 0;

  agent::rsp::Framer framer(agent::kPacketSize + 64);
  std::vector<FramedItem> items;
  framer.Feed(absl::string_view(reinterpret_cast<const char*>(data), size), items);
  for (const FramedItem& item : items) {
    if (item.kind == FramedItem::Kind::kInterrupt) {
      if (std::optional<std::string> stop = handlers.Interrupt()) CheckReply(*stop);
    }
    if (item.kind != FramedItem::Kind::kPacket) continue;
    // All-stop: while the target runs the session answers E01 without asking the handlers.
    if (handlers.running()) {
      // A running worker stops on its own now and then, as a breakpoint hit would.
      target.StopsOnItsOwn(101, agent::StopReason{agent::StopKind::kBreakpoint, 0}, 0x400100);
      DeliverEvents(target, handlers);
      continue;
    }
    agent::Response r = handlers.Handle(item.body);
    for (const std::string& reply : r.packets) CheckReply(reply);
    DeliverEvents(target, handlers);
  }
  handlers.Disconnect();
  return 0;
}
