// Keeps a payload's open() away from the /proc files that are km itself: /proc/<km>/mem (km's
// own memory, writable) and /proc/<km>/fd/N for descriptors that are km's (reopening them would
// get around the FdTable). Other /proc files describe km too (maps, status) but give no power
// over it.
#pragma once

#include <string>

#include "km/runtime/fd_table.h"

namespace km {

// Before opening path (relative to dirfd, AT_FDCWD or a guest fd): 0, or the -errno to return.
// Follows symlinks in the path, so a link to /proc/self/mem is caught too.
int CheckOpenPath(int dirfd, const std::string& path, FdTable& fds);

// After opening: 0, or -EACCES if fd turned out to be km's memory file.
int CheckOpenedFd(int fd);

}  // namespace km
