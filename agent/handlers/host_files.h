// vFile host I/O: the files gdb opens on the agent's host (the payload's executable, for its
// symbols). They belong to the gdb connection, not to a process: in extended mode gdb checks
// its open executable between one run and the next, when there may be no process at all.
// Implemented in vfile.cc.
#pragma once

#include <map>

#include "absl/strings/string_view.h"
#include "agent/handlers/handlers.h"

namespace agent {

class HostFiles {
 public:
  HostFiles() = default;
  HostFiles(const HostFiles&) = delete;
  HostFiles& operator=(const HostFiles&) = delete;
  ~HostFiles();

  // A vFile:... packet.
  Response Handle(absl::string_view packet);

 private:
  std::map<int, int> fds_;  // gdb's fd -> host fd
  int next_fd_ = 1;
};

}  // namespace agent
