#include "tests/gdb/interactive_gdb.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <regex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/engines.h"

namespace km_gdb_test {

absl::StatusOr<InteractiveGdb> InteractiveGdb::Start(const std::vector<std::string>& settings,
                                                     const std::string& target) {
  static std::atomic<int> next_id{0};
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string base = absl::StrFormat("%s/igdb%d-%d", tmp != nullptr ? tmp : "/tmp",
                                           getpid(), ++next_id);
  const std::string fifo = base + ".in";
  if (mkfifo(fifo.c_str(), 0600) != 0) {
    return absl::InternalError(absl::StrCat("mkfifo ", fifo, ": ", strerror(errno)));
  }
  // The shell opens the FIFO as gdb's input and then becomes gdb.
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" < \"$0\"", fifo, "/usr/bin/gdb",
                                   "-nx", "-q", "-iex", "set pagination off", "-iex",
                                   "set confirm off", "-iex", "set width 0", "-iex",
                                   absl::StrCat("directory ", km_test::Runfile(""))};
  for (const std::string& s : settings) {
    argv.push_back("-iex");
    argv.push_back(s);
  }
  argv.push_back("-ex");
  argv.push_back(target);
  const char* tmpdir = tmp != nullptr ? tmp : "/tmp";
  absl::StatusOr<km_test::Child> gdb = km_test::Child::Start(
      argv, {absl::StrCat("HOME=", tmpdir), "PATH=/usr/bin:/bin", "LANG=C", "TERM=dumb"},
      base + ".out", base + ".err");
  if (!gdb.ok()) return gdb.status();
  const int input = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // waits for the shell's open
  if (input < 0) return absl::InternalError(absl::StrCat("open ", fifo, ": ", strerror(errno)));
  return InteractiveGdb(*std::move(gdb), input, fifo);
}

InteractiveGdb::InteractiveGdb(InteractiveGdb&& other) noexcept
    : gdb_(std::move(other.gdb_)), input_(other.input_), fifo_(std::move(other.fifo_)),
      seen_(other.seen_) {
  other.input_ = -1;
  other.fifo_.clear();
}

InteractiveGdb::~InteractiveGdb() {
  if (input_ >= 0) close(input_);
  if (!fifo_.empty()) unlink(fifo_.c_str());
}

bool InteractiveGdb::Send(absl::string_view command) {
  if (input_ < 0) return false;
  // gdb may have died: a broken pipe is an error here, not a signal.
  signal(SIGPIPE, SIG_IGN);
  const std::string line = absl::StrCat(command, "\n");
  return write(input_, line.data(), line.size()) == static_cast<ssize_t>(line.size());
}

std::optional<std::vector<std::string>> InteractiveGdb::WaitFor(const std::string& regex,
                                                               absl::Duration timeout) {
  const std::regex re(regex);
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const std::string out = gdb_.Out();
    std::smatch m;
    if (out.size() > seen_) {
      const std::string fresh = out.substr(seen_);
      if (std::regex_search(fresh, m, re)) {
        std::vector<std::string> groups(m.begin(), m.end());
        seen_ += m.position(0) + m.length(0);
        return groups;
      }
    }
    if (absl::Now() > deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

std::optional<std::vector<std::string>> InteractiveGdb::Run(absl::string_view command,
                                                           const std::string& regex,
                                                           absl::Duration timeout) {
  if (!Send(command)) return std::nullopt;
  return WaitFor(regex, timeout);
}

int InteractiveGdb::Quit(absl::Duration timeout) {
  if (input_ >= 0) close(input_);
  input_ = -1;
  const int status = gdb_.Wait(timeout);
  if (status < 0) gdb_.Kill();
  return status;
}

}  // namespace km_gdb_test
