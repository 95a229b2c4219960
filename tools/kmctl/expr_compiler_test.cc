// kmctl's conditions and dprintfs, compiled and then run by km's own evaluator (the one that
// runs them at a breakpoint hit), over registers and memory given here.
#include "tools/kmctl/expr_compiler.h"

#include <cstring>
#include <functional>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "km_hooks/agent_expr.h"

namespace kmctl {
namespace {

using ::testing::HasSubstr;

class ExprCompilerTest : public ::testing::Test {
 protected:
  ExprCompilerTest() {
    ElfSymbols syms;
    syms.addrs["counter"] = 0x1000;
    resolver_ = AddressResolver(syms, 0);
    regs_[5] = 40;                  // rdi
    regs_[4] = 0xffffffff;          // rsi: -1 as an int
    regs_[16] = 0x401000;           // rip
    const int32_t minus_two = -2;
    Store(0x1000, &minus_two, 4);
    const int32_t seven = 7;
    Store(0x1004, &seven, 4);
    const int64_t big = 1234567890123;
    Store(0x1008, &big, 8);
    Store(0x1010, "hi", 3);
  }

  void Store(uint64_t addr, const void* bytes, size_t len) {
    for (size_t i = 0; i < len; ++i) mem_[addr + i] = static_cast<const uint8_t*>(bytes)[i];
  }

  // The env refers to these: they live as long as the test.
  std::function<std::optional<uint64_t>(int)> reg_ = [this](int n) -> std::optional<uint64_t> {
    auto it = regs_.find(n);
    if (it == regs_.end()) return std::nullopt;
    return it->second;
  };
  std::function<bool(uint64_t, void*, size_t)> read_ = [this](uint64_t addr, void* dst,
                                                              size_t len) {
    for (size_t i = 0; i < len; ++i) {
      auto it = mem_.find(addr + i);
      if (it == mem_.end()) return false;
      static_cast<uint8_t*>(dst)[i] = it->second;
    }
    return true;
  };
  km_hooks::AgentExprEnv Env() { return km_hooks::AgentExprEnv{.reg = reg_, .read = read_}; }

  absl::StatusOr<int64_t> Eval(absl::string_view text) {
    absl::StatusOr<std::string> code = CompileCondition(text, resolver_);
    if (!code.ok()) return code.status();
    if (absl::Status s = km_hooks::ValidateAgentExpr(*code); !s.ok()) return s;
    absl::StatusOr<uint64_t> v = km_hooks::EvalAgentExpr(*code, Env());
    if (!v.ok()) return v.status();
    return static_cast<int64_t>(*v);
  }

  int64_t Value(absl::string_view text) {
    absl::StatusOr<int64_t> v = Eval(text);
    EXPECT_TRUE(v.ok()) << text << ": " << v.status();
    return v.ok() ? *v : -999;
  }

  std::string CompileError(absl::string_view text) {
    absl::StatusOr<std::string> code = CompileCondition(text, resolver_);
    EXPECT_FALSE(code.ok()) << text;
    return code.ok() ? "" : std::string(code.status().message());
  }

