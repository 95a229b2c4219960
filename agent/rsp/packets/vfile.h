// vFile: host I/O, through which gdb reads the payload's executable "from the target".
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::rsp {

struct VFileOpen {
  std::string path;
  uint32_t flags;  // gdb's File-I/O flags (O_RDONLY 0, O_WRONLY 1, O_RDWR 2, O_CREAT 0x200...)
  uint32_t mode;
};
struct VFilePread {
  int fd;
  uint64_t count;
  uint64_t offset;
};
struct VFileClose {
  int fd;
};
struct VFileFstat {
  int fd;
};
struct VFileSetFs {
  int pid;  // 0: the agent's own filesystem view
};
struct VFileReadlink {
  std::string path;
};
struct VFileUnsupported {
  std::string op;  // pwrite, unlink, stat...: answered as not supported
};

using VFileRequest = std::variant<VFileOpen, VFilePread, VFileClose, VFileFstat, VFileSetFs,
                                  VFileReadlink, VFileUnsupported>;

// The whole packet "vFile:OP:ARGS".
absl::StatusOr<VFileRequest> ParseVFile(absl::string_view packet);

// Replies: "F" RESULT [";" ATTACHMENT], the result in hex, errors as "F-1,ERRNO" with gdb's
// File-I/O errno numbers.
std::string VFileResult(int64_t result);
std::string VFileResult(int64_t result, absl::string_view binary_attachment);
std::string VFileError(int host_errno);

// The File-I/O "struct stat": big-endian fields, 64 bytes (what vFile:fstat returns).
std::string FileIoStat(uint32_t dev, uint32_t ino, uint32_t mode, uint32_t nlink, uint32_t uid,
                       uint32_t gid, uint32_t rdev, uint64_t size, uint64_t blksize,
                       uint64_t blocks, uint32_t atime, uint32_t mtime, uint32_t ctime);

}  // namespace agent::rsp
