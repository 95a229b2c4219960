#include "km/guest_memory.h"

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "km/layout.h"

namespace km {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kPhys = 64ull << 20;
constexpr uint64_t kReserved = 4ull << 20;
constexpr uint64_t kBase = 0x10000000;
constexpr uint32_t kRw = kProtRead | kProtWrite;

std::unique_ptr<GuestMemory> NewMemory(uint64_t phys = kPhys) {
  absl::StatusOr<std::unique_ptr<GuestMemory>> mem = GuestMemory::Create(phys, kReserved);
  EXPECT_TRUE(mem.ok()) << mem.status();
  return std::move(*mem);
}

// Records the engine calls so tests can check the mirror.
class FakeEngine : public Engine {
 public:
  std::string_view name() const override { return "fake"; }
  EngineCaps caps() const override { return {}; }
  absl::Status MapRegion(uint64_t gva, uint64_t size, uint64_t gpa, uint32_t prot) override {
    calls.push_back(absl::StrFormat("map %x %x %x %d", gva, size, gpa, prot));
    return absl::OkStatus();
  }
  absl::Status UnmapRegion(uint64_t gva, uint64_t size) override {
    calls.push_back(absl::StrFormat("unmap %x %x", gva, size));
    return absl::OkStatus();
  }
  absl::Status ProtectRegion(uint64_t gva, uint64_t size, uint32_t prot) override {
    calls.push_back(absl::StrFormat("protect %x %x %d", gva, size, prot));
    return absl::OkStatus();
  }
  void CodeModified(uint64_t, uint64_t) override {}
  absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(int) override {
    return absl::UnimplementedError("fake");
  }
  std::vector<std::string> calls;
};

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

TEST(GuestMemoryTest, CreateRejectsBadSizes) {
  EXPECT_FALSE(GuestMemory::Create(0, 0).ok());
  EXPECT_FALSE(GuestMemory::Create(kPhys + 1, 0).ok());
  EXPECT_FALSE(GuestMemory::Create(kPhys, kPhys).ok());
  auto mem = NewMemory();
  EXPECT_EQ(mem->phys().size, kPhys);
  EXPECT_EQ(mem->phys().engine_reserved_gpa, kPhys - kReserved);
  EXPECT_EQ(mem->phys().engine_reserved_size, kReserved);
}

TEST(GuestMemoryTest, MapAndRegions) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, 4 * kPageSize, kRw, RegionKind::kData, "d").ok());
  std::vector<Region> regions = mem->Regions();
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].gva, kBase);
  EXPECT_EQ(regions[0].size, 4 * kPageSize);
  EXPECT_EQ(regions[0].prot, kRw);
  EXPECT_EQ(regions[0].kind, RegionKind::kData);
  EXPECT_EQ(regions[0].name, "d");
  EXPECT_LT(regions[0].gpa + regions[0].size, mem->phys().engine_reserved_gpa + 1);
  std::vector<uint8_t> zero(4 * kPageSize), got(4 * kPageSize, 1);
  ASSERT_TRUE(mem->Read(kBase, got.data(), got.size()).ok());
  EXPECT_EQ(got, zero);
}

