#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "gtest/gtest.h"
#include "km/runtime/command_line.h"
#include "km/runtime/flag_types.h"

ABSL_FLAG(std::string, test_value_flag, "", "a flag that takes a value");
ABSL_FLAG(bool, test_bool_flag, false, "a bool flag");

namespace km {
namespace {

TEST(MemorySizeTest, Parses) {
  EXPECT_EQ(*ParseMemorySize("512M"), 512ull << 20);
  EXPECT_EQ(*ParseMemorySize("2G"), 2ull << 30);
  EXPECT_EQ(*ParseMemorySize("2g"), 2ull << 30);
  EXPECT_EQ(*ParseMemorySize("65536K"), 64ull << 20);
  EXPECT_EQ(*ParseMemorySize("1T"), 1ull << 40);
  EXPECT_EQ(*ParseMemorySize("134217728"), 128ull << 20);
}

TEST(MemorySizeTest, Rejects) {
  for (const char* bad : {"", "M", "12X", "-1G", "+1G", "1.5G", "2T", "1M", "1000000001",
                          "99999999999999999999G"}) {
    EXPECT_FALSE(ParseMemorySize(bad).ok()) << bad;
  }
}

TEST(AccelFlagTest, ParsesAndUnparses) {
  Accel a;
  std::string error;
  ASSERT_TRUE(AbslParseFlag("tcg", &a, &error));
  EXPECT_EQ(a, Accel::kTcg);
  ASSERT_TRUE(AbslParseFlag("kvm", &a, &error));
  EXPECT_EQ(AbslUnparseFlag(a), "kvm");
  EXPECT_FALSE(AbslParseFlag("qemu", &a, &error));
  EXPECT_NE(error.find("qemu"), std::string::npos);
}

std::vector<std::string> KmArgs(const SplitArgs& s) {
  return std::vector<std::string>(s.km_args.begin(), s.km_args.end());
}

SplitArgs Split(std::vector<std::string> args) {
  static std::vector<std::string> storage;
  storage = std::move(args);
  static std::vector<char*> argv;
  argv.clear();
  for (std::string& a : storage) argv.push_back(a.data());
  return SplitCommandLine(static_cast<int>(argv.size()), argv.data());
}

TEST(CommandLineTest, PayloadFlagsAreNotKms) {
  SplitArgs s = Split({"km", "--test_bool_flag", "prog", "--test_bool_flag", "x"});
  EXPECT_EQ(KmArgs(s), (std::vector<std::string>{"km", "--test_bool_flag"}));
  EXPECT_EQ(s.payload_argv, (std::vector<std::string>{"prog", "--test_bool_flag", "x"}));
}

TEST(CommandLineTest, SeparateFlagValues) {
  SplitArgs s = Split({"km", "--test_value_flag", "v", "-test_value_flag=w", "prog"});
  EXPECT_EQ(KmArgs(s),
            (std::vector<std::string>{"km", "--test_value_flag", "v", "-test_value_flag=w"}));
  EXPECT_EQ(s.payload_argv, (std::vector<std::string>{"prog"}));
}

TEST(CommandLineTest, DashesInFlagNamesAreUnderscores) {
  SplitArgs s = Split({"km", "--test-value-flag", "a-b", "--test-bool-flag", "--test-value-flag=c-d",
                       "prog", "--x-y"});
  EXPECT_EQ(KmArgs(s), (std::vector<std::string>{"km", "--test_value_flag", "a-b",
                                                 "--test_bool_flag", "--test_value_flag=c-d"}));
  EXPECT_EQ(s.payload_argv, (std::vector<std::string>{"prog", "--x-y"}));
}

TEST(CommandLineTest, DoubleDashEndsKmsFlags) {
  SplitArgs s = Split({"km", "--", "-prog", "a"});
  EXPECT_EQ(KmArgs(s), (std::vector<std::string>{"km"}));
  EXPECT_EQ(s.payload_argv, (std::vector<std::string>{"-prog", "a"}));
}

TEST(CommandLineTest, NoPayload) {
  SplitArgs s = Split({"km", "--test_bool_flag"});
  EXPECT_TRUE(s.payload_argv.empty());
}

}  // namespace
}  // namespace km
