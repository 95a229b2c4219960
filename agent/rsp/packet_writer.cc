#include "agent/rsp/packet_writer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {

std::string Frame(absl::string_view payload) {
  return absl::StrCat("$", payload, "#", absl::StrFormat("%02x", Checksum(payload)));
}

std::string FrameNotification(absl::string_view name, absl::string_view event) {
  const std::string body = absl::StrCat(name, ":", event);
  return absl::StrCat("%", body, "#", absl::StrFormat("%02x", Checksum(body)));
}

std::string ConsoleOutput(absl::string_view text) { return absl::StrCat("O", HexEncode(text)); }

}  // namespace agent::rsp
