#include "km/initial_stack.h"

#include <elf.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "km/layout.h"

namespace km {
namespace {

// Linux's limits on execve arguments: one string (MAX_ARG_STRLEN) and all of them with their
// pointers (a quarter of the 8 MiB stack rlimit).
constexpr uint64_t kMaxArgStrlen = 32 * kPageSize;
constexpr uint64_t kMaxArgBytes = kStackSize / 4;
// AT_HWCAP is CPUID.1:EDX on x86. A fixed baseline x86-64 value (fpu..sse2, as common AMD parts
// report it) rather than the host's: the guest's CPU is the engine's, which under tcg is not the
// host's, and a fixed value keeps runs reproducible. musl does not read it on x86-64.
constexpr uint64_t kHwcap = 0x178bfbff;
constexpr uint64_t kClockTicks = 100;
constexpr char kPlatform[] = "x86_64";

absl::Status CheckStrings(const char* what, const std::vector<std::string>& strings,
                          uint64_t* bytes) {
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string& s = strings[i];
    if (s.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrFormat("%s[%d] contains a NUL byte", what, i));
    }
    if (s.size() + 1 > kMaxArgStrlen) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s[%d] is %d bytes, longer than Linux allows (%d)", what, i, s.size(), kMaxArgStrlen));
    }
    *bytes += s.size() + 1 + sizeof(uint64_t);
  }
  return absl::OkStatus();
}

void Put64(std::vector<uint8_t>& img, uint64_t base, uint64_t gva, uint64_t value) {
  memcpy(&img[gva - base], &value, sizeof(value));
}

void PutBytes(std::vector<uint8_t>& img, uint64_t base, uint64_t gva, const void* src,
              uint64_t len) {
  memcpy(&img[gva - base], src, len);
}

absl::Status FillRandom(uint8_t* buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = getrandom(buf + done, len - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(
          absl::StrFormat("getrandom for AT_RANDOM: %s", strerror(errno)));
    }
    done += n;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<InitialStack> BuildInitialStack(GuestMemory& mem, const LoadedImage& image,
                                               const std::vector<std::string>& argv_in,
                                               const std::vector<std::string>& envp) {
  // Linux (5.18+) turns an empty argv into {""} rather than start a program with argc 0.
  const std::vector<std::string> argv = argv_in.empty() ? std::vector<std::string>{""} : argv_in;
  uint64_t arg_bytes = 0;
  if (absl::Status s = CheckStrings("argv", argv, &arg_bytes); !s.ok()) return s;
  if (absl::Status s = CheckStrings("envp", envp, &arg_bytes); !s.ok()) return s;
  if (image.path.find('\0') != std::string::npos || image.path.size() + 1 > kMaxArgStrlen) {
    return absl::InvalidArgumentError("payload path is not a usable C string");
  }
  arg_bytes += image.path.size() + 1;
  if (arg_bytes > kMaxArgBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("arguments and environment take %d bytes, more than Linux allows (%d)",
                        arg_bytes, kMaxArgBytes));
  }

  uint8_t random[16];
  if (absl::Status s = FillRandom(random, sizeof(random)); !s.ok()) return s;

  // Addresses, top down, as fs/exec.c and create_elf_tables() lay them out: a zero word at the
  // very top, the exec file name, the envp strings, the argv strings (each group in order,
  // growing upward), then 16-byte alignment, the platform string, the AT_RANDOM bytes, and
  // below them argc, argv[], envp[] and auxv, the whole block ending 16-byte aligned at argc.
  uint64_t p = kStackTop - sizeof(uint64_t);
  p -= image.path.size() + 1;
  const uint64_t execfn_gva = p;
  uint64_t strings_size = 0;
  for (const std::string& s : argv) strings_size += s.size() + 1;
  for (const std::string& s : envp) strings_size += s.size() + 1;
  p -= strings_size;
  const uint64_t strings_gva = p;
  p &= ~uint64_t{15};
  p -= sizeof(kPlatform);
  const uint64_t platform_gva = p;
  p -= sizeof(random);
  const uint64_t random_gva = p;

  const std::vector<std::pair<uint64_t, uint64_t>> auxv = {
      {AT_HWCAP, kHwcap},
      {AT_PAGESZ, kPageSize},
      {AT_CLKTCK, kClockTicks},
      {AT_PHDR, image.phdr_gva},
      {AT_PHENT, image.phent},
      {AT_PHNUM, image.phnum},
      {AT_BASE, 0},
      {AT_FLAGS, 0},
      {AT_ENTRY, image.entry},
      {AT_UID, getuid()},
      {AT_EUID, geteuid()},
      {AT_GID, getgid()},
      {AT_EGID, getegid()},
      {AT_SECURE, 0},
      {AT_RANDOM, random_gva},
      {AT_HWCAP2, 0},
      {AT_EXECFN, execfn_gva},
      {AT_PLATFORM, platform_gva},
      {AT_NULL, 0},
  };
  const uint64_t words = 1 + (argv.size() + 1) + (envp.size() + 1) + 2 * auxv.size();
  const uint64_t rsp = (p - words * sizeof(uint64_t)) & ~uint64_t{15};

  std::vector<uint8_t> img(kStackTop - rsp, 0);
  uint64_t at = rsp;
  Put64(img, rsp, at, argv.size());
  at += 8;
  uint64_t str = strings_gva;
  for (const std::vector<std::string>* list : {&argv, &envp}) {
    for (const std::string& s : *list) {
      Put64(img, rsp, at, str);
      at += 8;
      PutBytes(img, rsp, str, s.c_str(), s.size() + 1);
      str += s.size() + 1;
    }
    Put64(img, rsp, at, 0);
    at += 8;
  }
  InitialStack out;
  out.rsp = rsp;
  for (const auto& [type, value] : auxv) {
    Put64(img, rsp, at, type);
    Put64(img, rsp, at + 8, value);
    out.auxv_bytes.append(reinterpret_cast<const char*>(&img[at - rsp]), 16);
    at += 16;
  }
  PutBytes(img, rsp, execfn_gva, image.path.c_str(), image.path.size() + 1);
  PutBytes(img, rsp, platform_gva, kPlatform, sizeof(kPlatform));
  PutBytes(img, rsp, random_gva, random, sizeof(random));

  const uint64_t stack_base = kStackTop - kStackSize;
  if (absl::Status s =
          mem.Map(stack_base, kStackSize, kProtRead | kProtWrite, RegionKind::kStack, "[stack]");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = mem.Write(rsp, img.data(), img.size()); !s.ok()) {
    mem.Unmap(stack_base, kStackSize).IgnoreError();
    return s;
  }
  return out;
}

}  // namespace km