TEST(GuestMemoryTest, MapRejectsOverlapAndBadArguments) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, 4 * kPageSize, kRw, RegionKind::kData, "first").ok());
  absl::Status s = mem->Map(kBase + 3 * kPageSize, 2 * kPageSize, kRw, RegionKind::kData, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("0x10003000"));
  EXPECT_THAT(s.message(), HasSubstr("first"));
  s = mem->Map(kBase - kPageSize, 2 * kPageSize, kRw, RegionKind::kData, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(mem->Map(kBase + 1, kPageSize, kRw, RegionKind::kData, "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mem->Map(kBase + 8 * kPageSize, 100, kRw, RegionKind::kData, "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mem->Map(kBase + 8 * kPageSize, 0, kRw, RegionKind::kData, "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mem->Map(0x7ffffffff000, 2 * kPageSize, kRw, RegionKind::kData, "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mem->Map(0xfffffffffffff000, kPageSize, kRw, RegionKind::kData, "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mem->Map(kBase + 8 * kPageSize, kPageSize, 8, RegionKind::kData, "x").code(),
            absl::StatusCode::kInvalidArgument);
  // Adjacent on both sides is fine.
  EXPECT_TRUE(mem->Map(kBase - kPageSize, kPageSize, kRw, RegionKind::kData, "x").ok());
  EXPECT_TRUE(mem->Map(kBase + 4 * kPageSize, kPageSize, kRw, RegionKind::kData, "y").ok());
  EXPECT_EQ(mem->Regions().size(), 3u);
}

TEST(GuestMemoryTest, MapFailsWhenPhysicalMemoryRunsOut) {
  auto mem = NewMemory();
  absl::Status s = mem->Map(kBase, kPhys, kRw, RegionKind::kData, "huge");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  // Everything below the engine's reserve is usable, the reserve is not.
  EXPECT_TRUE(mem->Map(kBase, kPhys - kReserved, kRw, RegionKind::kData, "all").ok());
  EXPECT_EQ(mem->Map(0x80000000, kPageSize, kRw, RegionKind::kData, "one more").code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(GuestMemoryTest, PartialUnmapSplitsAndKeepsContents) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, 4 * kPageSize, kRw, RegionKind::kHeap, "[heap]").ok());
  const uint64_t gpa = mem->Regions()[0].gpa;
  std::vector<uint8_t> data = Pattern(4 * kPageSize, 3);
  ASSERT_TRUE(mem->Write(kBase, data.data(), data.size()).ok());

  ASSERT_TRUE(mem->Unmap(kBase + kPageSize, kPageSize).ok());
  std::vector<Region> regions = mem->Regions();
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0].gva, kBase);
  EXPECT_EQ(regions[0].size, kPageSize);
  EXPECT_EQ(regions[0].gpa, gpa);
  EXPECT_EQ(regions[1].gva, kBase + 2 * kPageSize);
  EXPECT_EQ(regions[1].size, 2 * kPageSize);
  EXPECT_EQ(regions[1].gpa, gpa + 2 * kPageSize);
  EXPECT_EQ(regions[1].name, "[heap]");
  EXPECT_EQ(regions[1].kind, RegionKind::kHeap);

  std::vector<uint8_t> got(2 * kPageSize);
  ASSERT_TRUE(mem->Read(kBase + 2 * kPageSize, got.data(), got.size()).ok());
  EXPECT_EQ(0, memcmp(got.data(), data.data() + 2 * kPageSize, got.size()));
  ASSERT_TRUE(mem->Read(kBase, got.data(), kPageSize).ok());
  EXPECT_EQ(0, memcmp(got.data(), data.data(), kPageSize));
  absl::Status s = mem->Read(kBase + kPageSize, got.data(), 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("guest address 0x10001000 not mapped"));

  // Unmapping across holes and a region's tail; the length rounds up to pages as munmap's does.
  ASSERT_TRUE(mem->Unmap(kBase - 16 * kPageSize, 19 * kPageSize - 100).ok());
  regions = mem->Regions();
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].gva, kBase + 3 * kPageSize);
  EXPECT_EQ(regions[0].gpa, gpa + 3 * kPageSize);
  // Unmapping nothing succeeds; unaligned starts do not.
  EXPECT_TRUE(mem->Unmap(0x40000000, kPageSize).ok());
  EXPECT_EQ(mem->Unmap(kBase + 1, kPageSize).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mem->Unmap(kBase, 0).code(), absl::StatusCode::kInvalidArgument);
}

TEST(GuestMemoryTest, FreedPhysicalPagesAreReusedAndZero) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, 2 * kPageSize, kRw, RegionKind::kMmap, "a").ok());
  const uint64_t gpa = mem->Regions()[0].gpa;
  std::vector<uint8_t> data = Pattern(2 * kPageSize, 9);
  ASSERT_TRUE(mem->Write(kBase, data.data(), data.size()).ok());
  ASSERT_TRUE(mem->Unmap(kBase, 2 * kPageSize).ok());
  EXPECT_TRUE(mem->Regions().empty());

  ASSERT_TRUE(mem->Map(0x20000000, 2 * kPageSize, kRw, RegionKind::kMmap, "b").ok());
  EXPECT_EQ(mem->Regions()[0].gpa, gpa);  // first fit finds the freed pages
  std::vector<uint8_t> got(2 * kPageSize, 1), zero(2 * kPageSize);
  ASSERT_TRUE(mem->Read(0x20000000, got.data(), got.size()).ok());
  EXPECT_EQ(got, zero);
  // The host bytes behind it are zero too.
  EXPECT_EQ(0, memcmp(mem->phys().host + gpa, zero.data(), zero.size()));
}

