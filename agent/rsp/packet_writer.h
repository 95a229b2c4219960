// Frames replies for gdb. The payload must already be encoded (hex, or binary data escaped
// with EscapeBinary); framing adds only '$', '#' and the checksum.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace agent::rsp {

std::string Frame(absl::string_view payload);

// An asynchronous notification ("%Stop:T05...#cs"): gdb neither acks it nor asks for it again.
std::string FrameNotification(absl::string_view name, absl::string_view event);

// Console output for gdb to print ("O" + hex), as sent during qRcmd.
std::string ConsoleOutput(absl::string_view text);

}  // namespace agent::rsp
