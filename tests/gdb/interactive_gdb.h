// gdb driven the way a person drives it: commands typed one at a time on its standard input,
// each sent once the output it waits for has appeared. Non-stop debugging needs this: stops
// arrive while gdb sits at its prompt, and `gdb -batch` would run the next command before
// they do.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/child_process.h"

namespace km_gdb_test {

class InteractiveGdb {
 public:
  // Starts gdb with the settings (each an -iex, e.g. "set non-stop on") and then `target`.
  static absl::StatusOr<InteractiveGdb> Start(const std::vector<std::string>& settings,
                                              const std::string& target);
  InteractiveGdb(InteractiveGdb&&) noexcept;
  ~InteractiveGdb();

  // Types one command.
  bool Send(absl::string_view command);
  // Waits until output printed since the last successful wait matches the regex; returns the
  // match (capture groups included), or nothing on timeout.
  std::optional<std::vector<std::string>> WaitFor(const std::string& regex,
                                                  absl::Duration timeout = absl::Seconds(30));
  // Sends a command and waits for its output to match.
  std::optional<std::vector<std::string>> Run(absl::string_view command, const std::string& regex,
                                              absl::Duration timeout = absl::Seconds(30));
  // Closes gdb's input, as a user's ^D: gdb quits (and detaches). Its exit status, -1 if it hangs.
  int Quit(absl::Duration timeout = absl::Seconds(20));

  std::string Output() const { return gdb_.Out() + gdb_.Err(); }

 private:
  InteractiveGdb(km_test::Child gdb, int input, std::string fifo)
      : gdb_(std::move(gdb)), input_(input), fifo_(std::move(fifo)) {}

  km_test::Child gdb_;
  int input_;
  std::string fifo_;
  size_t seen_ = 0;  // stdout up to here was matched by an earlier wait
};

}  // namespace km_gdb_test