TEST(GuestMemoryTest, FreedPhysicalRangesCoalesce) {
  auto mem = NewMemory();
  const uint64_t usable = kPhys - kReserved;
  // Fill physical memory with three regions, free them in an order that needs coalescing on
  // both sides, then one mapping of everything must fit again.
  ASSERT_TRUE(mem->Map(0x10000000, usable / 4, kRw, RegionKind::kMmap, "a").ok());
  ASSERT_TRUE(mem->Map(0x20000000, usable / 2, kRw, RegionKind::kMmap, "b").ok());
  ASSERT_TRUE(mem->Map(0x30000000, usable / 4, kRw, RegionKind::kMmap, "c").ok());
  ASSERT_TRUE(mem->Unmap(0x10000000, usable / 4).ok());
  ASSERT_TRUE(mem->Unmap(0x30000000, usable / 4).ok());
  EXPECT_FALSE(mem->Map(0x40000000, usable, kRw, RegionKind::kMmap, "all").ok());
  ASSERT_TRUE(mem->Unmap(0x20000000, usable / 2).ok());
  EXPECT_TRUE(mem->Map(0x40000000, usable, kRw, RegionKind::kMmap, "all").ok());
}

TEST(GuestMemoryTest, ProtectSplitsChecksAndMergesBack) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, 4 * kPageSize, kRw, RegionKind::kData, "d").ok());
  ASSERT_TRUE(mem->Protect(kBase + kPageSize, 2 * kPageSize, kProtRead).ok());
  std::vector<Region> regions = mem->Regions();
  ASSERT_EQ(regions.size(), 3u);
  EXPECT_EQ(regions[1].gva, kBase + kPageSize);
  EXPECT_EQ(regions[1].size, 2 * kPageSize);
  EXPECT_EQ(regions[1].prot, kProtRead);
  EXPECT_EQ(regions[1].gpa, regions[0].gpa + kPageSize);
  EXPECT_EQ(regions[2].prot, kRw);

  uint8_t byte = 5;
  EXPECT_TRUE(mem->Write(kBase + kPageSize - 1, &byte, 1).ok());
  absl::Status s = mem->Write(kBase + kPageSize - 1, "ab", 2);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("0x10001000 is not writable"));
  // A failed write changes nothing.
  ASSERT_TRUE(mem->Read(kBase + kPageSize - 1, &byte, 1).ok());
  EXPECT_EQ(byte, 5);
  EXPECT_TRUE(mem->Read(kBase + kPageSize, &byte, 1).ok());
  EXPECT_EQ(mem->Read(kBase + kPageSize, &byte, 1, Access::kWrite).code(),
            absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(mem->Protect(kBase + kPageSize, 2 * kPageSize, kProtNone).ok());
  EXPECT_EQ(mem->Read(kBase + kPageSize, &byte, 1).code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(mem->Protect(kBase, 4 * kPageSize, kRw).ok());
  EXPECT_EQ(mem->Regions().size(), 1u);

  // Any unmapped byte in the range fails, like mprotect's ENOMEM, and changes nothing.
  s = mem->Protect(kBase, 5 * kPageSize, kProtRead);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("0x10004000 not mapped"));
  EXPECT_EQ(mem->Regions()[0].prot, kRw);
  EXPECT_EQ(mem->Protect(kBase + 1, kPageSize, kProtRead).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mem->Protect(kBase, kPageSize, 0x10).code(), absl::StatusCode::kInvalidArgument);
}

