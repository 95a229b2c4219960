#include "agent/rsp/packets/misc.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {

std::vector<Feature> ParseQSupported(absl::string_view packet) {
  std::vector<Feature> out;
  if (!absl::ConsumePrefix(&packet, "qSupported:")) return out;
  for (absl::string_view item : absl::StrSplit(packet, ';', absl::SkipEmpty())) {
    const size_t eq = item.find('=');
    if (eq != absl::string_view::npos) {
      out.push_back({std::string(item.substr(0, eq)), std::string(item.substr(eq + 1))});
    } else if (item.back() == '+' || item.back() == '-' || item.back() == '?') {
      out.push_back({std::string(item.substr(0, item.size() - 1)), std::string(1, item.back())});
    } else {
      out.push_back({std::string(item), ""});
    }
  }
  return out;
}

bool GdbSupports(const std::vector<Feature>& features, absl::string_view name) {
  for (const Feature& f : features) {
    if (f.name == name) return f.value == "+";
  }
  return false;
}

absl::StatusOr<std::optional<int>> ParseDetach(absl::string_view packet) {
  if (packet == "D") return std::optional<int>();
  if (!absl::ConsumePrefix(&packet, "D;")) {
    return absl::InvalidArgumentError(absl::StrCat("bad detach packet 'D", packet, "'"));
  }
  absl::StatusOr<int> pid = ParseHexInt(packet, "pid");
  if (!pid.ok()) return pid.status();
  return std::optional<int>(*pid);
}

absl::StatusOr<int> ParseVKill(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "vKill;")) {
    return absl::InvalidArgumentError(absl::StrCat("bad vKill packet '", packet, "'"));
  }
  return ParseHexInt(packet, "pid");
}

absl::StatusOr<std::string> ParseMonitorCommand(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "qRcmd,")) {
    return absl::InvalidArgumentError(absl::StrCat("bad qRcmd packet '", packet, "'"));
  }
  return HexDecode(packet);
}

namespace {

// "N;N;...": hex numbers, none empty.
absl::StatusOr<std::vector<int>> ParseHexList(absl::string_view list, absl::string_view what) {
  std::vector<int> out;
  for (absl::string_view item : absl::StrSplit(list, ';')) {
    absl::StatusOr<int> n = ParseHexInt(item, what);
    if (!n.ok()) return n.status();
    out.push_back(*n);
  }
  return out;
}

}  // namespace

absl::StatusOr<CatchSyscalls> ParseCatchSyscalls(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "QCatchSyscalls:")) {
    return absl::InvalidArgumentError("not a QCatchSyscalls packet");
  }
  CatchSyscalls out;
  if (packet == "0") return out;
  if (!absl::ConsumePrefix(&packet, "1")) {
    return absl::InvalidArgumentError(absl::StrCat("QCatchSyscalls: '", packet, "' is neither 0 nor 1"));
  }
  out.enabled = true;
  if (packet.empty()) return out;
  if (!absl::ConsumePrefix(&packet, ";")) {
    return absl::InvalidArgumentError("QCatchSyscalls:1 must be followed by ';' and numbers");
  }
  absl::StatusOr<std::vector<int>> numbers = ParseHexList(packet, "syscall");
  if (!numbers.ok()) return numbers.status();
  out.numbers.assign(numbers->begin(), numbers->end());
  return out;
}

namespace {

absl::StatusOr<std::vector<int>> ParseSignalList(absl::string_view packet,
                                                 absl::string_view name) {
  if (!absl::ConsumePrefix(&packet, name) || !absl::ConsumePrefix(&packet, ":")) {
    return absl::InvalidArgumentError(absl::StrCat("not a ", name, " packet"));
  }
  absl::ConsumeSuffix(&packet, ";");
  if (packet.empty()) return std::vector<int>();
  return ParseHexList(packet, "signal");
}

}  // namespace

absl::StatusOr<std::vector<int>> ParsePassSignals(absl::string_view packet) {
  return ParseSignalList(packet, "QPassSignals");
}

absl::StatusOr<std::vector<int>> ParseProgramSignals(absl::string_view packet) {
  return ParseSignalList(packet, "QProgramSignals");
}

}  // namespace agent::rsp
