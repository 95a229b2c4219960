// vFile host I/O: gdb reads the payload's executable through it, so a plain
// `target remote` finds symbols with no local copy named. The agent runs on km's host, so the
// files are its own to open, but for the payload's own /proc files (ProcView, proc_files.cc).
// Read-only: gdb needs nothing else here.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "agent/handlers/host_files.h"
#include "agent/log.h"
#include "agent/rsp/packets/vfile.h"

namespace agent {
namespace {

// gdb's File-I/O open flags beyond the access mode: O_APPEND, O_CREAT, O_TRUNC, O_EXCL.
constexpr uint32_t kFileIoAccessMask = 3;
constexpr uint32_t kFileIoReadOnly = 0;
// A pread reply carries escaped binary data: at worst twice its size.
constexpr uint64_t kMaxPread = (kPacketSize - 32) / 2;

}  // namespace

Response Handlers::VFile(absl::string_view packet) {
  return host_files_->Handle(packet, ProcView{[this](absl::string_view path) { return ProcFile(path); },
                                              [this](absl::string_view path) { return ProcLink(path); }});
}

void Handlers::ShareHostFiles(std::shared_ptr<HostFiles> files) { host_files_ = std::move(files); }

HostFiles::~HostFiles() {
  for (const auto& [gdb_fd, host_fd] : fds_) close(host_fd);
}

Response HostFiles::Handle(absl::string_view packet, const ProcView& view) {
  absl::StatusOr<rsp::VFileRequest> req = rsp::ParseVFile(packet);
  if (!req.ok()) {
    Log(req.status().message());
    return Response{{rsp::VFileError(EINVAL)}};
  }
  if (const auto* open_req = std::get_if<rsp::VFileOpen>(&*req)) {
    if ((open_req->flags & ~kFileIoAccessMask) != 0 ||
        (open_req->flags & kFileIoAccessMask) != kFileIoReadOnly) {
      return Response{{rsp::VFileError(EACCES)}};
    }
    if (view.file) {
      if (std::optional<absl::StatusOr<std::string>> served = view.file(open_req->path)) {
        if (!served->ok()) return Response{{rsp::VFileError(ENOENT)}};
        const int gdb_fd = next_fd_++;
        served_files_[gdb_fd] = **std::move(served);
        return Response{{rsp::VFileResult(gdb_fd)}};
      }
    }
    const int fd = open(open_req->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Response{{rsp::VFileError(errno)}};
    const int gdb_fd = next_fd_++;
    fds_[gdb_fd] = fd;
    return Response{{rsp::VFileResult(gdb_fd)}};
  }
  if (const auto* pread_req = std::get_if<rsp::VFilePread>(&*req)) {
    if (auto served = served_files_.find(pread_req->fd); served != served_files_.end()) {
      const std::string& data = served->second;
      const std::string part = pread_req->offset >= data.size()
                                   ? std::string()
                                   : data.substr(pread_req->offset, std::min(pread_req->count, kMaxPread));
      return Response{{rsp::VFileResult(static_cast<int64_t>(part.size()), part)}};
    }
    auto it = fds_.find(pread_req->fd);
    if (it == fds_.end()) return Response{{rsp::VFileError(EBADF)}};
    std::string buf(std::min(pread_req->count, kMaxPread), '\0');
    const ssize_t n = pread(it->second, buf.data(), buf.size(), static_cast<off_t>(pread_req->offset));
    if (n < 0) return Response{{rsp::VFileError(errno)}};
    buf.resize(static_cast<size_t>(n));
    return Response{{rsp::VFileResult(n, buf)}};
  }
  if (const auto* close_req = std::get_if<rsp::VFileClose>(&*req)) {
    if (served_files_.erase(close_req->fd) != 0) return Response{{rsp::VFileResult(0)}};
    auto it = fds_.find(close_req->fd);
    if (it == fds_.end()) return Response{{rsp::VFileError(EBADF)}};
    close(it->second);
    fds_.erase(it);
    return Response{{rsp::VFileResult(0)}};
  }
  if (const auto* fstat_req = std::get_if<rsp::VFileFstat>(&*req)) {
    if (auto served = served_files_.find(fstat_req->fd); served != served_files_.end()) {
      const uint64_t size = served->second.size();
      const std::string data = rsp::FileIoStat(0, 0, S_IFREG | 0444, 1, getuid(), getgid(), 0, size,
                                               4096, (size + 511) / 512, 0, 0, 0);
      return Response{{rsp::VFileResult(static_cast<int64_t>(data.size()), data)}};
    }
    auto it = fds_.find(fstat_req->fd);
    if (it == fds_.end()) return Response{{rsp::VFileError(EBADF)}};
    struct stat st;
    if (fstat(it->second, &st) != 0) return Response{{rsp::VFileError(errno)}};
    const std::string data = rsp::FileIoStat(
        static_cast<uint32_t>(st.st_dev), static_cast<uint32_t>(st.st_ino), st.st_mode,
        static_cast<uint32_t>(st.st_nlink), st.st_uid, st.st_gid, static_cast<uint32_t>(st.st_rdev),
        static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(st.st_blksize),
        static_cast<uint64_t>(st.st_blocks), static_cast<uint32_t>(st.st_atime),
        static_cast<uint32_t>(st.st_mtime), static_cast<uint32_t>(st.st_ctime));
    return Response{{rsp::VFileResult(static_cast<int64_t>(data.size()), data)}};
  }
  if (std::holds_alternative<rsp::VFileSetFs>(*req)) {
    // The payload sees the host's filesystem through km, so every pid's view is the agent's.
    return Response{{rsp::VFileResult(0)}};
  }
  if (const auto* readlink_req = std::get_if<rsp::VFileReadlink>(&*req)) {
    if (view.link) {
      if (std::optional<std::string> target = view.link(readlink_req->path)) {
        return Response{{rsp::VFileResult(static_cast<int64_t>(target->size()), *target)}};
      }
    }
    char buf[4096];
    const ssize_t n = readlink(readlink_req->path.c_str(), buf, sizeof buf);
    if (n < 0) return Response{{rsp::VFileError(errno)}};
    return Response{{rsp::VFileResult(n, std::string(buf, static_cast<size_t>(n)))}};
  }
  return Response{{rsp::VFileError(ENOSYS)}};
}

}  // namespace agent
