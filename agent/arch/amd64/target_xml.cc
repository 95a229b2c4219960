#include "agent/arch/amd64/target_xml.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/arch/amd64/registers.h"

namespace agent::amd64 {
namespace {

struct RegDesc {
  const char* name;
  const char* type;
  const char* group;  // nullptr: gdb's default for the type
};

// Index = gdb's register number; sizes come from RegisterSize so the two cannot disagree.
constexpr RegDesc kRegs[kCountWithAvx] = {
    {"rax", "int64", nullptr},      {"rbx", "int64", nullptr},     {"rcx", "int64", nullptr},
    {"rdx", "int64", nullptr},      {"rsi", "int64", nullptr},     {"rdi", "int64", nullptr},
    {"rbp", "data_ptr", nullptr},   {"rsp", "data_ptr", nullptr},  {"r8", "int64", nullptr},
    {"r9", "int64", nullptr},       {"r10", "int64", nullptr},     {"r11", "int64", nullptr},
    {"r12", "int64", nullptr},      {"r13", "int64", nullptr},     {"r14", "int64", nullptr},
    {"r15", "int64", nullptr},      {"rip", "code_ptr", nullptr},  {"eflags", "i386_eflags", nullptr},
    {"cs", "int32", nullptr},       {"ss", "int32", nullptr},      {"ds", "int32", nullptr},
    {"es", "int32", nullptr},       {"fs", "int32", nullptr},      {"gs", "int32", nullptr},
    {"st0", "i387_ext", nullptr},   {"st1", "i387_ext", nullptr},  {"st2", "i387_ext", nullptr},
    {"st3", "i387_ext", nullptr},   {"st4", "i387_ext", nullptr},  {"st5", "i387_ext", nullptr},
    {"st6", "i387_ext", nullptr},   {"st7", "i387_ext", nullptr},  {"fctrl", "int", "float"},
    {"fstat", "int", "float"},      {"ftag", "int", "float"},      {"fiseg", "int", "float"},
    {"fioff", "int", "float"},      {"foseg", "int", "float"},     {"fooff", "int", "float"},
    {"fop", "int", "float"},        {"xmm0", "vec128", nullptr},   {"xmm1", "vec128", nullptr},
    {"xmm2", "vec128", nullptr},    {"xmm3", "vec128", nullptr},   {"xmm4", "vec128", nullptr},
    {"xmm5", "vec128", nullptr},    {"xmm6", "vec128", nullptr},   {"xmm7", "vec128", nullptr},
    {"xmm8", "vec128", nullptr},    {"xmm9", "vec128", nullptr},   {"xmm10", "vec128", nullptr},
    {"xmm11", "vec128", nullptr},   {"xmm12", "vec128", nullptr},  {"xmm13", "vec128", nullptr},
    {"xmm14", "vec128", nullptr},   {"xmm15", "vec128", nullptr},  {"mxcsr", "i386_mxcsr", "vector"},
    {"orig_rax", "int", nullptr},   {"fs_base", "int", nullptr},   {"gs_base", "int", nullptr},
    {"ymm0h", "uint128", nullptr},  {"ymm1h", "uint128", nullptr}, {"ymm2h", "uint128", nullptr},
    {"ymm3h", "uint128", nullptr},  {"ymm4h", "uint128", nullptr}, {"ymm5h", "uint128", nullptr},
    {"ymm6h", "uint128", nullptr},  {"ymm7h", "uint128", nullptr}, {"ymm8h", "uint128", nullptr},
    {"ymm9h", "uint128", nullptr},  {"ymm10h", "uint128", nullptr}, {"ymm11h", "uint128", nullptr},
    {"ymm12h", "uint128", nullptr}, {"ymm13h", "uint128", nullptr}, {"ymm14h", "uint128", nullptr},
    {"ymm15h", "uint128", nullptr},
};

constexpr char kEflagsType[] = R"(  <flags id="i386_eflags" size="4">
    <field name="CF" start="0" end="0"/>
    <field name="" start="1" end="1"/>
    <field name="PF" start="2" end="2"/>
    <field name="AF" start="4" end="4"/>
    <field name="ZF" start="6" end="6"/>
    <field name="SF" start="7" end="7"/>
    <field name="TF" start="8" end="8"/>
    <field name="IF" start="9" end="9"/>
    <field name="DF" start="10" end="10"/>
    <field name="OF" start="11" end="11"/>
    <field name="NT" start="14" end="14"/>
    <field name="RF" start="16" end="16"/>
    <field name="VM" start="17" end="17"/>
    <field name="AC" start="18" end="18"/>
    <field name="VIF" start="19" end="19"/>
    <field name="VIP" start="20" end="20"/>
    <field name="ID" start="21" end="21"/>
  </flags>
)";

constexpr char kSseTypes[] = R"(  <vector id="v8bf16" type="bfloat16" count="8"/>
  <vector id="v8h" type="ieee_half" count="8"/>
  <vector id="v4f" type="ieee_single" count="4"/>
  <vector id="v2d" type="ieee_double" count="2"/>
  <vector id="v16i8" type="int8" count="16"/>
  <vector id="v8i16" type="int16" count="8"/>
  <vector id="v4i32" type="int32" count="4"/>
  <vector id="v2i64" type="int64" count="2"/>
  <union id="vec128">
    <field name="v8_bfloat16" type="v8bf16"/>
    <field name="v8_half" type="v8h"/>
    <field name="v4_float" type="v4f"/>
    <field name="v2_double" type="v2d"/>
    <field name="v16_int8" type="v16i8"/>
    <field name="v8_int16" type="v8i16"/>
    <field name="v4_int32" type="v4i32"/>
    <field name="v2_int64" type="v2i64"/>
    <field name="uint128" type="uint128"/>
  </union>
  <flags id="i386_mxcsr" size="4">
    <field name="IE" start="0" end="0"/>
    <field name="DE" start="1" end="1"/>
    <field name="ZE" start="2" end="2"/>
    <field name="OE" start="3" end="3"/>
    <field name="UE" start="4" end="4"/>
    <field name="PE" start="5" end="5"/>
    <field name="DAZ" start="6" end="6"/>
    <field name="IM" start="7" end="7"/>
    <field name="DM" start="8" end="8"/>
    <field name="ZM" start="9" end="9"/>
    <field name="OM" start="10" end="10"/>
    <field name="UM" start="11" end="11"/>
    <field name="PM" start="12" end="12"/>
    <field name="FZ" start="15" end="15"/>
  </flags>
)";

