// vFile host I/O: the files gdb opens on the agent's host (the payload's executable, for its
// symbols). They belong to the gdb connection, not to a process: in extended mode gdb checks
// its open executable between one run and the next, when there may be no process at all.
// Implemented in vfile.cc.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/handlers/handlers.h"

namespace agent {

// The payload's own /proc files. gdb knows the payload by km's pid, so /proc/PID/... on the host
// describes km (its command line, its executable, its host mappings) instead: `info proc` and
// `info proc mappings` read these. Each function answers for the paths it serves (a file's
// contents or an error, a link's target) and nullopt for any other path, which is the host's.
struct ProcView {
  std::function<std::optional<absl::StatusOr<std::string>>(absl::string_view path)> file;
  std::function<std::optional<std::string>(absl::string_view path)> link;
};

class HostFiles {
 public:
  HostFiles() = default;
  HostFiles(const HostFiles&) = delete;
  HostFiles& operator=(const HostFiles&) = delete;
  ~HostFiles();

  // A vFile:... packet; view, when given, serves the payload's /proc files.
  Response Handle(absl::string_view packet, const ProcView& view = {});

 private:
  std::map<int, int> fds_;                   // gdb's fd -> host fd
  std::map<int, std::string> served_files_;  // gdb's fd -> contents, for files of the ProcView
  int next_fd_ = 1;
};

}  // namespace agent
