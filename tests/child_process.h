// A test's child process (km, the agent, gdb) whose stdout and stderr go to files, so that
// nothing has to drain them while it runs.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace km_test {

// A child process whose stdout and stderr go to files (nothing to drain while it runs).
class Child {
 public:
  static absl::StatusOr<Child> Start(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env,
                                     const std::string& out_path, const std::string& err_path);
  Child(Child&& other) noexcept
      : pid_(other.pid_), out_path_(other.out_path_), err_path_(other.err_path_),
        status_(other.status_) {
    other.pid_ = -1;
  }
  ~Child();

  pid_t pid() const { return pid_; }
  // Waits up to timeout; the exit status (128 + signal if killed), or -1 if still running.
  int Wait(absl::Duration timeout);
  void Kill();
  std::string Out() const;
  std::string Err() const;

 private:
  Child(pid_t pid, std::string out_path, std::string err_path)
      : pid_(pid), out_path_(std::move(out_path)), err_path_(std::move(err_path)) {}

  pid_t pid_;
  std::string out_path_;
  std::string err_path_;
  int status_ = -1;
};

}  // namespace km_test
