// For the tools' end-to-end tests: a real km serving its debug socket with km_hooks/bin/target
// held before its first instruction (--debug-wait), and that payload's symbols.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/child_process.h"

namespace km_test {

// km_hooks/bin/target's symbols, from `nm` (the test needs //km_hooks:target_syms as data).
std::map<std::string, uint64_t> TargetSymbols();

class HeldTarget {
 public:
  // Starts km on engine ("kvm" or "tcg") and returns once its socket exists. The test needs
  // //km, //km_hooks:target and //km_hooks:target_syms as data.
  static absl::StatusOr<std::unique_ptr<HeldTarget>> Start(const std::string& engine);
  ~HeldTarget();

  const std::string& socket() const { return socket_; }
  const std::string& payload() const { return payload_; }
  pid_t pid() const { return km_.pid(); }  // km's pid, which is the main thread's tid
  // The address `nm` gives for name in the payload; 0 if it has none.
  uint64_t Symbol(const std::string& name) const;
  // km's exit status (the payload's), or -1 if it still runs after timeout.
  int Wait(absl::Duration timeout = absl::Seconds(20)) { return km_.Wait(timeout); }
  std::string Out() const { return km_.Out(); }
  std::string Err() const { return km_.Err(); }

 private:
  HeldTarget(Child km, std::string socket, std::string payload,
             std::map<std::string, uint64_t> symbols)
      : km_(std::move(km)), socket_(std::move(socket)), payload_(std::move(payload)),
        symbols_(std::move(symbols)) {}

  Child km_;
  std::string socket_;
  std::string payload_;
  std::map<std::string, uint64_t> symbols_;
};

}  // namespace km_test
