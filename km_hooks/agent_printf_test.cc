#include "km_hooks/agent_printf.h"

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace km_hooks {
namespace {

constexpr uint64_t kBase = 0x10000;

// One mapped page of guest memory holding strings.
class FakeMemory {
 public:
  FakeMemory() : page_(4096, 'x') {}
  uint64_t Put(size_t offset, const std::string& s) {
    memcpy(page_.data() + offset, s.c_str(), s.size() + 1);
    return kBase + offset;
  }
  absl::StatusOr<std::string> Format(absl::string_view format, std::vector<uint64_t> args) {
    auto read = [this](uint64_t addr, void* dst, size_t len) {
      if (addr < kBase || addr + len > kBase + page_.size()) return false;
      memcpy(dst, page_.data() + (addr - kBase), len);
      return true;
    };
    return FormatAgentPrintf(format, args, read);
  }
  std::string page_;
};

TEST(AgentPrintfTest, IntegersTakeTheWidthTheirLengthModifierNames) {
  FakeMemory m;
  EXPECT_EQ(*m.Format("i=%d\\n", {7}), "i=7\n");
  EXPECT_EQ(*m.Format("%d %u", {uint64_t(-3), uint64_t(-3)}), "-3 4294967293");
  EXPECT_EQ(*m.Format("%ld %lu", {uint64_t(-3), 1ull << 40}), "-3 1099511627776");
  EXPECT_EQ(*m.Format("%lld %zu %jd %td", {uint64_t(-5), 9, 10, 11}), "-5 9 10 11");
  EXPECT_EQ(*m.Format("%hd %hhd %hhu", {0x18000, 0x1ff, 0x1ff}), "-32768 -1 255");
  EXPECT_EQ(*m.Format("%x %X %#lx %o", {255, 255, 0xdeadbeefcafe, 8}),
            "ff FF 0xdeadbeefcafe 10");
}

TEST(AgentPrintfTest, FlagsWidthAndPrecision) {
  FakeMemory m;
  EXPECT_EQ(*m.Format("[%5d|%-5d|%05d|%+d|% d|%.3d]", {42, 42, 42, 42, 42, 42}),
            "[   42|42   |00042|+42| 42|042]");
}

TEST(AgentPrintfTest, CharactersPointersAndPercent) {
  FakeMemory m;
  EXPECT_EQ(*m.Format("%c%c 100%%", {'o', 0x14b}), "oK 100%");
  EXPECT_EQ(*m.Format("%p %p [%-8p]", {0x401144, 0, 0x10}), "0x401144 (nil) [0x10    ]");
}

TEST(AgentPrintfTest, StringsAreReadFromTheGuest) {
  FakeMemory m;
  const uint64_t hello = m.Put(100, "hello");
  EXPECT_EQ(*m.Format("<%s> <%.3s> <%8s> <%s>", {hello, hello, hello, 0}),
            "<hello> <hel> <   hello> <(null)>");
}

TEST(AgentPrintfTest, AStringWithoutItsNulIsCutAtTheLimit) {
  FakeMemory m;
  m.page_.assign(kMaxPrintfString + 100, 'y');
  absl::StatusOr<std::string> out = m.Format("%s", {kBase});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->size(), kMaxPrintfString);
}

TEST(AgentPrintfTest, AStringInUnmappedMemoryIsAnError) {
  FakeMemory m;
  absl::StatusOr<std::string> out = m.Format("%s", {0x1000});
  EXPECT_TRUE(absl::IsFailedPrecondition(out.status())) << out.status();
  EXPECT_NE(out.status().message().find("0x1000"), std::string::npos);
  // A string that runs off the end of the mapping.
  m.page_.assign(16, 'z');
  EXPECT_TRUE(absl::IsFailedPrecondition(m.Format("%s", {kBase}).status()));
}

TEST(AgentPrintfTest, EscapesAsGdbsPrintfHasThem) {
  FakeMemory m;
  EXPECT_EQ(*m.Format("a\\tb\\\\c\\\"d\\e", {}), "a\tb\\c\"d\x1b");
  EXPECT_TRUE(absl::IsInvalidArgument(m.Format("\\q", {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(m.Format("end\\", {}).status()));
}

TEST(AgentPrintfTest, RefusesWhatItCannotPrintSafely) {
  FakeMemory m;
  for (const char* format : {"%n", "%*d", "%.*d", "%f", "%Lf", "%ls", "%lc", "%q", "%", "%5"}) {
    absl::StatusOr<std::string> out = m.Format(format, {1, 2});
    EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << format << ": " << out.status();
  }
  // Flags and precisions C leaves undefined for the conversion (gdb's printf refuses them too).
  for (const char* format : {"%#d", "%+u", "% x", "%05s", "%+c", "%.2c", "%#p", "%.3p", "%lp"}) {
    absl::StatusOr<std::string> out = m.Format(format, {1});
    EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << format << ": " << out.status();
  }
  EXPECT_TRUE(absl::IsInvalidArgument(m.Format("%1025d", {1}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(m.Format("%.99999d", {1}).status()));
  EXPECT_EQ(m.Format("%1024d", {1})->size(), 1024u);
}

TEST(AgentPrintfTest, TheArgumentsMustMatchTheDirectives) {
  FakeMemory m;
  EXPECT_TRUE(absl::IsInvalidArgument(m.Format("%d %d", {1}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(m.Format("%d", {1, 2}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(m.Format("none", {1}).status()));
}

TEST(AgentPrintfTest, OutputIsBounded) {
  FakeMemory m;
  std::string format;
  std::vector<uint64_t> args;
  for (int i = 0; i < 80; ++i) {
    format += "%1000d";
    args.push_back(i);
  }
  EXPECT_TRUE(absl::IsInvalidArgument(m.Format(format, args).status()));
}

}  // namespace
}  // namespace km_hooks
