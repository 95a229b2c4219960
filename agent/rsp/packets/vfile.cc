#include "agent/rsp/packets/vfile.h"

#include <cerrno>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {
namespace {

absl::StatusOr<uint64_t> Number(absl::string_view text, absl::string_view what) {
  absl::StatusOr<uint64_t> n = ParseHex(text);
  if (!n.ok()) return absl::InvalidArgumentError(absl::StrCat("vFile ", what, ": ", n.status().message()));
  return *n;
}

absl::StatusOr<int> SmallNumber(absl::string_view text, absl::string_view what) {
  absl::StatusOr<uint64_t> n = Number(text, what);
  if (!n.ok()) return n.status();
  if (*n > 0x7fffffff) return absl::InvalidArgumentError(absl::StrCat("vFile ", what, " out of range"));
  return static_cast<int>(*n);
}

void PutBigEndian(std::string& out, uint64_t value, int size) {
  for (int i = size - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

}  // namespace

absl::StatusOr<VFileRequest> ParseVFile(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "vFile:")) {
    return absl::InvalidArgumentError(absl::StrCat("not a vFile packet: '", packet, "'"));
  }
  const size_t colon = packet.find(':');
  const absl::string_view op = packet.substr(0, colon);
  const absl::string_view args_text =
      colon == absl::string_view::npos ? absl::string_view() : packet.substr(colon + 1);
  std::vector<absl::string_view> args = absl::StrSplit(args_text, ',');
  auto want = [&](size_t n) -> absl::Status {
    if (args.size() == n) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrFormat("vFile:%s takes %d arguments, got %d", op, n, args.size()));
  };
  if (op == "open") {
    if (absl::Status s = want(3); !s.ok()) return s;
    absl::StatusOr<std::string> path = HexDecode(args[0]);
    if (!path.ok()) return path.status();
    absl::StatusOr<uint64_t> flags = Number(args[1], "flags");
    if (!flags.ok()) return flags.status();
    absl::StatusOr<uint64_t> mode = Number(args[2], "mode");
    if (!mode.ok()) return mode.status();
    return VFileOpen{*std::move(path), static_cast<uint32_t>(*flags), static_cast<uint32_t>(*mode)};
  }
  if (op == "pread") {
    if (absl::Status s = want(3); !s.ok()) return s;
    absl::StatusOr<int> fd = SmallNumber(args[0], "fd");
    if (!fd.ok()) return fd.status();
    absl::StatusOr<uint64_t> count = Number(args[1], "count");
    if (!count.ok()) return count.status();
    absl::StatusOr<uint64_t> offset = Number(args[2], "offset");
    if (!offset.ok()) return offset.status();
    return VFilePread{*fd, *count, *offset};
  }
  if (op == "close" || op == "fstat" || op == "setfs") {
    if (absl::Status s = want(1); !s.ok()) return s;
    absl::StatusOr<int> n = SmallNumber(args[0], op == "setfs" ? "pid" : "fd");
    if (!n.ok()) return n.status();
    if (op == "close") return VFileClose{*n};
    if (op == "fstat") return VFileFstat{*n};
    return VFileSetFs{*n};
  }
  if (op == "readlink") {
    if (absl::Status s = want(1); !s.ok()) return s;
    absl::StatusOr<std::string> path = HexDecode(args[0]);
    if (!path.ok()) return path.status();
    return VFileReadlink{*std::move(path)};
  }
  return VFileUnsupported{std::string(op)};
}

std::string VFileResult(int64_t result) {
  return result < 0 ? absl::StrFormat("F-%x", -result) : absl::StrFormat("F%x", result);
}

std::string VFileResult(int64_t result, absl::string_view binary_attachment) {
  return absl::StrCat(VFileResult(result), ";", EscapeBinary(binary_attachment));
}

std::string VFileError(int host_errno) {
  // gdb's File-I/O errno values; anything else is EUNKNOWN.
  int fileio;
  switch (host_errno) {
    case EPERM: fileio = 1; break;
    case ENOENT: fileio = 2; break;
    case EINTR: fileio = 4; break;
    case EBADF: fileio = 9; break;
    case EACCES: fileio = 13; break;
    case EFAULT: fileio = 14; break;
    case EBUSY: fileio = 16; break;
    case EEXIST: fileio = 17; break;
    case ENODEV: fileio = 19; break;
    case ENOTDIR: fileio = 20; break;
    case EISDIR: fileio = 21; break;
    case EINVAL: fileio = 22; break;
    case ENFILE: fileio = 23; break;
    case EMFILE: fileio = 24; break;
    case EFBIG: fileio = 27; break;
    case ENOSPC: fileio = 28; break;
    case ESPIPE: fileio = 29; break;
    case EROFS: fileio = 30; break;
    case ENOSYS: fileio = 88; break;
    case ENAMETOOLONG: fileio = 91; break;
    default: fileio = 9999; break;
  }
  return absl::StrFormat("F-1,%x", fileio);
}

std::string FileIoStat(uint32_t dev, uint32_t ino, uint32_t mode, uint32_t nlink, uint32_t uid,
                       uint32_t gid, uint32_t rdev, uint64_t size, uint64_t blksize,
                       uint64_t blocks, uint32_t atime, uint32_t mtime, uint32_t ctime) {
  std::string out;
  out.reserve(64);
  for (uint32_t v : {dev, ino, mode, nlink, uid, gid, rdev}) PutBigEndian(out, v, 4);
  for (uint64_t v : {size, blksize, blocks}) PutBigEndian(out, v, 8);
  for (uint32_t v : {atime, mtime, ctime}) PutBigEndian(out, v, 4);
  return out;
}

}  // namespace agent::rsp