  AddressResolver resolver_;
  std::map<int, uint64_t> regs_;
  std::map<uint64_t, uint8_t> mem_;
};

TEST_F(ExprCompilerTest, ArithmeticFollowsCsPrecedence) {
  EXPECT_EQ(Value("1 + 2 * 3"), 7);
  EXPECT_EQ(Value("(1 + 2) * 3"), 9);
  EXPECT_EQ(Value("-7 / 2"), -3);
  EXPECT_EQ(Value("-7 % 3"), -1);
  EXPECT_EQ(Value("1 << 4 | 1"), 17);
  EXPECT_EQ(Value("0xf0 & 0x3c ^ 1"), 0x31);
  EXPECT_EQ(Value("~0"), -1);
  EXPECT_EQ(Value("!5 + !0"), 1);
  EXPECT_EQ(Value("'a' + 1"), 'b');
  EXPECT_EQ(Value("-16 >> 2"), -4);
}

TEST_F(ExprCompilerTest, ComparisonsAreSignedUnlessAnOperandIsUnsignedLong) {
  EXPECT_EQ(Value("-1 < 1"), 1);
  EXPECT_EQ(Value("(unsigned long)-1 > 1"), 1);
  EXPECT_EQ(Value("2 <= 2"), 1);
  EXPECT_EQ(Value("3 >= 4"), 0);
  EXPECT_EQ(Value("3 != 4"), 1);
  EXPECT_EQ(Value("3 == 4"), 0);
}

TEST_F(ExprCompilerTest, RegistersAndTheir32BitHalves) {
  EXPECT_EQ(Value("$rdi == 40"), 1);
  EXPECT_EQ(Value("$rsi"), 0xffffffff);
  EXPECT_EQ(Value("$esi"), -1);
  EXPECT_EQ(Value("(int)$rsi == -1"), 1);
  EXPECT_EQ(Value("$pc"), 0x401000);
  EXPECT_EQ(Value("$rdi > 39 && $rdi < 41"), 1);
  EXPECT_THAT(CompileError("$xyz == 1"), HasSubstr("unknown register '$xyz'"));
}

TEST_F(ExprCompilerTest, MemoryThroughTypedPointers) {
  EXPECT_EQ(Value("*(int *)0x1000"), -2);
  EXPECT_EQ(Value("*(unsigned int *)0x1000"), 0xfffffffe);
  EXPECT_EQ(Value("*(unsigned char *)0x1001"), 0xff);
  EXPECT_EQ(Value("*(char *)0x1001"), -1);
  EXPECT_EQ(Value("*(short *)0x1000"), -2);
  EXPECT_EQ(Value("*(long *)0x1008"), 1234567890123);
  // Pointer arithmetic counts elements.
  EXPECT_EQ(Value("*((int *)counter + 1)"), 7);
  EXPECT_EQ(Value("*(int *)(counter + 4)"), 7);
  EXPECT_EQ(Value("*(int *)counter == -2"), 1);
  EXPECT_EQ(Value("(int *)0x1008 - (int *)0x1000"), 2);
  EXPECT_THAT(CompileError("*0x1000"), HasSubstr("'*' needs a pointer"));
}

TEST_F(ExprCompilerTest, AndAndOrOrReadTheirRightSideOnlyWhenNeeded) {
  EXPECT_EQ(Value("0 && *(long *)0"), 0);
  EXPECT_EQ(Value("1 || *(long *)0"), 1);
  EXPECT_EQ(Value("2 && 3"), 1);
  EXPECT_EQ(Value("0 || 0"), 0);
  EXPECT_EQ(Value("0 || 1 && 1"), 1);
  EXPECT_FALSE(Eval("1 && *(long *)0").ok());
}

TEST_F(ExprCompilerTest, MistakesSayWhereAndWhat) {
  EXPECT_THAT(CompileError("1 +"), HasSubstr("ends too soon"));
  EXPECT_THAT(CompileError("(1"), HasSubstr("expected ')'"));
  EXPECT_THAT(CompileError("1 2"), HasSubstr("unexpected text after the end at column 3"));
  EXPECT_THAT(CompileError(""), HasSubstr("empty"));
  EXPECT_THAT(CompileError("1 @ 2"), HasSubstr("unexpected '@'"));
  EXPECT_THAT(CompileError("nosuch == 1"), HasSubstr("no symbol 'nosuch'"));
  EXPECT_THAT(CompileError("*(float *)counter"), HasSubstr("no symbol 'float'"));
  EXPECT_FALSE(CompileCondition("counter", AddressResolver()).ok());
}

TEST_F(ExprCompilerTest, ADprintfPrintsItsArgumentsInOrder) {
  absl::StatusOr<std::string> code = CompileDprintf(
      R"("rdi=%d big=%ld s=%s both=%d\n", $rdi, *(long *)0x1008, 0x1010, $rdi == 40 && 1)",
      resolver_);
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_TRUE(km_hooks::ValidateAgentExpr(*code).ok());
  absl::StatusOr<std::string> printed = km_hooks::RunAgentCommand(*code, Env());
  ASSERT_TRUE(printed.ok()) << printed.status();
  EXPECT_EQ(*printed, "rdi=40 big=1234567890123 s=hi both=1\n");

  absl::StatusOr<std::string> plain = CompileDprintf(R"("tab\there \"quoted\"\n")", resolver_);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*km_hooks::RunAgentCommand(*plain, Env()), "tab\there \"quoted\"\n");
}

TEST_F(ExprCompilerTest, ADprintfNeedsAFormatAndCommasBetweenArguments) {
  EXPECT_FALSE(CompileDprintf("$rdi", resolver_).ok());
  EXPECT_FALSE(CompileDprintf(R"("%d" $rdi)", resolver_).ok());
  EXPECT_FALSE(CompileDprintf(R"("%d", )", resolver_).ok());
  EXPECT_FALSE(CompileDprintf(R"("unfinished)", resolver_).ok());
  EXPECT_FALSE(CompileDprintf(R"("bad \q escape")", resolver_).ok());
}

}  // namespace
}  // namespace kmctl
