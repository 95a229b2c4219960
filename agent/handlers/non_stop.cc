// Non-stop mode (QNonStop:1): threads stop one at a time while the others run. vCont answers OK
// at once; every stop reaches gdb as a %Stop notification, the ones after it as replies to
// vStopped; '?' starts that sequence again for every stopped thread.
#include "absl/strings/str_cat.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"

namespace agent {

Response Handlers::SetNonStop(absl::string_view packet) {
  if (packet == "QNonStop:0") {
    if (!non_stop_) return Response{{"OK"}};
    // gdb changes modes only before it has a process to debug; this one it has.
    return Failed(absl::FailedPreconditionError("back to all-stop in mid-session is not supported"));
  }
  if (packet != "QNonStop:1") return Failed(absl::InvalidArgumentError(absl::StrCat("bad ", packet)));
  if (non_stop_) return Response{{"OK"}};
  if (absl::Status s = breakpoints_.StopDeferring(); !s.ok()) return Failed(s);
  if (absl::Status s = FlushPassSignals({}); !s.ok()) return Failed(s);
  memory_.Disable();
  stop_threads_.reset();
  non_stop_ = std::make_unique<NonStopRunControl>(target_, run_.TakeThreads(), run_.exit());
  Log("non-stop mode");
  return Response{{"OK"}};
}

std::optional<Response> Handlers::DispatchNonStop(absl::string_view p) {
  if (p == "?") {
    std::vector<rsp::StopNotifications::Stop> stops;
    for (const StopReport& r : non_stop_->StoppedThreads()) {
      stops.push_back({r.kind == StopReport::Kind::kThread ? r.tid : 0, StopReply(r)});
    }
    return Response{{notifications_.Restart(std::move(stops))}};
  }
  if (p == "vStopped") {
    std::optional<int> acknowledged;
    std::string reply = notifications_.Acknowledge(&acknowledged);
    if (acknowledged) non_stop_->Acknowledged(*acknowledged);
    return Response{{std::move(reply)}};
  }
  return std::nullopt;
}

Response Handlers::NonStopResume(const std::vector<ThreadAction>& actions,
                                 const std::vector<int>& stop_tids, bool stop_all) {
  if (!stop_tids.empty()) {
    absl::StatusOr<std::vector<StopReport>> stopped =
        non_stop_->Stop(stop_all ? std::vector<int>() : stop_tids);
    if (!stopped.ok()) return Failed(stopped.status());
    for (const StopReport& r : *stopped) Notify(r);
  }
  if (!actions.empty()) {
    if (absl::Status s = non_stop_->Resume(actions); !s.ok()) return Failed(s);
  }
  return Response{{"OK"}};
}

std::optional<std::string> Handlers::NonStopEvent(const Event& event) {
  absl::StatusOr<std::optional<StopReport>> stop = non_stop_->HandleEvent(event);
  if (const auto* ended = std::get_if<EventsEnded>(&event)) Log(ended->why);
  if (!stop.ok()) {
    Log(stop.status().message());
  } else if (*stop) {
    Notify(**stop);
  }
  // Stops go out as notifications (TakeNotification), never as a reply.
  return std::nullopt;
}

std::optional<std::string> Handlers::NonStopInterrupt() {
  absl::StatusOr<std::vector<StopReport>> stopped = non_stop_->Interrupt();
  if (!stopped.ok()) {
    Log(stopped.status().message());
  } else {
    for (const StopReport& r : *stopped) Notify(r);
  }
  return std::nullopt;
}

void Handlers::Notify(const StopReport& report) {
  notifications_.Push({report.kind == StopReport::Kind::kThread ? report.tid : 0, StopReply(report)});
}

}  // namespace agent
