#include "agent/rsp/packets/extended.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "agent/rsp/encoding.h"
#include "agent/rsp/packets/qxfer.h"

namespace agent::rsp {

namespace {

absl::StatusOr<std::string> HexField(absl::string_view hex, absl::string_view what) {
  absl::StatusOr<std::string> text = HexDecode(hex);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat("bad hex in ", what, ": ", hex));
  return text;
}

}  // namespace

absl::StatusOr<RunRequest> ParseVRun(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "vRun;")) {
    return absl::InvalidArgumentError(absl::StrCat("not a vRun packet: ", packet));
  }
  RunRequest run;
  bool first = true;
  for (absl::string_view field : absl::StrSplit(packet, ';')) {
    absl::StatusOr<std::string> text = HexField(field, "vRun");
    if (!text.ok()) return text.status();
    if (first) {
      run.program = *std::move(text);
      first = false;
    } else {
      run.args.push_back(*std::move(text));
    }
  }
  return run;
}

absl::StatusOr<int> ParseVAttach(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "vAttach;")) {
    return absl::InvalidArgumentError(absl::StrCat("not a vAttach packet: ", packet));
  }
  absl::StatusOr<uint64_t> pid = ParseHex(packet);
  if (!pid.ok() || *pid == 0 || *pid > 0x7fffffff) {
    return absl::InvalidArgumentError(absl::StrCat("bad pid in vAttach: ", packet));
  }
  return static_cast<int>(*pid);
}

absl::StatusOr<EnvironmentSetting> ParseEnvironmentSet(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "QEnvironmentHexEncoded:")) {
    return absl::InvalidArgumentError(absl::StrCat("not a QEnvironmentHexEncoded packet: ", packet));
  }
  absl::StatusOr<std::string> text = HexField(packet, "QEnvironmentHexEncoded");
  if (!text.ok()) return text.status();
  const size_t eq = text->find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat("not NAME=VALUE: ", *text));
  }
  return EnvironmentSetting{text->substr(0, eq), text->substr(eq + 1)};
}

absl::StatusOr<std::string> ParseEnvironmentUnset(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "QEnvironmentUnset:")) {
    return absl::InvalidArgumentError(absl::StrCat("not a QEnvironmentUnset packet: ", packet));
  }
  absl::StatusOr<std::string> name = HexField(packet, "QEnvironmentUnset");
  if (!name.ok()) return name.status();
  if (name->empty()) return absl::InvalidArgumentError("QEnvironmentUnset without a name");
  return name;
}

std::string ProcessesOsdata(const std::vector<OsProcess>& processes) {
  std::string xml =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"osdata.dtd\">\n<osdata type=\"processes\">\n";
  for (const OsProcess& p : processes) {
    absl::StrAppendFormat(&xml,
                          "<item>\n<column name=\"pid\">%d</column>\n<column name=\"user\">%s</column>\n"
                          "<column name=\"command\">%s</column>\n</item>\n",
                          p.pid, XmlEscape(p.user), XmlEscape(p.command));
  }
  xml += "</osdata>\n";
  return xml;
}

std::string OsdataTypes() {
  return "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"osdata.dtd\">\n<osdata type=\"types\">\n"
         "<item>\n<column name=\"Type\">processes</column>\n"
         "<column name=\"Description\">km processes this user can attach to</column>\n"
         "<column name=\"Title\">Processes</column>\n</item>\n</osdata>\n";
}

}  // namespace agent::rsp
