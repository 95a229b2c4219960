// Reverse execution: bs and bc (gdb's reverse-stepi and reverse-continue, which its
// reverse-step, -next and -finish are built from) go back through km's recording, and
// `monitor record` turns that recording on and off. gdb reverses only in all-stop mode, and
// names the thread with Hc first, since these packets have no vCont form.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/packet_writer.h"

namespace agent {
namespace {

constexpr char kRecordUsage[] = "usage: monitor record [on [MAX] | off]\n";

std::string FormatRecording(const RecordingStatus& s) {
  if (!s.enabled) return "recording: off\n";
  std::string out = absl::StrFormat("recording: on, %d instructions kept (at most %d)\n",
                                    s.instructions, s.max_instructions);
  if (s.replay_position > 0) {
    absl::StrAppendFormat(&out, "replaying %d instructions back from the end\n", s.replay_position);
  }
  return out;
}

}  // namespace

Response Handlers::ReverseResume(absl::string_view packet) {
  // km reverses only with every thread stopped, which non-stop mode does not promise; gdb does
  // not reverse in non-stop mode either.
  if (non_stop_) {
    return Failed(absl::FailedPreconditionError(
        absl::StrCat(packet, ": reverse execution works in all-stop mode only")));
  }
  ThreadAction action;
  action.mode = packet == "bs" ? ResumeMode::kReverseStep : ResumeMode::kReverseContinue;
  if (continue_thread_ > 0 && threads().IsAlive(continue_thread_)) {
    action.tid = continue_thread_;
  } else if (action.mode == ResumeMode::kReverseStep) {
    // A step undoes one thread's instruction: with Hc saying "any", the thread gdb shows, as
    // for s (gdbserver does the same).
    action.tid = GeneralThread();
  }
  std::optional<std::string> hint = NotRecordingHint();
  Response r = ResumeWith({action});
  // gdb prints console output while it waits for the stop reply, before its own message.
  if (hint) r.packets.insert(r.packets.begin(), rsp::ConsoleOutput(*hint));
  return r;
}

std::optional<std::string> Handlers::NotRecordingHint() {
  if (!info_.recording) {
    return absl::StrFormat("km's %s engine cannot record, so there is no history to go back "
                           "through (km --accel=tcg can record)\n",
                           info_.engine);
  }
  if (!recording_) {
    absl::StatusOr<RecordingStatus> status = target_.GetRecording();
    if (!status.ok()) {
      Log(status.status().message());
      return std::nullopt;
    }
    recording_ = status->enabled;
  }
  if (*recording_) return std::nullopt;
  return std::string("km is not recording: reverse execution goes back only through what ran "
                     "after `monitor record on`\n");
}

std::string Handlers::RecordCommand(absl::string_view args) {
  const std::vector<absl::string_view> words = absl::StrSplit(args, ' ', absl::SkipWhitespace());
  absl::StatusOr<RecordingStatus> status;
  if (words.empty()) {
    status = target_.GetRecording();
  } else if (words[0] == "on" && words.size() <= 2) {
    uint64_t max = 0;
    if (words.size() == 2 && (!absl::SimpleAtoi(words[1], &max) || max == 0)) return kRecordUsage;
    if (!info_.recording) {
      return absl::StrFormat("km's %s engine cannot record (km --accel=tcg can)\n", info_.engine);
    }
    status = target_.SetRecording(true, max);
  } else if (words.size() == 1 && words[0] == "off") {
    // km would replay to the end first: the payload would move under gdb, which keeps showing
    // the past until its next stop. Going forward first lets gdb see where the payload is.
    status = target_.GetRecording();
    if (status.ok() && status->replay_position > 0) {
      return absl::StrCat(FormatRecording(*status),
                          "go forward to the present first (continue to a breakpoint there), "
                          "then turn recording off\n");
    }
    if (status.ok()) status = target_.SetRecording(false, 0);
  } else {
    return kRecordUsage;
  }
  if (!status.ok()) return absl::StrCat(status.status().message(), "\n");
  recording_ = status->enabled;
  return FormatRecording(*status);
}

}  // namespace agent
