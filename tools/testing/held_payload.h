// For the tools' end-to-end tests: a real km serving its debug socket with a payload held before
// its first instruction (--debug-wait); km_hooks/bin/target's symbols.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/child_process.h"

namespace km_test {

// km_hooks/bin/target's symbols, from `nm` (the test needs //km_hooks:target_syms as data).
std::map<std::string, uint64_t> TargetSymbols();

class HeldPayload {
 public:
  // Starts km on engine ("kvm" or "tcg") with payload (a runfile path) and returns once its
  // socket exists. The test needs //km and the payload as data.
  static absl::StatusOr<std::unique_ptr<HeldPayload>> Start(
      const std::string& engine, const std::string& payload = "km_hooks/bin/target",
      const std::vector<std::string>& args = {});
  ~HeldPayload();

  const std::string& socket() const { return socket_; }
  const std::string& payload() const { return payload_; }
  pid_t pid() const { return km_.pid(); }  // km's pid, which is the main thread's tid
  // km's exit status (the payload's), or -1 if it still runs after timeout.
  int Wait(absl::Duration timeout = absl::Seconds(20)) { return km_.Wait(timeout); }
  std::string Out() const { return km_.Out(); }
  std::string Err() const { return km_.Err(); }

 private:
  HeldPayload(Child km, std::string socket, std::string payload)
      : km_(std::move(km)), socket_(std::move(socket)), payload_(std::move(payload)) {}

  Child km_;
  std::string socket_;
  std::string payload_;
};

}  // namespace km_test
