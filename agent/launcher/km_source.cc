#include "agent/launcher/km_source.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/launcher/km_processes.h"
#include "agent/log.h"

namespace agent {
namespace {

// How long km gets to end once its payload is gone, and to open its socket on SIGUSR1.
constexpr absl::Duration kExitGrace = absl::Seconds(10);
constexpr absl::Duration kLateAttachTimeout = absl::Seconds(10);

}  // namespace

absl::StatusOr<int> KmSource::Start(const std::vector<std::string>& argv,
                                    const std::vector<std::string>& env) {
  ReapExited();
  if (options_.km.empty()) return absl::FailedPreconditionError(options_.km_missing);
  absl::StatusOr<std::unique_ptr<LaunchedKm>> km = LaunchedKm::Start(
      {.km = options_.km, .accel = options_.accel, .argv = argv, .env = env,
       .keep_off_stdio = options_.keep_off_stdio});
  if (!km.ok()) return km.status();
  const int pid = (*km)->pid();
  Log(absl::StrFormat("started km (pid %d): %s", pid, absl::StrJoin(argv, " ")));
  launched_[pid] = *std::move(km);
  return pid;
}

absl::StatusOr<std::unique_ptr<Target>> KmSource::Launch(const std::vector<std::string>& argv,
                                                         const std::vector<std::string>& env) {
  absl::StatusOr<int> pid = Start(argv, env);
  if (!pid.ok()) return pid.status();
  absl::StatusOr<std::unique_ptr<Target>> target = connect_(launched_[*pid]->socket_path());
  if (!target.ok()) launched_.erase(*pid);  // kills and reaps it
  return target;
}

absl::StatusOr<std::unique_ptr<Target>> KmSource::Attach(int pid) {
  ReapExited();
  if (auto it = launched_.find(pid); it != launched_.end()) return connect_(it->second->socket_path());
  absl::StatusOr<KmProcess> km = FindKmProcess(pid, options_.km);
  if (!km.ok()) return km.status();
  absl::StatusOr<std::string> socket = DebugSocketOf(*km, kLateAttachTimeout);
  if (!socket.ok()) return socket.status();
  Log(absl::StrFormat("attaching to km (pid %d) through %s", pid, *socket));
  return connect_(*socket);
}

std::vector<AttachableProcess> KmSource::List() {
  std::vector<AttachableProcess> out;
  for (const KmProcess& km : ListKmProcesses(options_.km)) {
    out.push_back({km.pid, km.user, absl::StrJoin(km.cmdline, " ")});
  }
  return out;
}

void KmSource::Ended(int pid) {
  auto it = launched_.find(pid);
  if (it == launched_.end()) return;
  Reaped(pid, it->second->WaitOrKill(kExitGrace));
}

std::optional<int> KmSource::WaitForAll() {
  while (!launched_.empty()) {
    const int pid = launched_.begin()->first;
    Reaped(pid, launched_.begin()->second->WaitOrKill(absl::InfiniteDuration()));
  }
  return last_exit_status_;
}

bool KmSource::AnyRunning() {
  ReapExited();
  return !launched_.empty();
}

void KmSource::ReapExited() {
  std::vector<std::pair<int, int>> exited;
  for (auto& [pid, km] : launched_) {
    if (std::optional<int> status = km->Poll()) exited.emplace_back(pid, *status);
  }
  for (const auto& [pid, status] : exited) Reaped(pid, status);
}

void KmSource::Reaped(int pid, int status) {
  Log(absl::StrFormat("km (pid %d) exited with status %d", pid, status));
  last_exit_status_ = status;
  launched_.erase(pid);
}

}  // namespace agent
