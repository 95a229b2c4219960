// libFuzzer target for what km does with a debug client's requests before any vCPU is involved:
// the input is a sequence of km.debug.v1 requests in protobuf wire format (Attach, Insert and
// RemoveBreakpoint, Read and WriteMemory, WriteRegisters), applied to the same pieces the
// service uses (Sessions, SwBreakpoints over a real GuestMemory, proto_convert). A model of
// guest memory as the debugger should see it checks that reads never show an int3, writes
// under a breakpoint are kept, and removing every breakpoint leaves no int3 behind.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "km/guest_memory.h"
#include "km_hooks/proto_convert.h"
#include "km_hooks/session.h"
#include "km_hooks/sw_breakpoints.h"
#include "proto/km_debug.pb.h"

namespace {

namespace v1 = ::km::debug::v1;

void Check(bool ok) {
  if (!ok) abort();
}

// Guest memory: two mapped ranges with a hole between them, inside a window the fuzzer's
// addresses are folded into (an address with its top bit set is used as it is).
constexpr uint64_t kWindow = 0x3ff000;
constexpr uint64_t kWindowSize = 0x6000;
constexpr uint64_t kText = 0x400000;     // two pages, r-x
constexpr uint64_t kData = 0x403000;     // one page, rw-
constexpr uint64_t kMaxTransfer = 4096;  // the service caps transfers too (16 MiB there)

bool Mapped(uint64_t addr) {
  return (addr >= kText && addr < kText + 0x2000) || (addr >= kData && addr < kData + 0x1000);
}

uint64_t Address(uint64_t raw) {
  return (raw >> 63) != 0 ? raw : kWindow + raw % kWindowSize;
}

class NoEngine : public km::Engine {
 public:
  std::string_view name() const override { return "none"; }
  km::EngineCaps caps() const override { return {}; }
  absl::Status MapRegion(uint64_t, uint64_t, uint64_t, uint32_t) override {
    return absl::OkStatus();
  }
  absl::Status UnmapRegion(uint64_t, uint64_t) override { return absl::OkStatus(); }
  absl::Status ProtectRegion(uint64_t, uint64_t, uint32_t) override { return absl::OkStatus(); }
  void CodeModified(uint64_t, uint64_t) override {}
  absl::StatusOr<std::unique_ptr<km::Vcpu>> CreateVcpu(int) override {
    return absl::UnimplementedError("no vCPUs here");
  }
};

struct World {
  std::unique_ptr<km::GuestMemory> mem;
  NoEngine engine;
  std::unique_ptr<km_hooks::SwBreakpoints> breakpoints;
  km_hooks::Sessions sessions;
  std::map<uint64_t, uint8_t> seen;  // what the debugger should read; absent: zero
  std::set<uint64_t> inserted;  // breakpoint addresses
};

uint8_t Seen(const World& w, uint64_t addr) {
  auto it = w.seen.find(addr);
  return it == w.seen.end() ? 0 : it->second;
}

// The guest's own view: an int3 where a live breakpoint sits, the debugger's byte elsewhere.
void CheckGuestBytes(const World& w) {
  for (auto [start, size] : {std::pair<uint64_t, uint64_t>{kText, 0x2000}, {kData, 0x1000}}) {
    std::string raw(size, '\0');
    Check(w.mem->ReadIgnoringProt(start, raw.data(), size) == size);
    for (uint64_t i = 0; i < size; i++) {
      const bool int3 = w.inserted.contains(start + i);
      Check(static_cast<uint8_t>(raw[i]) == (int3 ? 0xcc : Seen(w, start + i)));
    }
  }
}

template <typename Message>
bool Parse(FuzzedDataProvider& in, Message* msg) {
  const std::string bytes = in.ConsumeRandomLengthString(256);
  return msg->ParseFromString(bytes);
}

void Breakpoint(World& w, FuzzedDataProvider& in, bool insert) {
  v1::BreakpointRequest req;
  if (!Parse(in, &req)) return;
  (void)w.sessions.Check(req.session());
  if (req.kind() != v1::BREAKPOINT_KIND_SOFTWARE) return;
  const uint64_t addr = Address(req.addr());
  if (insert) {
    const absl::Status s = w.breakpoints->Insert(addr);
    Check(s.ok() == Mapped(addr));
    if (s.ok()) w.inserted.insert(addr);
  } else {
    const absl::Status s = w.breakpoints->Remove(addr);
    Check(s.ok() == w.inserted.contains(addr));
    w.inserted.erase(addr);
  }
}

void ReadMemory(World& w, FuzzedDataProvider& in) {
  v1::ReadMemoryRequest req;
  if (!Parse(in, &req)) return;
  const uint64_t addr = Address(req.addr());
  const uint64_t len = std::min<uint64_t>(req.len(), kMaxTransfer);
  std::string buf(len, '\0');
  const uint64_t n = w.breakpoints->Read(addr, buf.data(), len);
  Check(n <= len);
  for (uint64_t i = 0; i < n; i++) {
    Check(Mapped(addr + i));
    Check(static_cast<uint8_t>(buf[i]) == Seen(w, addr + i));
  }
  // A short read stops exactly at the first unmapped byte.
  if (n < len) Check(!Mapped(addr + n));
}

void WriteMemory(World& w, FuzzedDataProvider& in) {
  v1::WriteMemoryRequest req;
  if (!Parse(in, &req)) return;
  (void)w.sessions.Check(req.session());
  const uint64_t addr = Address(req.addr());
  const std::string data = req.data().substr(0, kMaxTransfer);
  const uint64_t n = w.breakpoints->Write(addr, data.data(), data.size());
  Check(n <= data.size());
  for (uint64_t i = 0; i < n; i++) w.seen[addr + i] = static_cast<uint8_t>(data[i]);
  if (n < data.size()) Check(!Mapped(addr + n));
}

// What a step past a breakpoint executes: the debugger's byte, only where a breakpoint is.
void OriginalByte(const World& w, FuzzedDataProvider& in) {
  const uint64_t addr = Address(in.ConsumeIntegral<uint64_t>());
  const std::optional<uint8_t> original = w.breakpoints->Original(addr);
  Check(original.has_value() == w.inserted.contains(addr));
  if (original) Check(*original == Seen(w, addr));
}

void WriteRegisters(FuzzedDataProvider& in) {
  v1::WriteRegistersRequest req;
  if (!Parse(in, &req)) return;
  const km::Regs regs = km_hooks::FromProto(req.registers());
  v1::Registers back;
  km_hooks::ToProto(regs, &back);
  Check(back.rip() == req.registers().rip() && back.rsp() == req.registers().rsp());
  if (!req.registers().has_fpu()) return;
  km::FpuRegs fpu;
  if (!km_hooks::FromProto(req.registers().fpu(), &fpu).ok()) return;
  v1::FpuRegisters fpu_back;
  km_hooks::ToProto(fpu, &fpu_back);
  for (int i = 0; i < 8; i++) Check(fpu_back.st(i) == req.registers().fpu().st(i));
  for (int i = 0; i < 16; i++) Check(fpu_back.xmm(i) == req.registers().fpu().xmm(i));
}

void Session(World& w, FuzzedDataProvider& in) {
  v1::AttachRequest req;
  if (!Parse(in, &req)) return;
  auto session = w.sessions.Attach(req.client_name());
  if (!session.ok()) return;  // one session at a time; the fuzzer may hold it already
  Check(w.sessions.Check(*session).ok());
  Check(!w.sessions.Check(req.client_name()).ok() || req.client_name() == *session);
  Check(!w.sessions.Attach("second client").ok());
  if (in.ConsumeBool()) Check(w.sessions.End(*session));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World w;
  auto mem = km::GuestMemory::Create(1 << 20, 0);
  Check(mem.ok());
  w.mem = std::move(*mem);
  Check(w.mem->Map(kText, 0x2000, km::kProtRead | km::kProtExec, km::RegionKind::kText, "text").ok());
  Check(w.mem->Map(kData, 0x1000, km::kProtRead | km::kProtWrite, km::RegionKind::kData, "data").ok());
  w.breakpoints = std::make_unique<km_hooks::SwBreakpoints>(*w.mem, w.engine);

  FuzzedDataProvider in(data, size);
  while (in.remaining_bytes() > 0) {
    switch (in.ConsumeIntegralInRange(0, 6)) {
      case 0: Breakpoint(w, in, /*insert=*/true); break;
      case 1: Breakpoint(w, in, /*insert=*/false); break;
      case 2: ReadMemory(w, in); break;
      case 3: WriteMemory(w, in); break;
      case 4: OriginalByte(w, in); break;
      case 5: WriteRegisters(in); break;
      case 6: Session(w, in); break;
    }
    CheckGuestBytes(w);
  }
  // What detach and a dead client do: every original byte is back, no int3 anywhere.
  w.breakpoints->RemoveAll();
  w.inserted.clear();
  CheckGuestBytes(w);
  return 0;
}