TEST(GuestMemoryTest, MapAnywhereIsTopDown) {
  auto mem = NewMemory();
  absl::StatusOr<uint64_t> a = mem->MapAnywhere(2 * kPageSize, kRw, RegionKind::kMmap, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, kMmapCeiling - 2 * kPageSize);
  absl::StatusOr<uint64_t> b = mem->MapAnywhere(kPageSize, kRw, RegionKind::kMmap, "b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, *a - kPageSize);
  // A freed gap is reused when it fits, skipped when it does not.
  ASSERT_TRUE(mem->Unmap(*a, 2 * kPageSize).ok());
  absl::StatusOr<uint64_t> c = mem->MapAnywhere(3 * kPageSize, kRw, RegionKind::kMmap, "c");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, *b - 3 * kPageSize);
  absl::StatusOr<uint64_t> d = mem->MapAnywhere(kPageSize, kRw, RegionKind::kMmap, "d");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, kMmapCeiling - kPageSize);
  // The stack above the ceiling is not in the way.
  ASSERT_TRUE(mem->Map(kStackTop - kPageSize, kPageSize, kRw, RegionKind::kStack, "[stack]").ok());
  EXPECT_EQ(mem->MapAnywhere(kPageSize * 4, 0, RegionKind::kMmap, "e").value(), *c - 4 * kPageSize);
  EXPECT_EQ(mem->MapAnywhere(100, kRw, RegionKind::kMmap, "bad").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GuestMemoryTest, MapAnywhereFailsWhenNoGapFits) {
  auto mem = NewMemory();
  // One page at each end of [floor, ceiling) leaves no gap for nearly all of it.
  ASSERT_TRUE(mem->Map(kMmapFloor, kPageSize, kRw, RegionKind::kMmap, "low").ok());
  absl::StatusOr<uint64_t> top = mem->MapAnywhere(kPageSize, kRw, RegionKind::kMmap, "top");
  ASSERT_TRUE(top.ok());
  // Nothing of (ceiling - floor) fits anymore, and the failure names the size.
  absl::StatusOr<uint64_t> big =
      mem->MapAnywhere(kMmapCeiling - kMmapFloor - kPageSize, kRw, RegionKind::kMmap, "big");
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(GuestMemoryTest, ReadWriteAcrossAdjacentRegions) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, kPageSize, kRw, RegionKind::kData, "a").ok());
  ASSERT_TRUE(mem->Map(0x30000000, kPageSize, kRw, RegionKind::kData, "gap filler").ok());
  ASSERT_TRUE(mem->Map(kBase + kPageSize, 2 * kPageSize, kRw, RegionKind::kData, "b").ok());
  std::vector<Region> regions = mem->Regions();
  ASSERT_EQ(regions.size(), 3u);
  EXPECT_NE(regions[0].gpa + kPageSize, regions[1].gpa);  // not contiguous in host memory

  std::vector<uint8_t> data = Pattern(2 * kPageSize, 1);
  ASSERT_TRUE(mem->Write(kBase + 100, data.data(), data.size()).ok());
  std::vector<uint8_t> got(data.size());
  ASSERT_TRUE(mem->Read(kBase + 100, got.data(), got.size()).ok());
  EXPECT_EQ(got, data);
  EXPECT_EQ(0, memcmp(mem->phys().host + regions[1].gpa, data.data() + kPageSize - 100, 100));

  // Running off the end into a hole fails and names the first missing byte.
  absl::Status s = mem->Read(kBase + 3 * kPageSize - 8, got.data(), 16);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("guest address 0x10003000 not mapped"));
  s = mem->Write(kBase - 8, data.data(), 16);
  EXPECT_THAT(s.message(), HasSubstr("guest address 0xffffff8 not mapped"));
  EXPECT_TRUE(mem->Read(0x50000000, nullptr, 0).ok());
  EXPECT_TRUE(mem->Write(0x50000000, nullptr, 0).ok());
}

TEST(GuestMemoryTest, AdjacentSameKindMappingsBecomeOneRegion) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, kPageSize, kRw, RegionKind::kHeap, "[heap]").ok());
  ASSERT_TRUE(mem->Map(kBase + kPageSize, kPageSize, kRw, RegionKind::kHeap, "[heap]").ok());
  ASSERT_EQ(mem->Regions().size(), 1u);
  EXPECT_TRUE(mem->HostPointer(kBase + 100, kPageSize, Access::kWrite).ok());
}

