#include "tools/kmctl/expr_compiler.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "km_hooks/agent_expr_opcodes.h"
#include "tools/kmctl/errors.h"

namespace kmctl {
namespace {

namespace op = ::km_hooks::agent_expr_op;

// A C integer type, or a pointer to one (pointee_bits > 0).
struct Type {
  int bits = 64;
  bool is_signed = true;
  int pointee_bits = 0;
  bool pointee_signed = true;

  bool pointer() const { return pointee_bits > 0; }
  bool unsigned64() const { return pointer() || (bits == 64 && !is_signed); }
};

constexpr Type kLong{};
constexpr Type kInt{32, true};

struct Register {
  int number;  // gdb's amd64 register number, as km's evaluator reads it
  Type type;
};

const std::map<std::string, Register>& Registers() {
  static const auto* const kRegisters = [] {
    auto* m = new std::map<std::string, Register>;
    const char* const gprs[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"};
    const char* const low32[] = {"eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp"};
    for (int i = 0; i < 8; ++i) {
      (*m)[gprs[i]] = {i, kLong};
      (*m)[low32[i]] = {i, kInt};
    }
    for (int i = 8; i < 16; ++i) {
      (*m)[absl::StrCat("r", i)] = {i, kLong};
      (*m)[absl::StrCat("r", i, "d")] = {i, kInt};
    }
    // gdb types these as addresses: unsigned, 64 bits.
    const Type address{64, false};
    (*m)["rip"] = (*m)["pc"] = {16, address};
    (*m)["sp"] = {7, address};
    (*m)["fp"] = {6, address};
    (*m)["eflags"] = {17, kInt};
    (*m)["fs_base"] = {58, kLong};
    (*m)["gs_base"] = {59, kLong};
    return m;
  }();
  return *kRegisters;
}

// C's integer type names, in the spellings kmctl takes.
std::optional<Type> IntegerType(absl::string_view name) {
  static const auto* const kTypes = new std::map<std::string, Type, std::less<>>{
      {"char", {8, true}},          {"signed char", {8, true}},   {"unsigned char", {8, false}},
      {"short", {16, true}},        {"unsigned short", {16, false}}, {"int", {32, true}},
      {"signed", {32, true}},       {"unsigned", {32, false}},    {"unsigned int", {32, false}},
      {"long", {64, true}},         {"unsigned long", {64, false}}, {"long long", {64, true}},
      {"unsigned long long", {64, false}}, {"int8_t", {8, true}}, {"uint8_t", {8, false}},
      {"int16_t", {16, true}},      {"uint16_t", {16, false}},    {"int32_t", {32, true}},
      {"uint32_t", {32, false}},    {"int64_t", {64, true}},      {"uint64_t", {64, false}},
      {"size_t", {64, false}},      {"ssize_t", {64, true}},      {"uintptr_t", {64, false}},
      {"intptr_t", {64, true}}};
  auto it = kTypes->find(name);
  if (it == kTypes->end()) return std::nullopt;
  return it->second;
}

bool IsTypeWord(absl::string_view word) {
  return word == "signed" || word == "unsigned" || word == "long" || word == "short" ||
         IntegerType(word).has_value();
}

enum class TokenKind { kNumber, kName, kRegister, kPunct, kString, kEnd };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;     // names, registers (without $), punctuation, a string's bytes
  uint64_t value = 0;   // numbers
  size_t at = 0;        // offset in the text, for messages
};

absl::Status Syntax(absl::string_view text, size_t at, absl::string_view what) {
  return UsageError(absl::StrFormat("expression '%s': %s at column %d", text, what, at + 1));
}

// A C escape after a backslash at text[i]; advances i past it.
absl::StatusOr<char> Escape(absl::string_view text, size_t& i) {
  if (i >= text.size()) return Syntax(text, i, "a lone backslash");
  switch (char c = text[i++]) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'a': return '\a';
    case 'e': return '\x1b';
    case '0': return '\0';
    case '\\': case '"': case '\'': return c;
    default: return Syntax(text, i - 1, absl::StrFormat("unknown escape '\\%c'", c));
  }
}

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view text) {
  static constexpr absl::string_view kTwoChar[] = {"||", "&&", "==", "!=", "<=", ">=", "<<", ">>"};
  std::vector<Token> out;
  size_t i = 0;
  auto name_char = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  };
  while (i < text.size()) {
    const char c = text[i];
    Token t;
    t.at = i;
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      size_t end = i;
      while (end < text.size() && name_char(text[end])) ++end;
      absl::StatusOr<uint64_t> n = ParseNumber("number", text.substr(i, end - i));
      if (!n.ok()) return Syntax(text, i, n.status().message());
      t.kind = TokenKind::kNumber;
      t.value = *n;
      i = end;
    } else if (c == '\'') {
      size_t j = i + 1;
      if (j >= text.size()) return Syntax(text, i, "an unfinished character");
      char ch = text[j++];
      if (ch == '\\') {
        absl::StatusOr<char> e = Escape(text, j);
        if (!e.ok()) return e.status();
        ch = *e;
      }
      if (j >= text.size() || text[j] != '\'') return Syntax(text, i, "an unfinished character");
      t.kind = TokenKind::kNumber;
      t.value = static_cast<unsigned char>(ch);
      i = j + 1;
    } else if (c == '"') {
      size_t j = i + 1;
      while (j < text.size() && text[j] != '"') {
        if (text[j] == '\\') {
          ++j;
          absl::StatusOr<char> e = Escape(text, j);
          if (!e.ok()) return e.status();
          t.text.push_back(*e);
        } else {
          t.text.push_back(text[j++]);
        }
      }
      if (j >= text.size()) return Syntax(text, i, "an unfinished string");
      t.kind = TokenKind::kString;
      i = j + 1;
    } else if (c == '$' || name_char(c)) {
      size_t end = i + (c == '$');
      while (end < text.size() && name_char(text[end])) ++end;
      t.kind = c == '$' ? TokenKind::kRegister : TokenKind::kName;
      t.text = std::string(text.substr(i + (c == '$'), end - i - (c == '$')));
      if (t.text.empty()) return Syntax(text, i, "'$' without a register name");
      i = end;
    } else {
      t.kind = TokenKind::kPunct;
      for (absl::string_view two : kTwoChar) {
        if (text.substr(i, 2) == two) t.text = std::string(two);
      }
      if (t.text.empty()) {
        if (absl::string_view("+-*/%&|^!~<>(),").find(c) == absl::string_view::npos) {
          return Syntax(text, i, absl::StrFormat("unexpected '%c'", c));
        }
        t.text = std::string(1, c);
      }
      i += t.text.size();
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.at = text.size();
  out.push_back(end);
  return out;
}

