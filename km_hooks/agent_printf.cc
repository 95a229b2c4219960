#include "km_hooks/agent_printf.h"

#include <algorithm>
#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace km_hooks {
namespace {

absl::Status Refused(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("dprintf format: ", what));
}

// The escapes gdb's own printf understands; gdb leaves them in the string it sends.
absl::StatusOr<std::string> Unescape(absl::string_view format) {
  std::string out;
  out.reserve(format.size());
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '\\') {
      out.push_back(format[i]);
      continue;
    }
    if (++i == format.size()) return Refused("a lone '\\' at the end");
    switch (format[i]) {
      case '\\': out.push_back('\\'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'e': out.push_back('\x1b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case '"': out.push_back('"'); break;
      default:
        return Refused(absl::StrFormat("unknown escape '\\%c'", format[i]));
    }
  }
  return out;
}

// One directive, as far as km renders it: the flags, width and precision the user wrote, and
// the C type its value is passed as.
struct Directive {
  std::string flags;
  std::string width;
  std::string precision;  // with its '.', or empty
  size_t max_chars = kMaxPrintfString;  // of a %s: its precision, if it has one
  enum class Length { kInt, kShort, kChar, kLong } length = Length::kInt;
  char conversion = 0;
};

// Parses the directive after a '%' at format[*at]; *at ends past it.
absl::StatusOr<Directive> ParseDirective(absl::string_view format, size_t* at) {
  Directive d;
  size_t i = *at;
  // Appends the digits at i to out; their value, as printf reads them, must stay in bounds.
  auto digits = [&](std::string* out, int* value) -> absl::Status {
    *value = 0;
    while (i < format.size() && absl::ascii_isdigit(format[i])) {
      *value = *value * 10 + (format[i] - '0');
      if (*value > kMaxPrintfField) {
        return Refused(absl::StrFormat("a field or precision over %d", kMaxPrintfField));
      }
      out->push_back(format[i++]);
    }
    return absl::OkStatus();
  };
  auto one_of = [&](absl::string_view chars) {
    return i < format.size() && chars.find(format[i]) != absl::string_view::npos;
  };
  while (one_of("-+ #0")) d.flags.push_back(format[i++]);
  if (d.flags.size() > 5) return Refused("repeated flags");
  int width;
  if (absl::Status s = digits(&d.width, &width); !s.ok()) return s;
  if (i < format.size() && format[i] == '.') {
    d.precision = ".";
    ++i;
    int precision;
    if (absl::Status s = digits(&d.precision, &precision); !s.ok()) return s;
    d.max_chars = precision;
  }
  if (i < format.size() && format[i] == '*') return Refused("'*' for a width or precision");
  if (format.substr(i, 2) == "hh") {
    d.length = Directive::Length::kChar;
    i += 2;
  } else if (format.substr(i, 2) == "ll") {
    d.length = Directive::Length::kLong;
    i += 2;
  } else if (one_of("hlzjt")) {
    d.length = format[i] == 'h' ? Directive::Length::kShort : Directive::Length::kLong;
    ++i;
  } else if (one_of("L")) {
    return Refused("long double");
  }
  if (i == format.size()) return Refused("a '%' with no conversion at the end");
  d.conversion = format[i++];
  // The flags and precision C defines for each conversion, as gdb's printf checks them; others
  // are undefined behaviour in the C library.
  auto has = [&d](absl::string_view flags) {
    return d.flags.find_first_of(flags.data(), 0, flags.size()) != std::string::npos;
  };
  const bool precision = !d.precision.empty();
  bool inappropriate = false;
  switch (d.conversion) {
    case 'd': case 'i':
      inappropriate = has("#");
      break;
    case 'u':
      inappropriate = has("# +");
      break;
    case 'o': case 'x': case 'X':
      inappropriate = has(" +");
      break;
    case 'c': case 's':
      if (d.length != Directive::Length::kInt) return Refused("wide characters");
      inappropriate = has("#0 +") || (d.conversion == 'c' && precision);
      break;
    case 'p':
      inappropriate = has("#0 +") || precision || d.length != Directive::Length::kInt;
      break;
    case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': case 'a': case 'A':
      return Refused(absl::StrFormat("floating point ('%%%c') is not printed by km", d.conversion));
    case 'n':
      return Refused("'%n'");
    default:
      return Refused(absl::StrFormat("unknown conversion '%%%c'", d.conversion));
  }
  if (inappropriate) {
    return Refused(absl::StrFormat("inappropriate modifiers to '%%%c'", d.conversion));
  }
  *at = i;
  return d;
}

