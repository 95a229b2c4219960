#include "agent/rsp/packets/misc.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {
namespace {

absl::StatusOr<int> ParsePid(absl::string_view text) {
  absl::StatusOr<uint64_t> pid = ParseHex(text);
  if (!pid.ok()) return pid.status();
  if (*pid > 0x7fffffff) return absl::InvalidArgumentError(absl::StrCat("pid ", text, " out of range"));
  return static_cast<int>(*pid);
}

}  // namespace

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
  absl::StatusOr<int> pid = ParsePid(packet);
  if (!pid.ok()) return pid.status();
  return std::optional<int>(*pid);
}

absl::StatusOr<int> ParseVKill(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "vKill;")) {
    return absl::InvalidArgumentError(absl::StrCat("bad vKill packet '", packet, "'"));
  }
  return ParsePid(packet);
}

absl::StatusOr<std::string> ParseMonitorCommand(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "qRcmd,")) {
    return absl::InvalidArgumentError(absl::StrCat("bad qRcmd packet '", packet, "'"));
  }
  return HexDecode(packet);
}

}  // namespace agent::rsp