TEST(GuestMemoryTest, AccessesThatWrapFail) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, kPageSize, kRw, RegionKind::kData, "a").ok());
  std::vector<uint8_t> buf(0x200);
  const uint64_t high = 0xffffffffffffff00;
  EXPECT_EQ(mem->Read(high, buf.data(), buf.size()).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(mem->Write(high, buf.data(), buf.size()).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(mem->ReadIgnoringProt(high, buf.data(), buf.size()), 0u);
  EXPECT_EQ(mem->WriteIgnoringProt(high, buf.data(), buf.size()), 0u);
  EXPECT_FALSE(mem->HostPointer(high, buf.size(), Access::kRead).ok());
  EXPECT_FALSE(mem->ReadCString(high, 0x1000).ok());
  EXPECT_EQ(mem->Read(kBase, buf.data(), ~0ull).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(mem->HostPointer(kBase, ~0ull, Access::kRead).ok());
  EXPECT_EQ(mem->Unmap(high & ~(kPageSize - 1), 0x200).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mem->Protect(kBase, ~0ull, kRw).code(), absl::StatusCode::kInvalidArgument);
  // A huge length from a mapped address copies only what is there.
  EXPECT_EQ(mem->ReadIgnoringProt(kBase + kPageSize - 4, buf.data(), ~0ull - 10), 4u);
}

TEST(GuestMemoryTest, HostPointer) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, 2 * kPageSize, kRw, RegionKind::kData, "a").ok());
  ASSERT_TRUE(mem->Map(kBase + 2 * kPageSize, kPageSize, kProtRead, RegionKind::kData, "ro").ok());
  absl::StatusOr<uint8_t*> p = mem->HostPointer(kBase + 10, 100, Access::kWrite);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, mem->phys().host + mem->Regions()[0].gpa + 10);
  memcpy(*p, "hello", 5);
  char got[5];
  ASSERT_TRUE(mem->Read(kBase + 10, got, 5).ok());
  EXPECT_EQ(std::string(got, 5), "hello");

  EXPECT_TRUE(mem->HostPointer(kBase + 2 * kPageSize, 8, Access::kRead).ok());
  absl::StatusOr<uint8_t*> ro = mem->HostPointer(kBase + 2 * kPageSize, 8, Access::kWrite);
  EXPECT_EQ(ro.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ro.status().message(), HasSubstr("not writable"));
  absl::StatusOr<uint8_t*> span = mem->HostPointer(kBase + 2 * kPageSize - 4, 8, Access::kRead);
  EXPECT_EQ(span.status().code(), absl::StatusCode::kOutOfRange);
  absl::StatusOr<uint8_t*> hole = mem->HostPointer(kBase + 3 * kPageSize - 4, 8, Access::kRead);
  EXPECT_EQ(hole.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(hole.status().message(), HasSubstr("0x10003000 not mapped"));
  EXPECT_TRUE(mem->HostPointer(kBase + 3 * kPageSize - 1, 0, Access::kRead).ok());
  EXPECT_FALSE(mem->HostPointer(kBase + 3 * kPageSize, 0, Access::kRead).ok());
}

TEST(GuestMemoryTest, ReadCString) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, kPageSize, kRw, RegionKind::kData, "a").ok());
  ASSERT_TRUE(mem->Map(kBase + kPageSize, kPageSize, kRw, RegionKind::kData, "b").ok());
  ASSERT_TRUE(mem->Write(kBase, "hello", 6).ok());
  EXPECT_EQ(mem->ReadCString(kBase, 100).value(), "hello");
  EXPECT_EQ(mem->ReadCString(kBase, 5).value(), "hello");  // exactly max_len is fine
  absl::StatusOr<std::string> too_long = mem->ReadCString(kBase, 4);
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(mem->ReadCString(kBase + 5, 0).value(), "");

  // A string across two regions.
  ASSERT_TRUE(mem->Write(kBase + kPageSize - 3, "abcdef", 7).ok());
  EXPECT_EQ(mem->ReadCString(kBase + kPageSize - 3, 100).value(), "abcdef");

  // A string that runs into a hole or into unreadable memory.
  std::vector<char> fill(8, 'x');
  ASSERT_TRUE(mem->Write(kBase + 2 * kPageSize - 8, fill.data(), fill.size()).ok());
  absl::StatusOr<std::string> hole = mem->ReadCString(kBase + 2 * kPageSize - 8, 100);
  EXPECT_EQ(hole.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(hole.status().message(), HasSubstr("0x10002000 not mapped"));
  // ...unless max_len stops first.
  EXPECT_EQ(mem->ReadCString(kBase + 2 * kPageSize - 8, 7).status().code(),
            absl::StatusCode::kOutOfRange);
  ASSERT_TRUE(mem->Protect(kBase + kPageSize, kPageSize, kProtNone).ok());
  absl::StatusOr<std::string> forbidden = mem->ReadCString(kBase + kPageSize - 3, 100);
  EXPECT_THAT(forbidden.status().message(), HasSubstr("0x10001000 is not readable"));
  EXPECT_FALSE(mem->ReadCString(0x50000000, 100).ok());
}

