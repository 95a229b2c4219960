// The host file descriptors that belong to the guest. Guest fds are host fds, but km has
// descriptors of its own (its engine, later the debug socket); a guest naming any fd that is not
// in this table gets EBADF, so it can never read, write, close or dup over one of km's.
//
// A guest close() while another guest thread is inside a host call on the same fd (a blocking
// read) takes the number away from the guest at once but defers the host close until that call
// returns: otherwise the host could hand the number to km's next descriptor and the pending
// call's retry, or the guest's next use, would land on it.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace km {

class FdTable {
 public:
  // One use of a guest fd for the duration of a host call; keeps the host fd open.
  class Ref {
   public:
    Ref() = default;
    Ref(Ref&& other) noexcept : table_(other.table_), fd_(other.fd_) { other.table_ = nullptr; }
    Ref& operator=(Ref&& other) noexcept;
    Ref(const Ref&) = delete;
    Ref& operator=(const Ref&) = delete;
    ~Ref() { Reset(); }

    int fd() const { return fd_; }

   private:
    friend class FdTable;
    Ref(FdTable* table, int fd) : table_(table), fd_(fd) {}
    void Reset();

    FdTable* table_ = nullptr;
    int fd_ = -1;
  };

  // Starts with the standard streams 0, 1 and 2 (whether or not they are open).
  FdTable();

  // A use of fd, or -EBADF if the guest does not own it.
  int Acquire(int fd, Ref* ref);
  // Records a host fd the guest just obtained (open, dup, pipe, ...).
  void Adopt(int fd);
  // The guest's close(fd): 0 or -EBADF. The host close may be deferred (see above).
  int Close(int fd);
  // dup3(oldfd, newfd, flags) for the guest, checked and done under the table's lock so that no
  // close can slip in between: newfd must be the guest's already or not open on the host (one
  // of km's own is -EBADF; one being closed is -EBUSY, as Linux says when dup2 races an open).
  // Returns newfd or -errno.
  int DupOnto(int oldfd, int newfd, int flags);
  bool Owns(int fd);
  // dup and fcntl(F_DUPFD) made newfd from oldfd: Adopt(newfd), keeping what oldfd is (a
  // signalfd stays one).
  void AdoptDupOf(int newfd, int oldfd);

  // signalfd: km serves reads of these itself (sys_signalfd.cc); the host fd is an eventfd that
  // km makes readable while a signal they read may be pending, for poll and epoll.
  void AdoptSignalfd(int fd, uint64_t mask);
  // 0, -EBADF (not the guest's), or -EINVAL (not a signalfd).
  int SetSignalfdMask(int fd, uint64_t mask);
  std::optional<uint64_t> SignalfdMask(int fd);
  // A signal was made pending: every signalfd that reads it becomes readable.
  void NotifySignalfds(int signo);

 private:
  struct Entry {
    int users = 0;
    bool closing = false;  // the guest closed it; the host close waits for users to reach 0
    std::optional<uint64_t> signal_mask;  // a signalfd: the signals it reads
  };
  void Release(int fd);

  absl::Mutex mu_;
  absl::flat_hash_map<int, Entry> fds_ ABSL_GUARDED_BY(mu_);
  // Whether a signalfd was ever made, and every signal one ever read: most payloads make none,
  // and then a read or a signal sent needs no look at the table (a stale answer only costs
  // that look).
  std::atomic<bool> had_signalfd_{false};
  std::atomic<uint64_t> watched_signals_{0};
};

}  // namespace km
