// The ProcessSource of the real agent: launches km (km_launcher.h), finds running km processes
// (km_processes.h) and connects to their debug sockets through a connector main supplies (the
// gRPC client), so that this library knows nothing of gRPC.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/launcher/km_launcher.h"
#include "agent/process_source.h"

namespace agent {

using Connector = std::function<absl::StatusOr<std::unique_ptr<Target>>(const std::string& socket)>;

struct KmSourceOptions {
  std::string km;      // km's path; empty: launching fails with km_missing as the reason
  std::string km_missing;
  std::string accel;   // km's --accel for the processes it launches
  bool keep_off_stdio = false;
};

class KmSource : public ProcessSource {
 public:
  KmSource(KmSourceOptions options, Connector connect)
      : options_(std::move(options)), connect_(std::move(connect)) {}

  absl::StatusOr<std::unique_ptr<Target>> Launch(const std::vector<std::string>& argv,
                                                 const std::vector<std::string>& env) override;
  absl::StatusOr<std::unique_ptr<Target>> Attach(int pid) override;
  bool Launched(int pid) const override { return launched_.count(pid) != 0; }
  std::vector<AttachableProcess> List() override;
  void Ended(int pid) override;

  // Starts km without connecting (the agent's own command line names the payload).
  absl::StatusOr<int> Start(const std::vector<std::string>& argv, const std::vector<std::string>& env);
  // Waits for every launched km to exit. The exit status of the last one that did, if any.
  std::optional<int> WaitForAll();
  bool AnyRunning();
  std::optional<int> last_exit_status() const { return last_exit_status_; }

 private:
  void ReapExited();
  void Reaped(int pid, int status);

  KmSourceOptions options_;
  Connector connect_;
  std::map<int, std::unique_ptr<LaunchedKm>> launched_;
  std::optional<int> last_exit_status_;
};

}  // namespace agent
