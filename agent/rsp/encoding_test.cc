#include "agent/rsp/encoding.h"

#include "gtest/gtest.h"

namespace agent::rsp {
namespace {

TEST(EncodingTest, ChecksumIsSumModulo256) {
  EXPECT_EQ(Checksum(""), 0);
  EXPECT_EQ(Checksum("OK"), 0x9a);
  EXPECT_EQ(Checksum("qSupported"), 0x37);
}

TEST(EncodingTest, HexRoundTrip) {
  const std::string bytes("\x00\x01\xab\xff", 4);
  EXPECT_EQ(HexEncode(bytes), "0001abff");
  EXPECT_EQ(*HexDecode("0001ABff"), bytes);
}

TEST(EncodingTest, HexDecodeRejectsOddLengthAndBadDigits) {
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

TEST(EncodingTest, ParseHexNumbers) {
  EXPECT_EQ(*ParseHex("0"), 0u);
  EXPECT_EQ(*ParseHex("7fffffffe000"), 0x7fffffffe000u);
  EXPECT_EQ(*ParseHex("ffffffffffffffff"), UINT64_MAX);
  EXPECT_FALSE(ParseHex("").ok());
  EXPECT_FALSE(ParseHex("1ffffffffffffffff").ok());  // 17 digits
  EXPECT_FALSE(ParseHex("12g").ok());
  EXPECT_EQ(*ParseSignedHex("-1"), -1);
  EXPECT_EQ(*ParseSignedHex("1f"), 31);
  EXPECT_FALSE(ParseSignedHex("-").ok());
}

TEST(EncodingTest, EscapeBinaryEscapesTheFourSpecialBytes) {
  EXPECT_EQ(EscapeBinary("a#b$c}d*e"), "a}\x03" "b}\x04" "c}]d}\x0a" "e");
  EXPECT_EQ(*UnescapeBinary(EscapeBinary(std::string("\x00#$}*\xff", 6))),
            std::string("\x00#$}*\xff", 6));
  EXPECT_FALSE(UnescapeBinary("abc}").ok());
}

TEST(EncodingTest, RunLengthDecode) {
  EXPECT_EQ(*RunLengthDecode("0* "), "0000");  // ' ' is 32: three more
  EXPECT_EQ(*RunLengthDecode("ab*\"c"), "abbbbbbc");
  EXPECT_EQ(*RunLengthDecode("plain"), "plain");
  EXPECT_FALSE(RunLengthDecode("*a").ok());
  EXPECT_FALSE(RunLengthDecode("a*").ok());
}

TEST(EncodingTest, HexLittleEndian) {
  EXPECT_EQ(HexLittleEndian(0x401000, 8), "0010400000000000");
  EXPECT_EQ(HexLittleEndian(0x246, 4), "46020000");
}

}  // namespace
}  // namespace agent::rsp