// One <feature> holding registers [first, last) with their type definitions before them.
// Every register carries its number, so gdb's numbering is ours whatever it infers.
std::string Feature(const char* name, const char* types, int first, int last) {
  std::string out = absl::StrFormat("<feature name=\"%s\">\n%s", name, types);
  for (int regnum = first; regnum < last; ++regnum) {
    const RegDesc& r = kRegs[regnum];
    absl::StrAppendFormat(&out, "  <reg name=\"%s\" bitsize=\"%d\" type=\"%s\" regnum=\"%d\"%s/>\n",
                          r.name, RegisterSize(regnum, /*avx=*/true) * 8, r.type, regnum,
                          r.group ? absl::StrFormat(" group=\"%s\"", r.group) : "");
  }
  absl::StrAppend(&out, "</feature>\n");
  return out;
}

}  // namespace

std::string TargetXml(bool avx) {
  std::string out =
      "<?xml version=\"1.0\"?>\n"
      "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
      "<target version=\"1.0\">\n"
      "<architecture>i386:x86-64</architecture>\n"
      "<osabi>GNU/Linux</osabi>\n";
  absl::StrAppend(&out, Feature("org.gnu.gdb.i386.core", kEflagsType, 0, kXmm0));
  absl::StrAppend(&out, Feature("org.gnu.gdb.i386.sse", kSseTypes, kXmm0, kOrigRax));
  absl::StrAppend(&out, Feature("org.gnu.gdb.i386.linux", "", kOrigRax, kFsBase));
  absl::StrAppend(&out, Feature("org.gnu.gdb.i386.segments", "", kFsBase, kYmm0h));
  if (avx) absl::StrAppend(&out, Feature("org.gnu.gdb.i386.avx", "", kYmm0h, kCountWithAvx));
  absl::StrAppend(&out, "</target>\n");
  return out;
}

}  // namespace agent::amd64