// Bytecode, written as it is parsed (operands big-endian, as gdb writes them).
class Emitter {
 public:
  void Op(uint8_t opcode) { code_.push_back(static_cast<char>(opcode)); }
  void Op(uint8_t opcode, uint64_t operand, int bytes) {
    Op(opcode);
    Operand(operand, bytes);
  }
  void Operand(uint64_t operand, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) code_.push_back(static_cast<char>(operand >> (8 * i)));
  }
  void Bytes(absl::string_view bytes) { code_.append(bytes.data(), bytes.size()); }
  void Const(uint64_t v) {
    if (v <= 0xff) return Op(op::kConst8, v, 1);
    if (v <= 0xffff) return Op(op::kConst16, v, 2);
    if (v <= 0xffffffff) return Op(op::kConst32, v, 4);
    Op(op::kConst64, v, 8);
  }
  // Makes the 64-bit value on top hold a value of type t, as C converts to it.
  void Narrow(const Type& t) {
    if (t.pointer() || t.bits >= 64) return;
    Op(t.is_signed ? op::kExt : op::kZeroExt, t.bits, 1);
  }
  // A jump whose target Land() fills in.
  size_t Jump(uint8_t opcode) {
    Op(opcode, 0, 2);
    return code_.size() - 2;
  }
  void Land(size_t operand_at) {
    const size_t target = code_.size();
    code_[operand_at] = static_cast<char>(target >> 8);
    code_[operand_at + 1] = static_cast<char>(target);
  }
  std::string& code() { return code_; }

 private:
  std::string code_;
};