// snprintf of one value with a spec rebuilt from checked parts only.
template <typename T>
std::string Render(const std::string& spec, T value) {
  // Room for the widest directive: a field of kMaxPrintfField around a %s of the longest string.
  char buf[2 * kMaxPrintfField + kMaxPrintfString + 64];
  const int n = snprintf(buf, sizeof buf, spec.c_str(), value);
  if (n < 0) return "";
  return std::string(buf, std::min<size_t>(n, sizeof buf - 1));
}

absl::StatusOr<std::string> GuestString(uint64_t addr, size_t limit, GuestRead read) {
  std::string out;
  char c;
  while (out.size() < limit) {
    if (!read(addr + out.size(), &c, 1)) {
      return absl::FailedPreconditionError(
          absl::StrFormat("dprintf '%%s' reads unmapped memory at 0x%x", addr + out.size()));
    }
    if (c == '\0') break;
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::string> RenderDirective(const Directive& d, uint64_t value, GuestRead read) {
  const std::string head = absl::StrCat("%", d.flags, d.width, d.precision);
  switch (d.conversion) {
    case 's': {
      if (value == 0) return Render(head + "s", "(null)");
      absl::StatusOr<std::string> s = GuestString(value, d.max_chars, read);
      if (!s.ok()) return s.status();
      return Render(head + "s", s->c_str());
    }
    case 'p': {
      // As glibc prints a pointer; only '-' and the width apply to it.
      const std::string text = value == 0 ? "(nil)" : absl::StrFormat("0x%x", value);
      const bool left = d.flags.find('-') != std::string::npos;
      return Render(absl::StrCat("%", left ? "-" : "", d.width, "s"), text.c_str());
    }
    case 'c':
      return Render(head + "c", static_cast<int>(static_cast<unsigned char>(value)));
    default:
      switch (d.length) {
        case Directive::Length::kChar:
          return Render(absl::StrCat(head, "hh", std::string(1, d.conversion)),
                        static_cast<int>(value));
        case Directive::Length::kShort:
          return Render(absl::StrCat(head, "h", std::string(1, d.conversion)),
                        static_cast<int>(value));
        case Directive::Length::kInt:
          return Render(head + d.conversion, static_cast<int>(value));
        case Directive::Length::kLong:
          return Render(absl::StrCat(head, "ll", std::string(1, d.conversion)),
                        static_cast<long long>(value));
      }
  }
  return Refused("unreachable directive");
}

}  // namespace

absl::StatusOr<std::string> FormatAgentPrintf(absl::string_view format,
                                              absl::Span<const uint64_t> args, GuestRead read) {
  absl::StatusOr<std::string> text = Unescape(format);
  if (!text.ok()) return text.status();
  std::string out;
  size_t next_arg = 0;
  for (size_t i = 0; i < text->size();) {
    const char c = (*text)[i++];
    if (c != '%') {
      out.push_back(c);
    } else if (i < text->size() && (*text)[i] == '%') {
      out.push_back('%');
      ++i;
    } else {
      absl::StatusOr<Directive> d = ParseDirective(*text, &i);
      if (!d.ok()) return d.status();
      if (next_arg == args.size()) {
        return Refused(absl::StrFormat("more directives than the %d arguments", args.size()));
      }
      absl::StatusOr<std::string> piece = RenderDirective(*d, args[next_arg++], read);
      if (!piece.ok()) return piece.status();
      out += *piece;
    }
    if (out.size() > kMaxPrintfOutput) {
      return Refused(absl::StrFormat("more than %d bytes of output", kMaxPrintfOutput));
    }
  }
  if (next_arg != args.size()) {
    return Refused(absl::StrFormat("%d arguments for %d directives", args.size(), next_arg));
  }
  return out;
}

}  // namespace km_hooks
