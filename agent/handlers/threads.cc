// Which threads exist and which one later packets mean: H, T, qC, q{f,s}ThreadInfo and the
// XML list behind qXfer:threads:read.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/packets/qxfer.h"
#include "agent/rsp/packets/thread.h"

namespace agent {

int Handlers::GeneralThread() const {
  if (general_thread_ > 0 && threads().IsAlive(general_thread_)) return general_thread_;
  const int reported = run_.last_report().tid;
  if (threads().IsAlive(reported)) return reported;
  const std::vector<int> live = threads().Threads();
  return live.empty() ? 0 : live.front();
}

Response Handlers::SetThread(absl::string_view packet) {
  absl::StatusOr<rsp::SetThread> set = rsp::ParseSetThread(packet);
  if (!set.ok()) {
    Log(set.status().message());
    return Response{{"E01"}};
  }
  // gdb resumes forward with vCont, which names threads itself; Hc matters for bs and bc.
  if (set->op == 'c') {
    continue_thread_ = set->thread.all() || set->thread.any() ? 0 : static_cast<int>(set->thread.tid);
    return Response{{"OK"}};
  }
  if (set->thread.all() || set->thread.any()) {
    general_thread_ = 0;
    return Response{{"OK"}};
  }
  if (!threads().IsAlive(static_cast<int>(set->thread.tid))) return Response{{"E02"}};
  general_thread_ = static_cast<int>(set->thread.tid);
  return Response{{"OK"}};
}

Response Handlers::ThreadAlive(absl::string_view packet) {
  absl::StatusOr<rsp::ThreadId> id = rsp::ParseThreadAlive(packet);
  if (!id.ok()) return Response{{"E01"}};
  return Response{{threads().IsAlive(static_cast<int>(id->tid)) ? "OK" : "E01"}};
}

Response Handlers::CurrentThread() {
  return Response{{absl::StrCat("QC", rsp::FormatThreadId(info_.pid, GeneralThread(), multiprocess_))}};
}

Response Handlers::ThreadInfo(bool first) {
  if (!first) return Response{{"l"}};
  std::vector<std::string> ids;
  for (int tid : threads().Threads()) ids.push_back(rsp::FormatThreadId(info_.pid, tid, multiprocess_));
  if (ids.empty()) return Response{{"l"}};
  return Response{{absl::StrCat("m", absl::StrJoin(ids, ","))}};
}

absl::StatusOr<std::string> Handlers::ThreadsXml() {
  absl::StatusOr<std::vector<agent::ThreadInfo>> listed =
      stop_threads_ ? *stop_threads_ : target_.ListThreads();
  if (!listed.ok()) return listed.status();
  // All stopped, nothing changes the list until something runs or a thread is born.
  if (!non_stop_ && !run_.running() && !stop_threads_) stop_threads_ = *listed;
  std::string xml = "<?xml version=\"1.0\"?>\n<threads>\n";
  for (const agent::ThreadInfo& t : *listed) {
    if (t.state == ThreadState::kExited || !threads().IsAlive(t.tid)) continue;
    absl::StrAppendFormat(&xml, "<thread id=\"%s\" name=\"%s\"/>\n",
                          rsp::FormatThreadId(info_.pid, t.tid, multiprocess_), rsp::XmlEscape(t.name));
  }
  absl::StrAppend(&xml, "</threads>\n");
  return xml;
}

}  // namespace agent
