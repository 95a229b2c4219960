#include "agent/rsp/packets/vcont.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {
namespace {

absl::StatusOr<int> ParseSignal(absl::string_view text) {
  absl::StatusOr<uint64_t> sig = ParseHex(text);
  if (!sig.ok()) return sig.status();
  if (*sig > 0xff) return absl::InvalidArgumentError(absl::StrCat("signal ", text, " out of range"));
  return static_cast<int>(*sig);
}

absl::StatusOr<VContAction> ParseAction(absl::string_view text) {
  const size_t colon = text.find(':');
  absl::string_view verb = text.substr(0, colon);
  VContAction action{VContAction::Kind::kContinue};
  if (verb.empty()) return absl::InvalidArgumentError("empty vCont action");
  switch (verb[0]) {
    case 'c':
    case 'C':
      action.kind = VContAction::Kind::kContinue;
      break;
    case 's':
    case 'S':
      action.kind = VContAction::Kind::kStep;
      break;
    case 't':
      action.kind = VContAction::Kind::kStop;
      break;
    case 'r': {
      action.kind = VContAction::Kind::kRangeStep;
      std::vector<absl::string_view> bounds = absl::StrSplit(verb.substr(1), ',');
      if (bounds.size() != 2) {
        return absl::InvalidArgumentError(absl::StrCat("bad vCont range '", verb, "'"));
      }
      absl::StatusOr<uint64_t> start = ParseHex(bounds[0]);
      if (!start.ok()) return start.status();
      absl::StatusOr<uint64_t> end = ParseHex(bounds[1]);
      if (!end.ok()) return end.status();
      action.range_start = *start;
      action.range_end = *end;
      break;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("unsupported vCont action '", verb, "'"));
  }
  if (verb[0] == 'C' || verb[0] == 'S') {
    absl::StatusOr<int> sig = ParseSignal(verb.substr(1));
    if (!sig.ok()) return sig.status();
    action.signal = *sig;
  } else if (verb[0] != 'r' && verb.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bad vCont action '", verb, "'"));
  }
  if (colon != absl::string_view::npos) {
    absl::StatusOr<ThreadId> id = ParseThreadId(text.substr(colon + 1));
    if (!id.ok()) return id.status();
    action.thread = *id;
  }
  return action;
}

}  // namespace

absl::StatusOr<std::vector<VContAction>> ParseVCont(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "vCont;")) {
    return absl::InvalidArgumentError(absl::StrCat("not a vCont packet: '", packet, "'"));
  }
  std::vector<VContAction> actions;
  for (absl::string_view text : absl::StrSplit(packet, ';')) {
    absl::StatusOr<VContAction> action = ParseAction(text);
    if (!action.ok()) return action.status();
    actions.push_back(*action);
  }
  return actions;
}

absl::StatusOr<VContAction> ParseLegacyResume(absl::string_view packet) {
  if (packet.empty()) return absl::InvalidArgumentError("empty resume packet");
  VContAction action{packet[0] == 's' || packet[0] == 'S' ? VContAction::Kind::kStep
                                                          : VContAction::Kind::kContinue};
  absl::string_view rest = packet.substr(1);
  if (packet[0] == 'C' || packet[0] == 'S') {
    absl::StatusOr<int> sig = ParseSignal(rest.substr(0, rest.find(';')));
    if (!sig.ok()) return sig.status();
    action.signal = *sig;
    rest = rest.find(';') == absl::string_view::npos ? "" : rest.substr(rest.find(';') + 1);
  }
  if (!rest.empty()) {
    return absl::UnimplementedError("resuming at another address is not supported");
  }
  return action;
}

}  // namespace agent::rsp
