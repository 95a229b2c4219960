#include "agent/rsp/packets/breakpoint.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {
namespace {

// "X2,abcdX1,00" or "X2,abcd;X1,00": the conditions after the first ';', or the commands
// after "cmds:N,".
absl::StatusOr<std::vector<std::string>> ParseExpressions(absl::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    if (text[0] == ';') {
      text.remove_prefix(1);
      continue;
    }
    if (text[0] != 'X') {
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported breakpoint option '", text, "'"));
    }
    const size_t comma = text.find(',');
    if (comma == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad breakpoint condition '", text, "'"));
    }
    absl::StatusOr<uint64_t> len = ParseHex(text.substr(1, comma - 1));
    if (!len.ok()) return len.status();
    if (*len == 0 || *len > (text.size() - comma - 1) / 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("breakpoint condition of ", *len, " bytes in '", text, "'"));
    }
    absl::StatusOr<std::string> bytes = HexDecode(text.substr(comma + 1, 2 * *len));
    if (!bytes.ok()) return bytes.status();
    out.push_back(*std::move(bytes));
    text.remove_prefix(comma + 1 + 2 * *len);
  }
  return out;
}

}  // namespace

absl::StatusOr<BreakpointPacket> ParseBreakpoint(absl::string_view packet) {
  if (packet.size() < 2 || (packet[0] != 'Z' && packet[0] != 'z')) {
    return absl::InvalidArgumentError(absl::StrCat("not a breakpoint packet: '", packet, "'"));
  }
  const absl::string_view body = packet.substr(1);
  const size_t semicolon = body.find(';');
  const absl::string_view fields_text = body.substr(0, semicolon);
  std::vector<absl::string_view> fields = absl::StrSplit(fields_text, ',');
  if (fields.size() != 3 || fields[0].size() != 1 || fields[0][0] < '0' || fields[0][0] > '4') {
    return absl::InvalidArgumentError(absl::StrCat("bad breakpoint packet '", packet, "'"));
  }
  absl::StatusOr<uint64_t> addr = ParseHex(fields[1]);
  if (!addr.ok()) return addr.status();
  absl::StatusOr<uint64_t> kind = ParseHex(fields[2]);
  if (!kind.ok()) return kind.status();
  BreakpointPacket bp{packet[0] == 'Z', static_cast<BreakpointType>(fields[0][0] - '0'), *addr,
                      *kind, {}};
  if (semicolon != absl::string_view::npos) {
    if (!bp.insert || (bp.type != BreakpointType::kSoftware && bp.type != BreakpointType::kHardware)) {
      return absl::InvalidArgumentError(
          absl::StrCat("conditions and commands only come with Z0 and Z1: '", packet, "'"));
    }
    absl::string_view options = body.substr(semicolon + 1);
    const size_t cmds = options.find("cmds:");
    if (cmds != absl::string_view::npos) {
      const absl::string_view commands = options.substr(cmds + 5);
      if (commands.size() < 2 || (commands[0] != '0' && commands[0] != '1') || commands[1] != ',') {
        return absl::InvalidArgumentError(
            absl::StrCat("breakpoint commands without their persistence flag: '", packet, "'"));
      }
      bp.persist_commands = commands[0] == '1';
      absl::StatusOr<std::vector<std::string>> parsed = ParseExpressions(commands.substr(2));
      if (!parsed.ok()) return parsed.status();
      if (parsed->empty()) {
        return absl::InvalidArgumentError(absl::StrCat("'cmds:' with no command: '", packet, "'"));
      }
      bp.commands = *std::move(parsed);
      options = options.substr(0, cmds);
    }
    absl::StatusOr<std::vector<std::string>> conditions = ParseExpressions(options);
    if (!conditions.ok()) return conditions.status();
    bp.conditions = *std::move(conditions);
  }
  return bp;
}

}  // namespace agent::rsp
