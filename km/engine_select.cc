// --accel: which engine runs the guest.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "km/engine.h"

namespace km {

absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(Accel accel, const PhysicalMemory& phys,
                                                     std::string* notice) {
  switch (accel) {
    case Accel::kKvm:
      return CreateKvmEngine(phys);
    case Accel::kTcg:
      return CreateTcgEngine(phys);
    case Accel::kAuto:
      break;
  }
  // Only whether /dev/kvm opens decides; a machine that has it but fails to create a VM should
  // say so rather than quietly run a hundred times slower.
  const int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    if (notice != nullptr) notice->clear();
    return CreateKvmEngine(phys);
  }
  const int err = errno;
  if (notice != nullptr) {
    *notice = absl::StrCat("km: /dev/kvm: ", std::strerror(err),
                           "; running on the tcg engine (software CPU)");
  }
  return CreateTcgEngine(phys);
}

}  // namespace km
