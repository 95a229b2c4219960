// Moving syscall arguments between guest memory and km: every pointer a payload passes goes
// through these, so that a bad one (unmapped, forbidden, one of km's own host addresses) is
// -EFAULT and never a km crash. Functions return 0 or -errno, the currency of syscalls.
#pragma once

#include <errno.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "km/guest_memory.h"

namespace km {

// The errno a syscall returns for a GuestMemory failure (see the status codes it documents).
int ErrnoFromStatus(const absl::Status& status);

inline int CopyInBytes(const GuestMemory& mem, uint64_t gva, void* dst, uint64_t len) {
  return mem.Read(gva, dst, len).ok() ? 0 : -EFAULT;
}
inline int CopyOutBytes(const GuestMemory& mem, uint64_t gva, const void* src, uint64_t len) {
  return mem.Write(gva, src, len).ok() ? 0 : -EFAULT;
}
template <typename T>
int CopyIn(const GuestMemory& mem, uint64_t gva, T* out) {
  return CopyInBytes(mem, gva, out, sizeof(T));
}
template <typename T>
int CopyOut(const GuestMemory& mem, uint64_t gva, const T& value) {
  return CopyOutBytes(mem, gva, &value, sizeof(T));
}

// A path argument: -EFAULT, or -ENAMETOOLONG past PATH_MAX.
int ReadPath(const GuestMemory& mem, uint64_t gva, std::string* path);

// Host iovecs covering the guest buffer [gva, gva + len) for a host read (need kWrite: the
// kernel writes guest memory) or write (kRead). The buffer may span several regions; it must be
// wholly accessible, else -EFAULT. Appends at most max_iov entries, a short buffer after that
// (read and write may transfer less than asked).
int GuestBufferIovecs(const GuestMemory& mem, uint64_t gva, uint64_t len, Access need,
                      std::vector<iovec>* out, size_t max_iov);

// The guest's own iovec array (readv/writev): iovcnt entries at gva, translated as above.
// -EINVAL for iovcnt > IOV_MAX or a total past SSIZE_MAX, -EFAULT for a bad pointer.
int GuestIovecArray(const GuestMemory& mem, uint64_t gva, uint64_t iovcnt, Access need,
                    std::vector<iovec>* out);

}  // namespace km