class Parser {
 public:
  Parser(absl::string_view text, std::vector<Token> tokens, const AddressResolver& resolver,
         Emitter& emit)
      : text_(text), tokens_(std::move(tokens)), resolver_(resolver), emit_(emit) {}

  absl::StatusOr<Type> Expression() { return Binary(0); }

  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool TakePunct(absl::string_view p) {
    if (Peek().kind != TokenKind::kPunct || Peek().text != p) return false;
    ++pos_;
    return true;
  }
  absl::Status Error(absl::string_view what) const { return Syntax(text_, Peek().at, what); }

  // The whole of the tokens as one expression.
  absl::Status All() {
    if (Peek().kind == TokenKind::kEnd) return Error("an empty expression");
    absl::StatusOr<Type> t = Expression();
    if (!t.ok()) return t.status();
    if (Peek().kind != TokenKind::kEnd) return Error("unexpected text after the end");
    return absl::OkStatus();
  }

 private:
  // C's binary operators by precedence, loosest first.
  static constexpr int kLevels = 10;
  static bool AtLevel(absl::string_view p, int level) {
    static const std::vector<std::vector<absl::string_view>> kByLevel = {
        {"||"}, {"&&"}, {"|"}, {"^"}, {"&"}, {"==", "!="}, {"<", "<=", ">", ">="},
        {"<<", ">>"}, {"+", "-"}, {"*", "/", "%"}};
    for (absl::string_view q : kByLevel[level]) {
      if (p == q) return true;
    }
    return false;
  }

  absl::StatusOr<Type> Binary(int level) {
    if (level == kLevels) return Unary();
    if (level <= 1) return Logical(level);
    absl::StatusOr<Type> left = Binary(level + 1);
    if (!left.ok()) return left;
    while (Peek().kind == TokenKind::kPunct && AtLevel(Peek().text, level)) {
      const std::string p = Next().text;
      absl::StatusOr<Type> right = Binary(level + 1);
      if (!right.ok()) return right;
      absl::StatusOr<Type> result = Apply(p, *left, *right);
      if (!result.ok()) return result;
      left = *result;
    }
    return left;
  }

  // || and &&: the right side runs only when the left does not decide; the value is 0 or 1.
  absl::StatusOr<Type> Logical(int level) {
    const bool is_or = level == 0;
    absl::StatusOr<Type> left = Binary(level + 1);
    if (!left.ok()) return left;
    while (TakePunct(is_or ? "||" : "&&")) {
      // Normalize the left to 0/1, then: || jumps to "1" when it is true, && to "0" when false.
      if (!is_or) emit_.Op(op::kLogNot);
      const size_t decided = emit_.Jump(op::kIfGoto);
      absl::StatusOr<Type> right = Binary(level + 1);
      if (!right.ok()) return right;
      emit_.Op(op::kLogNot);
      emit_.Op(op::kLogNot);
      const size_t done = emit_.Jump(op::kGoto);
      emit_.Land(decided);
      emit_.Const(is_or ? 1 : 0);
      emit_.Land(done);
      left = kInt;
    }
    return left;
  }

