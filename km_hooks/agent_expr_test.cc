#include "km_hooks/agent_expr.h"

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace km_hooks {
namespace {

// A register file and one mapped page, standing in for a stopped vCPU.
class FakeGuest {
 public:
  static constexpr uint64_t kPage = 0x10000;

  FakeGuest() : page_(4096, '\0') {}

  std::map<int, uint64_t> regs;
  void Put(uint64_t addr, const void* src, size_t len) {
    memcpy(page_.data() + (addr - kPage), src, len);
  }

  absl::StatusOr<uint64_t> Eval(const std::vector<uint8_t>& code) {
    return Evaluate<uint64_t>(code, EvalAgentExpr);
  }
  absl::StatusOr<std::string> Run(const std::vector<uint8_t>& code) {
    return Evaluate<std::string>(code, RunAgentCommand);
  }

 private:
  template <typename T, typename F>
  absl::StatusOr<T> Evaluate(const std::vector<uint8_t>& code, F f) {
    const std::string bytes(code.begin(), code.end());
    auto reg = [this](int n) -> std::optional<uint64_t> {
      auto it = regs.find(n);
      if (it == regs.end()) return std::nullopt;
      return it->second;
    };
    auto read = [this](uint64_t addr, void* dst, size_t len) {
      if (addr < kPage || addr + len > kPage + page_.size()) return false;
      memcpy(dst, page_.data() + (addr - kPage), len);
      return true;
    };
    return f(bytes, AgentExprEnv{reg, read});
  }

  std::string page_;
};

// Opcodes (gdb's ax.def).
constexpr uint8_t kAdd = 0x02, kSub = 0x03, kMul = 0x04, kDivS = 0x05, kDivU = 0x06,
                  kRemS = 0x07, kLsh = 0x09, kRshS = 0x0a, kRshU = 0x0b, kTrace = 0x0c,
                  kLogNot = 0x0e, kBitAnd = 0x0f, kBitNot = 0x12, kEqual = 0x13,
                  kLessS = 0x14, kLessU = 0x15, kExt = 0x16, kRef8 = 0x17, kRef16 = 0x18,
                  kRef32 = 0x19, kRef64 = 0x1a, kIfGoto = 0x20, kGoto = 0x21, kConst8 = 0x22,
                  kConst16 = 0x23, kConst32 = 0x24, kConst64 = 0x25, kReg = 0x26, kEnd = 0x27,
                  kDup = 0x28, kPop = 0x29, kZeroExt = 0x2a, kSwap = 0x2b, kGetv = 0x2c,
                  kTracev = 0x2e, kPick = 0x32, kRot = 0x33, kPrintf = 0x34, kFloat = 0x01;

TEST(AgentExprTest, LocalVariableEqualsConstant) {
  // What gdb sends for `i == 9000` with i an int at -20(%rbp).
  FakeGuest g;
  g.regs[6] = FakeGuest::kPage + 0x100;
  const int32_t i = 9000;
  g.Put(FakeGuest::kPage + 0x100 - 20, &i, 4);
  const std::vector<uint8_t> code = {kReg, 0, 6, kConst8, 20, kSub, kRef32, kExt, 32,
                                     kConst16, 0x23, 0x28, kEqual, kEnd};
  EXPECT_EQ(*g.Eval(code), 1u);
  const int32_t other = 8999;
  g.Put(FakeGuest::kPage + 0x100 - 20, &other, 4);
  EXPECT_EQ(*g.Eval(code), 0u);
}

TEST(AgentExprTest, ConstantsAreBigEndianAndZeroExtended) {
  FakeGuest g;
  EXPECT_EQ(*g.Eval({kConst8, 0xff, kEnd}), 0xffu);
  EXPECT_EQ(*g.Eval({kConst16, 0x12, 0x34, kEnd}), 0x1234u);
  EXPECT_EQ(*g.Eval({kConst32, 0x12, 0x34, 0x56, 0x78, kEnd}), 0x12345678u);
  EXPECT_EQ(*g.Eval({kConst64, 1, 2, 3, 4, 5, 6, 7, 8, kEnd}), 0x0102030405060708u);
}

TEST(AgentExprTest, Arithmetic) {
  FakeGuest g;
  EXPECT_EQ(*g.Eval({kConst8, 7, kConst8, 5, kSub, kEnd}), 2u);
  EXPECT_EQ(*g.Eval({kConst8, 5, kConst8, 7, kSub, kEnd}), uint64_t(-2));
  EXPECT_EQ(*g.Eval({kConst8, 6, kConst8, 7, kMul, kConst8, 1, kAdd, kEnd}), 43u);
  // -7 / 2 == -3 and -7 % 2 == -1 signed; unsigned division sees a huge number.
  EXPECT_EQ(*g.Eval({kConst8, 7, kExt, 4, kConst8, 2, kDivS, kEnd}), 3u);
  EXPECT_EQ(*g.Eval({kConst8, 0xf9, kExt, 8, kConst8, 2, kDivS, kEnd}), uint64_t(-3));
  EXPECT_EQ(*g.Eval({kConst8, 0xf9, kExt, 8, kConst8, 2, kRemS, kEnd}), uint64_t(-1));
  EXPECT_EQ(*g.Eval({kConst8, 0xf9, kExt, 8, kConst8, 2, kDivU, kEnd}), uint64_t(-7) / 2);
  EXPECT_EQ(*g.Eval({kConst8, 1, kConst8, 63, kLsh, kEnd}), 1ull << 63);
  EXPECT_EQ(*g.Eval({kConst8, 1, kConst8, 64, kLsh, kEnd}), 0u);
  EXPECT_EQ(*g.Eval({kConst8, 0x80, kExt, 8, kConst8, 4, kRshS, kEnd}), uint64_t(-8));
  EXPECT_EQ(*g.Eval({kConst8, 0x80, kExt, 8, kConst8, 60, kRshU, kEnd}), 0xfu);
  EXPECT_EQ(*g.Eval({kConst8, 0xf0, kConst8, 0x3c, kBitAnd, kEnd}), 0x30u);
  EXPECT_EQ(*g.Eval({kConst8, 0, kBitNot, kEnd}), ~0ull);
  EXPECT_EQ(*g.Eval({kConst8, 0, kLogNot, kEnd}), 1u);
  EXPECT_EQ(*g.Eval({kConst8, 9, kLogNot, kEnd}), 0u);
}

TEST(AgentExprTest, DivisionByZeroIsAnError) {
  FakeGuest g;
  EXPECT_FALSE(g.Eval({kConst8, 1, kConst8, 0, kDivS, kEnd}).ok());
  EXPECT_FALSE(g.Eval({kConst8, 1, kConst8, 0, kDivU, kEnd}).ok());
}

TEST(AgentExprTest, SignedMinimumDividedByMinusOneWraps) {
  FakeGuest g;
  const uint8_t m1[] = {kConst8, 0xff, kExt, 8};
  std::vector<uint8_t> code = {kConst64, 0x80, 0, 0, 0, 0, 0, 0, 0};
  code.insert(code.end(), std::begin(m1), std::end(m1));
  code.push_back(kDivS);
  code.push_back(kEnd);
  EXPECT_EQ(*g.Eval(code), 1ull << 63);
}

TEST(AgentExprTest, ComparisonsSignedAndUnsigned) {
  FakeGuest g;
  // -1 < 1 signed, not unsigned.
  EXPECT_EQ(*g.Eval({kConst8, 0xff, kExt, 8, kConst8, 1, kLessS, kEnd}), 1u);
  EXPECT_EQ(*g.Eval({kConst8, 0xff, kExt, 8, kConst8, 1, kLessU, kEnd}), 0u);
  EXPECT_EQ(*g.Eval({kConst8, 3, kConst8, 3, kEqual, kEnd}), 1u);
}

TEST(AgentExprTest, ExtendAndTruncate) {
  FakeGuest g;
  EXPECT_EQ(*g.Eval({kConst16, 0x01, 0x80, kExt, 8, kEnd}), uint64_t(-128));
  EXPECT_EQ(*g.Eval({kConst16, 0x01, 0x7f, kExt, 8, kEnd}), 0x7fu);
  EXPECT_EQ(*g.Eval({kConst16, 0x12, 0x34, kZeroExt, 8, kEnd}), 0x34u);
  EXPECT_EQ(*g.Eval({kConst16, 0x12, 0x34, kZeroExt, 64, kEnd}), 0x1234u);
}

TEST(AgentExprTest, MemoryReadsAreLittleEndianAndUnmappedIsAnError) {
  FakeGuest g;
  const uint64_t v = 0x1122334455667788;
  g.Put(FakeGuest::kPage + 8, &v, 8);
  auto at = [](uint8_t ref, uint64_t addr) {
    std::vector<uint8_t> code = {kConst64};
    for (int i = 7; i >= 0; --i) code.push_back(static_cast<uint8_t>(addr >> (8 * i)));
    code.push_back(ref);
    code.push_back(kEnd);
    return code;
  };
  EXPECT_EQ(*g.Eval(at(kRef8, FakeGuest::kPage + 8)), 0x88u);
  EXPECT_EQ(*g.Eval(at(kRef16, FakeGuest::kPage + 8)), 0x7788u);
  EXPECT_EQ(*g.Eval(at(kRef32, FakeGuest::kPage + 8)), 0x55667788u);
  EXPECT_EQ(*g.Eval(at(kRef64, FakeGuest::kPage + 8)), v);
  absl::StatusOr<uint64_t> bad = g.Eval(at(kRef32, 0x10));
  EXPECT_TRUE(absl::IsFailedPrecondition(bad.status())) << bad.status();
  // A read straddling the end of the mapping is unmapped too.
  EXPECT_FALSE(g.Eval(at(kRef64, FakeGuest::kPage + 4096 - 4)).ok());
}

TEST(AgentExprTest, RegistersKmDoesNotOfferAreAnError) {
  FakeGuest g;
  g.regs[16] = 0x401000;
  EXPECT_EQ(*g.Eval({kReg, 0, 16, kEnd}), 0x401000u);
  EXPECT_TRUE(absl::IsUnimplemented(g.Eval({kReg, 0, 40, kEnd}).status()));
}

TEST(AgentExprTest, BranchesAndLoops) {
  FakeGuest g;
  // if (0) 1 else 2; if_goto pops its condition.
  const std::vector<uint8_t> code = {kConst8, 0, kIfGoto, 0, 10, kConst8, 2, kGoto, 0, 12,
                                     kConst8, 1, kEnd};
  EXPECT_EQ(*g.Eval(code), 2u);
  std::vector<uint8_t> taken = code;
  taken[1] = 1;
  EXPECT_EQ(*g.Eval(taken), 1u);
  // Sum 1..10 with a counted loop: stack holds sum, n.
  const std::vector<uint8_t> loop = {
      kConst8, 0, kConst8, 10,                       // 0: sum n
      kDup, kLogNot, kIfGoto, 0, 19,                 // 4: n == 0 -> done
      kDup, kRot, kAdd, kSwap,                       // 9: n sum+n ... (see below)
      kConst8, 1, kSub, kGoto, 0, 4,                 // 13: n-1, loop
      kPop, kEnd};                                   // 19: drop n, sum on top
  // rot turns (sum n n) into (n sum n); add gives (n sum+n); swap gives (sum+n n).
  EXPECT_EQ(*g.Eval(loop), 55u);
}

TEST(AgentExprTest, InfiniteLoopGivesUp) {
  FakeGuest g;
  absl::StatusOr<uint64_t> r = g.Eval({kGoto, 0, 0});
  EXPECT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
}

TEST(AgentExprTest, StackIsBounded) {
  FakeGuest g;
  absl::StatusOr<uint64_t> r = g.Eval({kConst8, 1, kGoto, 0, 0});
  EXPECT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
  EXPECT_FALSE(g.Eval({kAdd, kEnd}).ok());
  EXPECT_FALSE(g.Eval({kEnd}).ok());
  EXPECT_FALSE(g.Eval({kConst8, 1, kPick, 1, kEnd}).ok());
}

TEST(AgentExprTest, StackShuffles) {
  FakeGuest g;
  EXPECT_EQ(*g.Eval({kConst8, 1, kConst8, 2, kSwap, kEnd}), 1u);
  EXPECT_EQ(*g.Eval({kConst8, 1, kConst8, 2, kPick, 1, kEnd}), 1u);
  EXPECT_EQ(*g.Eval({kConst8, 1, kConst8, 2, kPick, 0, kEnd}), 2u);
  // a b c => c a b
  EXPECT_EQ(*g.Eval({kConst8, 1, kConst8, 2, kConst8, 3, kRot, kEnd}), 2u);
  EXPECT_EQ(*g.Eval({kConst8, 1, kConst8, 2, kConst8, 3, kRot, kPop, kEnd}), 1u);
  EXPECT_EQ(*g.Eval({kConst8, 1, kConst8, 2, kConst8, 3, kRot, kPop, kPop, kEnd}), 3u);
}

TEST(AgentExprTest, TraceBytecodesOnlyKeepTheirStackEffect) {
  FakeGuest g;
  EXPECT_EQ(*g.Eval({kConst8, 5, kConst8, 1, kConst8, 2, kTrace, kTracev, 0, 1, kEnd}), 5u);
}

TEST(AgentExprTest, WhatKmDoesNotEvaluateIsAnError) {
  FakeGuest g;
  EXPECT_TRUE(absl::IsUnimplemented(g.Eval({kFloat, kConst8, 1, kEnd}).status()));
  EXPECT_TRUE(absl::IsUnimplemented(g.Eval({kGetv, 0, 1, kEnd}).status()));
  EXPECT_TRUE(absl::IsUnimplemented(g.Eval({kPrintf, 0, 0, 2, 'h', 'i', kEnd}).status()));
}

TEST(AgentExprTest, ACommandPrintsWhatGdbsDprintfAsks) {
  // gdb 13's bytecode for `dprintf visit,"i=%d\n", i` with `set dprintf-style agent`, as sent to
  // gdbserver: i at the frame base (rbp + 16) - 20, the function and channel (0, 0), printf of
  // one argument with the format as written, escapes and all.
  FakeGuest g;
  g.regs[6] = FakeGuest::kPage + 0x100;
  const int32_t i = -7;
  g.Put(FakeGuest::kPage + 0x100 + 16 - 20, &i, 4);
  const std::vector<uint8_t> code = {
      kReg, 0x00, 0x06, kConst8, 0x10, kAdd, kConst8, 0xec, kExt, 0x08, kAdd, kRef32, kExt, 0x20,
      kConst8, 0x00, kConst8, 0x00, kPrintf, 0x01, 0x00, 0x07,
      'i', '=', '%', 'd', '\\', 'n', 0x00, kEnd};
  ASSERT_TRUE(ValidateAgentExpr(std::string(code.begin(), code.end())).ok());
  absl::StatusOr<std::string> out = g.Run(code);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "i=-7\n");
}

TEST(AgentExprTest, ACommandsPrintfsAddUpAndItsArgumentsComeFirstOnTop) {
  FakeGuest g;
  // printf("%d-%d", 1, 2): gdb pushes the last argument first.
  const std::vector<uint8_t> code = {kConst8, 2, kConst8, 1, kConst8, 0, kConst8, 0,
                                     kPrintf, 2, 0, 6, '%', 'd', '-', '%', 'd', 0,
                                     kConst8, 0, kConst8, 0, kPrintf, 0, 0, 2, '!', 0, kEnd};
  EXPECT_EQ(*g.Run(code), "1-2!");
}

TEST(AgentExprTest, ACommandsBadPrintfIsAnError) {
  FakeGuest g;
  // Missing arguments on the stack, a format without its NUL, a %s into unmapped memory.
  EXPECT_FALSE(g.Run({kConst8, 0, kConst8, 0, kPrintf, 1, 0, 3, '%', 'd', 0, kEnd}).ok());
  EXPECT_FALSE(g.Run({kConst8, 0, kConst8, 0, kPrintf, 0, 0, 2, 'h', 'i', kEnd}).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      g.Run({kConst8, 8, kConst8, 0, kConst8, 0, kPrintf, 1, 0, 3, '%', 's', 0, kEnd})
          .status()));
}

