// qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH and the chunked reply gdb reassembles.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::rsp {

struct XferRead {
  std::string object;  // "features", "auxv", "exec-file", "threads", ...
  std::string annex;
  uint64_t offset;
  uint64_t length;
};

// The whole packet. Writes (qXfer:OBJECT:write:...) are refused: no object here is writable.
absl::StatusOr<XferRead> ParseXferRead(absl::string_view packet);

// The slice of `document` gdb asked for: "m" + data when more follows, "l" + data at the end,
// the data escaped as binary.
std::string XferReply(absl::string_view document, uint64_t offset, uint64_t length);

// Text for an XML document's attribute or content: markup characters as entities, control
// characters dropped (gdb's XML parser refuses them).
std::string XmlEscape(absl::string_view text);

}  // namespace agent::rsp