  absl::StatusOr<Type> Apply(const std::string& p, Type left, Type right) {
    const bool is_unsigned =
        left.unsigned64() || right.unsigned64() || (!left.is_signed && !right.is_signed);
    Type result{64, !is_unsigned};
    if (p == "+" || p == "-") {
      // Pointer arithmetic: the integer side counts elements.
      if (left.pointer() && right.pointer()) {
        if (p == "+") return Error("two pointers cannot be added");
        emit_.Op(op::kSub);
        emit_.Const(left.pointee_bits / 8);
        emit_.Op(op::kDivSigned);
        return kLong;
      }
      if (right.pointer() && p == "-") return Error("a pointer cannot be subtracted from a number");
      const Type* pointer = left.pointer() ? &left : right.pointer() ? &right : nullptr;
      if (pointer != nullptr && pointer->pointee_bits > 8) {
        if (pointer == &right) emit_.Op(op::kSwap);
        emit_.Const(pointer->pointee_bits / 8);
        emit_.Op(op::kMul);
      }
      emit_.Op(p == "+" ? op::kAdd : op::kSub);
      return pointer != nullptr ? *pointer : result;
    }
    if (p == "*") emit_.Op(op::kMul);
    if (p == "/") emit_.Op(is_unsigned ? op::kDivUnsigned : op::kDivSigned);
    if (p == "%") emit_.Op(is_unsigned ? op::kRemUnsigned : op::kRemSigned);
    if (p == "&") emit_.Op(op::kBitAnd);
    if (p == "|") emit_.Op(op::kBitOr);
    if (p == "^") emit_.Op(op::kBitXor);
    if (p == "<<") emit_.Op(op::kLsh);
    if (p == ">>") emit_.Op(left.unsigned64() || !left.is_signed ? op::kRshUnsigned : op::kRshSigned);
    if (p == "==" || p == "!=" || p == "<" || p == "<=" || p == ">" || p == ">=") {
      const uint8_t less = is_unsigned ? op::kLessUnsigned : op::kLessSigned;
      if (p == "==" || p == "!=") emit_.Op(op::kEqual);
      // a > b is b < a; a <= b is !(b < a); a >= b is !(a < b).
      if (p == ">" || p == "<=") emit_.Op(op::kSwap);
      if (p != "==" && p != "!=") emit_.Op(less);
      if (p == "!=" || p == "<=" || p == ">=") emit_.Op(op::kLogNot);
      return kInt;
    }
    return result;
  }

  absl::StatusOr<Type> Unary() {
    if (TakePunct("-")) {
      emit_.Const(0);
      absl::StatusOr<Type> t = Unary();
      if (!t.ok()) return t;
      emit_.Op(op::kSub);
      return Type{64, t->is_signed || t->bits < 64};
    }
    if (TakePunct("!")) {
      absl::StatusOr<Type> t = Unary();
      if (!t.ok()) return t;
      emit_.Op(op::kLogNot);
      return kInt;
    }
    if (TakePunct("~")) {
      absl::StatusOr<Type> t = Unary();
      if (!t.ok()) return t;
      emit_.Op(op::kBitNot);
      emit_.Narrow(*t);
      return *t;
    }
    if (TakePunct("*")) {
      const size_t at = Peek().at;
      absl::StatusOr<Type> t = Unary();
      if (!t.ok()) return t;
      if (!t->pointer()) {
        return Syntax(text_, at, "'*' needs a pointer: cast to one, as in *(long *)ADDR");
      }
      static constexpr uint8_t kRef[] = {op::kRef8, op::kRef16, op::kRef32, op::kRef64};
      const int index = t->pointee_bits == 8 ? 0 : t->pointee_bits == 16 ? 1
                        : t->pointee_bits == 32 ? 2 : 3;
      emit_.Op(kRef[index]);
      const Type value{t->pointee_bits, t->pointee_signed};
      emit_.Narrow(value);
      return value;
    }
    if (Peek().kind == TokenKind::kPunct && Peek().text == "(" &&
        tokens_[pos_ + 1].kind == TokenKind::kName && IsTypeWord(tokens_[pos_ + 1].text)) {
      ++pos_;
      absl::StatusOr<Type> cast = CastType();
      if (!cast.ok()) return cast;
      absl::StatusOr<Type> t = Unary();
      if (!t.ok()) return t;
      emit_.Narrow(*cast);
      return *cast;
    }
    return Primary();
  }

  // After "(": a type name, stars, ")".
  absl::StatusOr<Type> CastType() {
    std::string name;
    while (Peek().kind == TokenKind::kName && IsTypeWord(Peek().text)) {
      absl::StrAppend(&name, name.empty() ? "" : " ", Next().text);
    }
    std::optional<Type> base = IntegerType(name);
    if (!base) return Error(absl::StrFormat("unknown type '%s'", name));
    int stars = 0;
    while (TakePunct("*")) ++stars;
    if (!TakePunct(")")) return Error("expected ')' after the type");
    if (stars == 0) return *base;
    // A pointer to a pointer reads 8 bytes; kmctl keeps no deeper types.
    return stars == 1 ? Type{64, true, base->bits, base->is_signed} : Type{64, true, 64, false};
  }

