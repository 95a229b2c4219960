#include "agent/rsp/packets/extended.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agent::rsp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ExtendedPacketsTest, VRunNamesProgramAndArguments) {
  // vRun;/bin/prog;a b;"" as gdb hex-encodes them.
  absl::StatusOr<RunRequest> run = ParseVRun("vRun;2f62696e2f70726f67;612062;");
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->program, "/bin/prog");
  EXPECT_THAT(run->args, ElementsAre("a b", ""));
}

TEST(ExtendedPacketsTest, VRunWithoutProgramMeansTheLastOne) {
  absl::StatusOr<RunRequest> run = ParseVRun("vRun;");
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->program, "");
  EXPECT_TRUE(run->args.empty());
}

TEST(ExtendedPacketsTest, VRunRejectsBadHex) {
  EXPECT_FALSE(ParseVRun("vRun;2f6").ok());
  EXPECT_FALSE(ParseVRun("vRun;zz").ok());
  EXPECT_FALSE(ParseVRun("vRunx").ok());
}

TEST(ExtendedPacketsTest, VAttach) {
  absl::StatusOr<int> pid = ParseVAttach("vAttach;3e8");
  ASSERT_TRUE(pid.ok());
  EXPECT_EQ(*pid, 1000);
  EXPECT_FALSE(ParseVAttach("vAttach;").ok());
  EXPECT_FALSE(ParseVAttach("vAttach;0").ok());
  EXPECT_FALSE(ParseVAttach("vAttach;ffffffffff").ok());
}

TEST(ExtendedPacketsTest, EnvironmentPackets) {
  // FOO=bar=baz: the value keeps its own '='.
  absl::StatusOr<EnvironmentSetting> set = ParseEnvironmentSet("QEnvironmentHexEncoded:464f4f3d6261723d62617a");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->name, "FOO");
  EXPECT_EQ(set->value, "bar=baz");
  EXPECT_FALSE(ParseEnvironmentSet("QEnvironmentHexEncoded:464f4f").ok());  // no '='
  absl::StatusOr<std::string> unset = ParseEnvironmentUnset("QEnvironmentUnset:464f4f");
  ASSERT_TRUE(unset.ok());
  EXPECT_EQ(*unset, "FOO");
  EXPECT_FALSE(ParseEnvironmentUnset("QEnvironmentUnset:").ok());
}

TEST(ExtendedPacketsTest, ProcessesOsdataEscapesCommands) {
  const std::string xml = ProcessesOsdata({{42, "me", "km --accel=tcg prog <a&b>"}});
  EXPECT_THAT(xml, HasSubstr("<osdata type=\"processes\">"));
  EXPECT_THAT(xml, HasSubstr("<column name=\"pid\">42</column>"));
  EXPECT_THAT(xml, HasSubstr("<column name=\"command\">km --accel=tcg prog &lt;a&amp;b&gt;</column>"));
}

}  // namespace
}  // namespace agent::rsp