std::string Bytes(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

TEST(AgentExprTest, ValidationCatchesMalformedCode) {
  EXPECT_TRUE(ValidateAgentExpr(Bytes({kConst8, 1, kEnd})).ok());
  EXPECT_TRUE(ValidateAgentExpr(Bytes({kPrintf, 0, 0, 2, 'h', 'i', kEnd})).ok());
  EXPECT_FALSE(ValidateAgentExpr("").ok());
  EXPECT_FALSE(ValidateAgentExpr(Bytes({0x31, kEnd})).ok());     // invalid2
  EXPECT_FALSE(ValidateAgentExpr(Bytes({0x00})).ok());
  EXPECT_FALSE(ValidateAgentExpr(Bytes({0x35})).ok());
  EXPECT_FALSE(ValidateAgentExpr(Bytes({kConst32, 1, 2})).ok());  // truncated operand
  EXPECT_FALSE(ValidateAgentExpr(Bytes({kGoto, 0, 3})).ok());     // past the end
  EXPECT_FALSE(ValidateAgentExpr(Bytes({kConst8, 1, kExt, 0, kEnd})).ok());
  EXPECT_FALSE(ValidateAgentExpr(Bytes({kPrintf, 0, 0, 9, 'h'})).ok());
  EXPECT_FALSE(ValidateAgentExpr(std::string(kMaxAgentExprBytes + 1, char(kDup))).ok());
}

TEST(AgentExprTest, RunningPastTheEndIsAnError) {
  FakeGuest g;
  EXPECT_FALSE(g.Eval({kConst8, 1}).ok());
  // A jump into the middle of an operand decodes whatever is there, still bounded.
  EXPECT_FALSE(g.Eval({kGoto, 0, 2, kConst8}).ok());
}

}  // namespace
}  // namespace km_hooks
