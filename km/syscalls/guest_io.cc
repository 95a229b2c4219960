#include "km/syscalls/guest_io.h"

#include <limits.h>

#include <algorithm>

namespace km {
namespace {

// Linux caps one read or write at MAX_RW_COUNT, INT_MAX rounded down to a page.
constexpr uint64_t kMaxRwCount = 0x7ffff000;

}  // namespace

int ErrnoFromStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return EINVAL;
    case absl::StatusCode::kAlreadyExists:
      return EEXIST;
    case absl::StatusCode::kResourceExhausted:
      return ENOMEM;
    case absl::StatusCode::kFailedPrecondition:
      return EFAULT;
    case absl::StatusCode::kOutOfRange:
      return ERANGE;
    default:
      return EFAULT;
  }
}

int ReadPath(const GuestMemory& mem, uint64_t gva, std::string* path) {
  absl::StatusOr<std::string> s = mem.ReadCString(gva, PATH_MAX - 1);
  if (s.ok()) {
    *path = *std::move(s);
    return 0;
  }
  return s.status().code() == absl::StatusCode::kOutOfRange ? -ENAMETOOLONG : -EFAULT;
}

int GuestBufferIovecs(const GuestMemory& mem, uint64_t gva, uint64_t len, Access need,
                      std::vector<iovec>* out, size_t max_iov) {
  if (len == 0 || max_iov == 0) return 0;
  len = std::min(len, kMaxRwCount);
  absl::StatusOr<uint8_t*> host = mem.HostPointer(gva, len, need);
  if (host.ok()) {
    out->push_back({*host, len});
    return 0;
  }
  if (host.status().code() != absl::StatusCode::kOutOfRange) return -EFAULT;
  // Accessible but spread over several regions: one iovec per region.
  const uint64_t end = gva + len;
  uint64_t at = gva;
  size_t added = 0;
  for (const Region& r : mem.Regions()) {
    if (at >= end || added == max_iov) break;
    if (r.gva + r.size <= at) continue;
    if (r.gva > at) return -EFAULT;  // a hole
    const uint64_t piece = std::min(end, r.gva + r.size) - at;
    absl::StatusOr<uint8_t*> p = mem.HostPointer(at, piece, need);
    if (!p.ok()) return -EFAULT;
    out->push_back({*p, piece});
    added++;
    at += piece;
  }
  if (at < end && added < max_iov) return -EFAULT;
  return 0;
}

int GuestIovecArray(const GuestMemory& mem, uint64_t gva, uint64_t iovcnt, Access need,
                    std::vector<iovec>* out) {
  if (iovcnt > IOV_MAX) return -EINVAL;
  if (iovcnt == 0) return 0;
  std::vector<iovec> guest(iovcnt);
  if (int e = CopyInBytes(mem, gva, guest.data(), iovcnt * sizeof(iovec)); e != 0) return e;
  uint64_t total = 0;
  for (const iovec& v : guest) {
    if (v.iov_len > SSIZE_MAX - total) return -EINVAL;
    total += v.iov_len;
  }
  for (const iovec& v : guest) {
    if (out->size() >= IOV_MAX) break;
    int e = GuestBufferIovecs(mem, reinterpret_cast<uint64_t>(v.iov_base), v.iov_len, need, out,
                              IOV_MAX - out->size());
    if (e != 0) return e;
  }
  return 0;
}

}  // namespace km
