#include "km/runtime/fd_table.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "km/runtime/signal_state.h"

namespace km {

FdTable::Ref& FdTable::Ref::operator=(Ref&& other) noexcept {
  if (this != &other) {
    Reset();
    table_ = other.table_;
    fd_ = other.fd_;
    other.table_ = nullptr;
  }
  return *this;
}

void FdTable::Ref::Reset() {
  if (table_ != nullptr) table_->Release(fd_);
  table_ = nullptr;
}

FdTable::FdTable() {
  absl::MutexLock lock(&mu_);
  for (int fd = 0; fd < 3; fd++) fds_[fd] = Entry{};
}

int FdTable::Acquire(int fd, Ref* ref) {
  absl::MutexLock lock(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end() || it->second.closing) return -EBADF;
  it->second.users++;
  *ref = Ref(this, fd);
  return 0;
}

void FdTable::Adopt(int fd) {
  absl::MutexLock lock(&mu_);
  fds_[fd] = Entry{};
}

int FdTable::Close(int fd) {
  absl::MutexLock lock(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end() || it->second.closing) return -EBADF;
  if (it->second.users > 0) {
    it->second.closing = true;
    return 0;
  }
  fds_.erase(it);
  // Linux releases the descriptor even when close reports an error (EINTR, EIO): so does km.
  ::close(fd);
  return 0;
}

int FdTable::DupOnto(int oldfd, int newfd, int flags) {
  absl::MutexLock lock(&mu_);
  auto old_it = fds_.find(oldfd);
  if (old_it == fds_.end() || old_it->second.closing) return -EBADF;
  auto it = fds_.find(newfd);
  if (it != fds_.end()) {
    if (it->second.closing) return -EBUSY;
  } else if (newfd < 0 || ::fcntl(newfd, F_GETFD) != -1) {
    return -EBADF;
  }
  const std::optional<uint64_t> signal_mask = old_it->second.signal_mask;
  if (::dup3(oldfd, newfd, flags) < 0) return -errno;
  // Calls in flight on the old file keep it alive in the kernel; the number stays the guest's.
  fds_[newfd].signal_mask = signal_mask;
  return newfd;
}

void FdTable::AdoptDupOf(int newfd, int oldfd) {
  absl::MutexLock lock(&mu_);
  auto old_it = fds_.find(oldfd);
  fds_[newfd] = Entry{.signal_mask = old_it != fds_.end() ? old_it->second.signal_mask
                                                          : std::nullopt};
}

void FdTable::AdoptSignalfd(int fd, uint64_t mask) {
  absl::MutexLock lock(&mu_);
  fds_[fd] = Entry{.signal_mask = mask};
  had_signalfd_.store(true);
  watched_signals_.fetch_or(mask);
}

int FdTable::SetSignalfdMask(int fd, uint64_t mask) {
  absl::MutexLock lock(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end() || it->second.closing) return -EBADF;
  if (!it->second.signal_mask) return -EINVAL;
  it->second.signal_mask = mask;
  watched_signals_.fetch_or(mask);
  return 0;
}

std::optional<uint64_t> FdTable::SignalfdMask(int fd) {
  if (!had_signalfd_.load()) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = fds_.find(fd);
  return it == fds_.end() ? std::nullopt : it->second.signal_mask;
}

void FdTable::NotifySignalfds(int signo) {
  if ((watched_signals_.load() & SignalBit(signo)) == 0) return;
  absl::MutexLock lock(&mu_);
  for (const auto& [fd, entry] : fds_) {
    if (entry.signal_mask && (*entry.signal_mask & SignalBit(signo)) != 0) {
      const uint64_t one = 1;
      (void)!::write(fd, &one, sizeof one);
    }
  }
}

bool FdTable::Owns(int fd) {
  absl::MutexLock lock(&mu_);
  auto it = fds_.find(fd);
  return it != fds_.end() && !it->second.closing;
}

void FdTable::Release(int fd) {
  absl::MutexLock lock(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  if (--it->second.users == 0 && it->second.closing) {
    fds_.erase(it);
    ::close(fd);
  }
}

}  // namespace km