TEST(GuestMemoryTest, IgnoringProtCopiesStopAtHoles) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, kPageSize, kProtRead | kProtExec, RegionKind::kText, "t").ok());
  ASSERT_TRUE(mem->Map(kBase + kPageSize, kPageSize, kProtNone, RegionKind::kData, "n").ok());
  std::vector<uint8_t> data = Pattern(kPageSize + 16, 4);
  EXPECT_FALSE(mem->Write(kBase, data.data(), 4).ok());
  EXPECT_EQ(mem->WriteIgnoringProt(kBase + kPageSize - 8, data.data(), 16), 16u);
  EXPECT_EQ(mem->WriteIgnoringProt(kBase + 2 * kPageSize - 8, data.data(), 16), 8u);
  EXPECT_EQ(mem->WriteIgnoringProt(kBase + 2 * kPageSize, data.data(), 16), 0u);
  std::vector<uint8_t> got(16);
  EXPECT_EQ(mem->ReadIgnoringProt(kBase + kPageSize - 8, got.data(), 16), 16u);
  EXPECT_EQ(0, memcmp(got.data(), data.data(), 16));
  EXPECT_EQ(mem->ReadIgnoringProt(kBase + 2 * kPageSize - 8, got.data(), 16), 8u);
  EXPECT_EQ(0, memcmp(got.data(), data.data(), 8));
  EXPECT_EQ(mem->ReadIgnoringProt(kBase - 8, got.data(), 16), 0u);
}

TEST(GuestMemoryTest, EngineMirrorsTheRegions) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, 4 * kPageSize, kRw, RegionKind::kData, "d").ok());
  const uint64_t gpa = mem->Regions()[0].gpa;
  FakeEngine engine;
  ASSERT_TRUE(mem->AttachEngine(&engine).ok());
  EXPECT_EQ(mem->AttachEngine(&engine).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(mem->Protect(kBase + kPageSize, kPageSize, kProtRead).ok());
  ASSERT_TRUE(mem->Unmap(kBase + 2 * kPageSize, kPageSize).ok());
  ASSERT_TRUE(mem->Unmap(kBase, 2 * kPageSize).ok());
  ASSERT_TRUE(mem->Map(0x20000000, kPageSize, kProtRead, RegionKind::kMmap, "m").ok());
  EXPECT_THAT(engine.calls, ::testing::ElementsAre(absl::StrFormat("map 10000000 4000 %x 3", gpa),
                                                   "protect 10001000 1000 1", "unmap 10002000 1000",
                                                   "unmap 10000000 1000", "unmap 10001000 1000",
                                                   absl::StrFormat("map 20000000 1000 %x 1", gpa)));
}

TEST(GuestMemoryTest, ConcurrentReadersAndMappers) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem->Map(kBase, kPageSize, kRw, RegionKind::kData, "shared").ok());
  std::thread mapper([&] {
    for (int i = 0; i < 500; ++i) {
      const uint64_t gva = 0x40000000 + (i % 16) * kPageSize;
      ASSERT_TRUE(mem->Map(gva, kPageSize, kRw, RegionKind::kMmap, "m").ok());
      ASSERT_TRUE(mem->Unmap(gva, kPageSize).ok());
    }
  });
  for (int i = 0; i < 2000; ++i) {
    uint64_t v = i;
    ASSERT_TRUE(mem->Write(kBase + 8 * (i % 64), &v, sizeof(v)).ok());
    ASSERT_TRUE(mem->Read(kBase + 8 * (i % 64), &v, sizeof(v)).ok());
    ASSERT_EQ(v, static_cast<uint64_t>(i));
  }
  mapper.join();
}

}  // namespace
}  // namespace km
