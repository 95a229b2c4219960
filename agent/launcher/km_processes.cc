#include "agent/launcher/km_processes.h"

#include <dirent.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace agent {
namespace {

std::string ReadLink(const std::string& path) {
  char buf[4096];
  const ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return "";
  return std::string(buf, static_cast<size_t>(n));
}

std::string RealPath(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (real == nullptr) return path;
  std::string out(real);
  free(real);
  return out;
}

std::string UserName(uid_t uid) {
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr) return pw.pw_name;
  return std::to_string(uid);
}

std::vector<std::string> Cmdline(int pid) {
  std::ifstream in(absl::StrFormat("/proc/%d/cmdline", pid), std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  if (!text.empty() && text.back() == '\0') text.pop_back();
  if (text.empty()) return {};
  return absl::StrSplit(text, '\0');
}

// Why pid is not an attachable km, or "" when it is.
std::string NotKm(int pid, const std::string& km_path) {
  struct stat st;
  if (stat(absl::StrFormat("/proc/%d", pid).c_str(), &st) != 0) {
    return absl::StrFormat("no process %d", pid);
  }
  if (st.st_uid != getuid()) return absl::StrFormat("process %d belongs to another user", pid);
  std::string exe = ReadLink(absl::StrFormat("/proc/%d/exe", pid));
  if (exe.empty()) return absl::StrFormat("cannot read process %d's executable", pid);
  // A km rebuilt while it runs shows as "PATH (deleted)": still a km.
  if (absl::EndsWith(exe, " (deleted)")) exe.resize(exe.size() - strlen(" (deleted)"));
  const bool named_km = exe.substr(exe.rfind('/') + 1) == "km";
  if (!named_km && (km_path.empty() || exe != RealPath(km_path))) {
    return absl::StrFormat("process %d is not km (it runs %s)", pid, exe);
  }
  return "";
}

// The value of km's --debug-socket flag. Mirrors km's own split of its command line: flags
// come first, "--" or the first other argument starts the payload, and these flags take the
// next argument as their value when written without '='.
std::string DebugSocketFlag(const std::vector<std::string>& cmdline) {
  static const char* const kValueFlags[] = {"accel", "memory", "debug_socket", "flagfile",
                                            "fromenv", "tryfromenv", "undefok"};
  for (size_t i = 1; i < cmdline.size(); ++i) {
    absl::string_view arg = cmdline[i];
    if (arg == "--" || arg.size() < 2 || arg[0] != '-') break;
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    const size_t eq = arg.find('=');
    std::string name(arg.substr(0, eq));
    std::replace(name.begin(), name.end(), '-', '_');
    if (eq != absl::string_view::npos) {
      if (name == "debug_socket") return std::string(arg.substr(eq + 1));
      continue;
    }
    const bool takes_value =
        std::find(std::begin(kValueFlags), std::end(kValueFlags), name) != std::end(kValueFlags);
    if (!takes_value || i + 1 >= cmdline.size()) continue;
    ++i;
    if (name == "debug_socket") return cmdline[i];
  }
  return "";
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

absl::StatusOr<KmProcess> FindKmProcess(int pid, const std::string& km_path) {
  if (pid <= 0) return absl::InvalidArgumentError(absl::StrCat("bad pid ", pid));
  const std::string why_not = NotKm(pid, km_path);
  if (!why_not.empty()) return absl::FailedPreconditionError(why_not);
  return KmProcess{pid, UserName(getuid()), Cmdline(pid)};
}

std::vector<KmProcess> ListKmProcesses(const std::string& km_path) {
  std::vector<KmProcess> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid == getpid()) continue;
    if (!NotKm(pid, km_path).empty()) continue;
    out.push_back(KmProcess{pid, UserName(getuid()), Cmdline(pid)});
  }
  closedir(proc);
  std::sort(out.begin(), out.end(), [](const KmProcess& a, const KmProcess& b) { return a.pid < b.pid; });
  return out;
}

absl::StatusOr<std::string> DebugSocketOf(const KmProcess& km, absl::Duration timeout) {
  std::string socket = DebugSocketFlag(km.cmdline);
  if (!socket.empty()) {
    // A relative path is relative to km's working directory.
    if (socket[0] != '/') socket = absl::StrCat(ReadLink(absl::StrFormat("/proc/%d/cwd", km.pid)), "/", socket);
    if (!Exists(socket)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "km %d was started with --debug-socket %s, which is gone", km.pid, socket));
    }
    return socket;
  }
  // km's DefaultSocketPath.
  socket = absl::StrFormat("/tmp/km-%d.sock", km.pid);
  if (Exists(socket)) return socket;
  if (kill(km.pid, SIGUSR1) != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("cannot signal km %d: %s", km.pid, strerror(errno)));
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (!Exists(socket)) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrFormat("km %d did not open %s after SIGUSR1", km.pid, socket));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return socket;
}

}  // namespace agent
