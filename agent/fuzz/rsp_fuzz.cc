// libFuzzer target for the RSP codec: the input is the byte stream gdb sends. The framer splits
// it; every packet body goes through every packet parser (each must refuse what it cannot read
// with a status, never crash); and the encodings must round-trip whatever bytes they are given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "agent/rsp/encoding.h"
#include "agent/rsp/framer.h"
#include "agent/rsp/packet_writer.h"
#include "agent/rsp/packets/breakpoint.h"
#include "agent/rsp/packets/memory.h"
#include "agent/rsp/packets/misc.h"
#include "agent/rsp/packets/qxfer.h"
#include "agent/rsp/packets/registers.h"
#include "agent/rsp/packets/thread.h"
#include "agent/rsp/packets/thread_id.h"
#include "agent/rsp/packets/trace.h"
#include "agent/rsp/packets/vcont.h"
#include "agent/rsp/packets/vfile.h"

namespace agent::rsp {
namespace {

// Small, so that the fuzzer reaches the oversize path with short inputs too.
constexpr size_t kMaxPacket = 512;

void Check(bool ok) {
  if (!ok) abort();
}

// Every parser, on every body: statuses are fine, crashes and hangs are not.
void ParseEverything(absl::string_view body) {
  const absl::string_view args = body.empty() ? body : body.substr(1);
  (void)ParseBreakpoint(body);
  (void)ParseMemoryRead(args);
  (void)ParseMemoryWriteHex(args);
  if (auto w = ParseMemoryWriteBinary(args); w.ok()) (void)w->data.size();
  std::vector<Feature> features = ParseQSupported(body);
  (void)GdbSupports(features, "multiprocess");
  (void)ParseDetach(body);
  (void)ParseVKill(body);
  (void)ParseMonitorCommand(body);
  if (auto x = ParseXferRead(body); x.ok()) {
    // The reply slices a document by gdb's offset and length, whatever they are.
    std::string reply = XferReply(body, x->offset, x->length);
    Check(!reply.empty() && (reply[0] == 'm' || reply[0] == 'l'));
  }
  (void)ParseRegisterRead(args);
  (void)ParseRegisterWrite(args);
  (void)ParseSetThread(body);
  (void)ParseThreadAlive(body);
  (void)ParseThreadId(args);
  (void)ParseVCont(body);
  (void)ParseLegacyResume(body);
  (void)ParseVFile(body);
  (void)ParseTracepoint(body);
  (void)ParseTraceVariable(body);
  (void)ParseTraceBuffer(body);
  (void)ParseDisconnectedTracing(body);
  (void)ParseTracepointQuery(body);
  (void)ParseTraceVariableQuery(body);
  (void)ParseTraceFrameSelect(body);
  (void)ParseHex(args);
  (void)ParseSignedHex(args);
  (void)HexDecode(args);
  (void)UnescapeBinary(body);
  (void)RunLengthDecode(body);
}

// Whatever bytes a reply carries, framing them and reading them back gives them again.
void CheckRoundTrips(absl::string_view bytes) {
  auto hex = HexDecode(HexEncode(bytes));
  Check(hex.ok() && *hex == bytes);
  auto unescaped = UnescapeBinary(EscapeBinary(bytes));
  Check(unescaped.ok() && *unescaped == bytes);

  Framer framer(kMaxPacket * 4);
  std::vector<FramedItem> items;
  framer.Feed(Frame(EscapeBinary(bytes)), items);
  Check(items.size() == 1 && items[0].kind == FramedItem::Kind::kPacket);
  auto body = UnescapeBinary(items[0].body);
  Check(body.ok() && *body == bytes);
  Check(!framer.mid_packet());
}

}  // namespace
}  // namespace agent::rsp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace agent::rsp;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  // The stream as gdb sends it, once with checksums checked and once without (no-ack mode),
  // fed in two pieces split at a point the input chooses, as a socket may deliver it.
  for (bool check : {true, false}) {
    Framer framer(kMaxPacket);
    framer.set_check_checksums(check);
    std::vector<FramedItem> items;
    const size_t split = size == 0 ? 0 : data[0] % (size + 1);
    framer.Feed(input.substr(0, split), items);
    framer.Feed(input.substr(split), items);
    for (const FramedItem& item : items) {
      Check(item.body.size() <= kMaxPacket);
      if (item.kind == FramedItem::Kind::kPacket) ParseEverything(item.body);
    }
  }
  ParseEverything(input);
  if (size <= kMaxPacket) CheckRoundTrips(input);
  return 0;
}
