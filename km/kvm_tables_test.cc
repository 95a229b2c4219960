// The kvm engine's page-table restrictions (how its watchpoints take rights away from a page)
// and its instruction access table. Neither touches /dev/kvm, so these run on every machine;
// the watchpoints themselves are tested end to end in engine_test on kvm.
#include <cstdlib>
#include <memory>

#include "gtest/gtest.h"
#include "km/engine_kvm_internal.h"

namespace km::kvm {
namespace {

constexpr uint64_t kPfRead = 0;
constexpr uint64_t kPoolPages = 32;
constexpr uint64_t kDataGpa = 40 * kPage;
constexpr uint64_t kGva = 0x400000;

class KvmTablesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = static_cast<uint8_t*>(std::aligned_alloc(kPage, 64 * kPage));
    pool_ = std::make_unique<PagePool>(host_, 0, kPoolPages * kPage);
    tables_ = std::make_unique<PageTables>(*pool_);
    ASSERT_TRUE(tables_->Init().ok());
  }
  void TearDown() override { std::free(host_); }

  uint8_t* host_ = nullptr;
  std::unique_ptr<PagePool> pool_;
  std::unique_ptr<PageTables> tables_;
};

TEST_F(KvmTablesTest, NoWriteTakesWritesAwayAndGivesThemBack) {
  ASSERT_TRUE(tables_->Map(kGva, 2 * kPage, kDataGpa, kProtRead | kProtWrite, true).ok());
  bool restricted = false;
  tables_->Restrict(kGva, PageRestriction::kNoWrite, &restricted);
  EXPECT_TRUE(restricted);
  EXPECT_FALSE(tables_->UserAccessAllowed(kGva + 8, kPfWrite));
  EXPECT_TRUE(tables_->UserAccessAllowed(kGva + 8, kPfRead));
  EXPECT_TRUE(tables_->RestrictionFault(kGva + 8, kPfWrite));
  // The next page is not watched.
  EXPECT_TRUE(tables_->UserAccessAllowed(kGva + kPage, kPfWrite));
  EXPECT_FALSE(tables_->RestrictionFault(kGva + kPage, kPfWrite));

  restricted = false;
  tables_->Restrict(kGva, PageRestriction::kNone, &restricted);
  EXPECT_FALSE(restricted);  // widening needs no TLB shootdown
  EXPECT_TRUE(tables_->UserAccessAllowed(kGva + 8, kPfWrite));
  EXPECT_FALSE(tables_->RestrictionFault(kGva + 8, kPfWrite));
}

TEST_F(KvmTablesTest, NoAccessFaultsReadsButOnlyWhatTheMappingAllows) {
  ASSERT_TRUE(tables_->Map(kGva, kPage, kDataGpa, kProtRead, true).ok());
  bool restricted = false;
  tables_->Restrict(kGva, PageRestriction::kNoAccess, &restricted);
  EXPECT_TRUE(restricted);
  EXPECT_FALSE(tables_->UserAccessAllowed(kGva, kPfRead));
  EXPECT_TRUE(tables_->RestrictionFault(kGva, kPfRead));
  // A write to a read-only mapping is the payload's own fault, watched or not.
  EXPECT_FALSE(tables_->RestrictionFault(kGva, kPfWrite));
}

TEST_F(KvmTablesTest, RestrictionOutlivesProtectAndRemap) {
  ASSERT_TRUE(tables_->Map(kGva, kPage, kDataGpa, kProtRead, true).ok());
  bool restricted = false;
  tables_->Restrict(kGva, PageRestriction::kNoWrite, &restricted);
  ASSERT_TRUE(tables_->Protect(kGva, kPage, kProtRead | kProtWrite, &restricted).ok());
  EXPECT_FALSE(tables_->UserAccessAllowed(kGva, kPfWrite));
  EXPECT_TRUE(tables_->RestrictionFault(kGva, kPfWrite));

  tables_->Unmap(kGva, kPage, &restricted);
  EXPECT_FALSE(tables_->RestrictionFault(kGva, kPfWrite));
  ASSERT_TRUE(tables_->Map(kGva, kPage, kDataGpa, kProtRead | kProtWrite, true).ok());
  EXPECT_FALSE(tables_->UserAccessAllowed(kGva, kPfWrite));
  EXPECT_TRUE(tables_->RestrictionFault(kGva, kPfWrite));
}

TEST_F(KvmTablesTest, UserHostFindsTheByteWhateverTheRestriction) {
  ASSERT_TRUE(tables_->Map(kGva, kPage, kDataGpa, kProtRead | kProtWrite, true).ok());
  host_[kDataGpa + 0x123] = 0x5a;
  bool restricted = false;
  tables_->Restrict(kGva, PageRestriction::kNoAccess, &restricted);
  ASSERT_NE(tables_->UserHost(kGva + 0x123), nullptr);
  EXPECT_EQ(*tables_->UserHost(kGva + 0x123), 0x5a);
  EXPECT_EQ(tables_->UserHost(kGva + kPage), nullptr);
}

struct AccessCase {
  const char* name;
  std::vector<uint8_t> insn;
  int width;
  bool reads;
};

TEST(ClassifyAccessTest, CommonFormsAndTheConservativeDefault) {
  const AccessCase cases[] = {
      {"mov [rbx+8], rax", {0x48, 0x89, 0x43, 0x08}, 8, false},
      {"mov r8, [rbx+8]", {0x4c, 0x8b, 0x43, 0x08}, 8, true},
      {"lock inc qword [rbx+8]", {0xf0, 0x48, 0xff, 0x43, 0x08}, 8, true},
      {"mov [rax], edx", {0x89, 0x10}, 4, false},
      {"mov [rax], dx", {0x66, 0x89, 0x10}, 2, false},
      {"mov [rax], dl", {0x88, 0x10}, 1, false},
      {"add [rax], edx", {0x01, 0x10}, 4, true},
      {"movzx eax, byte [rdi]", {0x0f, 0xb6, 0x07}, 1, true},
      {"movdqu xmm0, [rsi]", {0xf3, 0x0f, 0x6f, 0x06}, 16, true},
      {"movdqa [rdi], xmm0", {0x66, 0x0f, 0x7f, 0x07}, 16, false},
      {"movsd [rdi], xmm0", {0xf2, 0x0f, 0x11, 0x07}, 8, false},
      {"movss xmm0, [rdi]", {0xf3, 0x0f, 0x10, 0x07}, 4, true},
      {"push rbp", {0x55}, 8, false},
      {"rep stosq", {0xf3, 0x48, 0xab}, 8, false},
      {"vmovdqu ymm0, [rsi] (VEX: unknown)", {0xc5, 0xfe, 0x6f, 0x06}, 16, true},
      {"nothing readable", {}, 16, true},
  };
  for (const AccessCase& c : cases) {
    SCOPED_TRACE(c.name);
    const MemoryAccess a = ClassifyAccess(c.insn.data(), c.insn.size());
    EXPECT_EQ(a.width, c.width);
    EXPECT_EQ(a.reads, c.reads);
  }
}

}  // namespace
}  // namespace km::kvm