  absl::StatusOr<Type> Primary() {
    const Token t = Next();
    switch (t.kind) {
      case TokenKind::kNumber:
        emit_.Const(t.value);
        return t.value > 0x7fffffff ? kLong : kInt;
      case TokenKind::kRegister: {
        auto it = Registers().find(t.text);
        if (it == Registers().end()) {
          return Syntax(text_, t.at, absl::StrFormat("unknown register '$%s'", t.text));
        }
        emit_.Op(op::kReg, it->second.number, 2);
        emit_.Narrow(it->second.type);
        return it->second.type;
      }
      case TokenKind::kName: {
        absl::StatusOr<uint64_t> addr = resolver_.Resolve(t.text);
        if (!addr.ok()) return addr.status();
        emit_.Const(*addr);
        return Type{64, false};
      }
      case TokenKind::kPunct:
        if (t.text == "(") {
          absl::StatusOr<Type> inner = Expression();
          if (!inner.ok()) return inner;
          if (!TakePunct(")")) return Error("expected ')'");
          return inner;
        }
        return Syntax(text_, t.at, absl::StrFormat("unexpected '%s'", t.text));
      case TokenKind::kString:
        return Syntax(text_, t.at, "a string is only a dprintf's format");
      case TokenKind::kEnd:
        break;
    }
    return Syntax(text_, t.at, "the expression ends too soon");
  }

  absl::string_view text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  const AddressResolver& resolver_;
  Emitter& emit_;
};

}  // namespace

absl::StatusOr<std::string> CompileCondition(absl::string_view text,
                                             const AddressResolver& resolver) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  Emitter emit;
  Parser parser(text, *std::move(tokens), resolver, emit);
  if (absl::Status s = parser.All(); !s.ok()) return s;
  emit.Op(op::kEnd);
  return std::move(emit.code());
}

absl::StatusOr<std::string> CompileDprintf(absl::string_view text, const AddressResolver& resolver) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  const Token& first = tokens->front();
  if (first.kind != TokenKind::kString) {
    return Syntax(text, first.at, "a dprintf starts with its \"format\"");
  }
  if (first.text.find('\0') != std::string::npos) {
    return Syntax(text, first.at, "a format cannot hold \\0");
  }
  // The arguments: the tokens between commas outside parentheses, each ended as a whole.
  std::vector<std::vector<Token>> args;
  int depth = 0;
  for (size_t i = 1; i + 1 < tokens->size(); ++i) {
    const Token& t = (*tokens)[i];
    const bool punct = t.kind == TokenKind::kPunct;
    if (punct && t.text == "," && depth == 0) {
      args.emplace_back();
      continue;
    }
    if (args.empty()) return Syntax(text, t.at, "expected ',' before an argument");
    if (punct && t.text == "(") ++depth;
    if (punct && t.text == ")") --depth;
    args.back().push_back(t);
  }
  if (args.size() > 255) return Syntax(text, 0, "more than 255 arguments");
  Emitter emit;
  // printf takes its arguments off the stack, the first one last pushed.
  for (auto it = args.rbegin(); it != args.rend(); ++it) {
    Token end;
    end.at = it->empty() ? text.size() : it->back().at + it->back().text.size();
    it->push_back(end);
    Parser parser(text, std::move(*it), resolver, emit);
    if (absl::Status s = parser.All(); !s.ok()) return s;
  }
  emit.Const(0);  // printf's function and channel: gdb sends 0 for both
  emit.Const(0);
  emit.Op(op::kPrintf, args.size(), 1);
  emit.Operand(first.text.size() + 1, 2);
  emit.Bytes(first.text);
  emit.Bytes(absl::string_view("\0", 1));
  emit.Op(op::kEnd);
  return std::move(emit.code());
}

}  // namespace kmctl
