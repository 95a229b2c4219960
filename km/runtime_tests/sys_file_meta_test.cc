// sys_file_meta.cc's handlers on real files: what they refuse (bad pointers, fds and /proc paths
// that are km's), and that offsets, times and null paths behave as on Linux.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "km/runtime/guest_thread.h"
#include "km/runtime_tests/syscalls_fixture.h"

namespace km {
namespace {

using FileMetaSyscallsTest = SyscallsTest;

constexpr char kContent[] = "0123456789";  // what each test file holds at first

// A file km opened for itself: a guest must not be able to change it.
class KmFile {
 public:
  explicit KmFile(std::string path) : path_(std::move(path)) {
    fd_ = open(path_.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
    EXPECT_GE(fd_, 0) << path_ << ": " << strerror(errno);
    EXPECT_EQ(write(fd_, kContent, 10), 10);
  }
  ~KmFile() {
    close(fd_);
    unlink(path_.c_str());
  }
  int fd() const { return fd_; }

  // Its mode, size, times and link count are as made.
  void ExpectUntouched() const {
    struct stat st;
    ASSERT_EQ(fstat(fd_, &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_size, 10);
    EXPECT_EQ(st.st_nlink, 1u);
    EXPECT_GT(st.st_mtim.tv_sec, 1000);
    EXPECT_EQ(st.st_uid, getuid());
    // Not locked by the guest: another open description can take the lock at once.
    const int other = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(other, 0);
    EXPECT_EQ(flock(other, LOCK_EX | LOCK_NB), 0);
    close(other);
  }

 private:
  std::string path_;
  int fd_ = -1;
};

class GuestFiles : public FileMetaSyscallsTest {
 protected:
  // Creates path for the guest, holding kContent; returns the guest's fd.
  int64_t GuestFile(const std::string& path) {
    const int64_t fd = Call(SYS_open, GuestString(path, 0x8000), O_CREAT | O_TRUNC | O_RDWR, 0644);
    EXPECT_GE(fd, 3);
    EXPECT_EQ(Call(SYS_write, fd, GuestString(kContent, 0x8000), 10), 10);
    return fd;
  }

  std::string FileText(const std::string& path) {
    char buf[64] = {};
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << path;
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return std::string(buf, n > 0 ? n : 0);
  }
};

TEST_F(GuestFiles, BadPointersAreEfault) {
  char host_buffer[256] = "km's own memory";
  const uint64_t host = reinterpret_cast<uint64_t>(host_buffer);
  const std::string path = TempPath() + "_meta_efault";
  const std::string copy = path + "_copy";
  const int64_t fd = GuestFile(path);
  const int64_t out = GuestFile(copy);
  ASSERT_EQ(Call(SYS_ftruncate, out, 0), 0);
  const uint64_t guest_path = GuestString(path, 0x1000);
  for (uint64_t bad : {uint64_t{0x1000}, host, uint64_t{0xffff800000000000}}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(Call(SYS_chmod, bad, 0777), -EFAULT);
    EXPECT_EQ(Call(SYS_truncate, bad, 0), -EFAULT);
    EXPECT_EQ(Call(SYS_link, guest_path, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_symlink, bad, guest_path), -EFAULT);
    EXPECT_EQ(Call(SYS_statfs, guest_path, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_fstatfs, fd, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_statx, AT_FDCWD, guest_path, 0, STATX_BASIC_STATS, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_statx, fd, 0, AT_EMPTY_PATH, STATX_BASIC_STATS, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_utimensat, AT_FDCWD, guest_path, bad, 0), -EFAULT);
    EXPECT_EQ(Call(SYS_utimensat, fd, 0, bad, 0), -EFAULT);
    EXPECT_EQ(Call(SYS_sendfile, out, fd, bad, 4), -EFAULT);
    EXPECT_EQ(Call(SYS_copy_file_range, fd, bad, out, 0, 4, 0), -EFAULT);
    EXPECT_EQ(Call(SYS_copy_file_range, fd, 0, out, bad, 4, 0), -EFAULT);
  }
  EXPECT_STREQ(host_buffer, "km's own memory");
  // A null path is a fault unless it names a dirfd.
  EXPECT_EQ(Call(SYS_utimensat, AT_FDCWD, 0, 0, 0), -EFAULT);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(FileText(path), kContent);
  EXPECT_EQ(FileText(copy), "");
  Call(SYS_close, fd);
  Call(SYS_close, out);
  unlink(path.c_str());
  unlink(copy.c_str());
}

TEST_F(GuestFiles, DescriptorsNotTheGuestsAreEbadf) {
  KmFile km(TempPath() + "_meta_km");
  const int kfd = km.fd();
  const std::string path = TempPath() + "_meta_guest";
  const std::string stolen = TempPath() + "_meta_stolen";
  const int64_t fd = GuestFile(path);
  const struct timespec times[2] = {{1, 0}, {1, 0}};
  ASSERT_TRUE(mem().Write(kData + 0x100, times, sizeof times).ok());
  const uint64_t empty = GuestString("", 0x200);
  const uint64_t name = GuestString("name", 0x300);
  const uint64_t stolen_path = GuestString(stolen, 0x400);
  EXPECT_EQ(Call(SYS_fchmod, kfd, 0777), -EBADF);
  EXPECT_EQ(Call(SYS_fchown, kfd, 0, 0), -EBADF);
  EXPECT_EQ(Call(SYS_fchownat, kfd, empty, 0, 0, AT_EMPTY_PATH), -EBADF);
  EXPECT_EQ(Call(SYS_fchmodat, kfd, name, 0777), -EBADF);
  EXPECT_EQ(Call(SYS_utimensat, kfd, 0, kData + 0x100, 0), -EBADF);
  EXPECT_EQ(Call(SYS_utimensat, kfd, empty, kData + 0x100, AT_EMPTY_PATH), -EBADF);
  EXPECT_EQ(Call(SYS_statx, kfd, empty, AT_EMPTY_PATH, STATX_BASIC_STATS, kData), -EBADF);
  EXPECT_EQ(Call(SYS_statx, kfd, 0, AT_EMPTY_PATH, STATX_BASIC_STATS, kData), -EBADF);
  EXPECT_EQ(Call(SYS_fstatfs, kfd, kData), -EBADF);
  EXPECT_EQ(Call(SYS_linkat, kfd, empty, AT_FDCWD, stolen_path, AT_EMPTY_PATH), -EBADF);
  EXPECT_EQ(Call(SYS_symlinkat, name, kfd, name), -EBADF);
  EXPECT_EQ(Call(SYS_fallocate, kfd, 0, 0, 1 << 20), -EBADF);
  EXPECT_EQ(Call(SYS_flock, kfd, LOCK_EX), -EBADF);
  EXPECT_EQ(Call(SYS_syncfs, kfd), -EBADF);
  EXPECT_EQ(Call(SYS_fadvise64, kfd, 0, 0, POSIX_FADV_DONTNEED), -EBADF);
  EXPECT_EQ(Call(SYS_sendfile, kfd, fd, 0, 4), -EBADF);
  EXPECT_EQ(Call(SYS_sendfile, fd, kfd, 0, 4), -EBADF);
  EXPECT_EQ(Call(SYS_copy_file_range, kfd, 0, fd, 0, 4, 0), -EBADF);
  EXPECT_EQ(Call(SYS_copy_file_range, fd, 0, kfd, 0, 4, 0), -EBADF);
  km.ExpectUntouched();
  EXPECT_EQ(access(stolen.c_str(), F_OK), -1);
  EXPECT_EQ(FileText(path), kContent);
  Call(SYS_close, fd);
  unlink(path.c_str());
}

TEST_F(GuestFiles, ProcPathsToKmsFilesAreRefused) {
  KmFile km(TempPath() + "_meta_km");
  const std::string stolen = TempPath() + "_meta_stolen";
  const std::string link = TempPath() + "_meta_link";
  const std::string via_proc = "/proc/self/fd/" + std::to_string(km.fd());
  ASSERT_EQ(symlink(via_proc.c_str(), link.c_str()), 0);
  const uint64_t stolen_path = GuestString(stolen, 0x400);
  for (const std::string& path : {via_proc, link}) {
    SCOPED_TRACE(path);
    const uint64_t p = GuestString(path);
    EXPECT_EQ(Call(SYS_truncate, p, 0), -ENOENT);
    EXPECT_EQ(Call(SYS_chmod, p, 0777), -ENOENT);
    EXPECT_EQ(Call(SYS_fchmodat, AT_FDCWD, p, 0777), -ENOENT);
    EXPECT_EQ(Call(SYS_chown, p, getuid(), getgid()), -ENOENT);
    EXPECT_EQ(Call(SYS_fchownat, AT_FDCWD, p, -1, -1, AT_SYMLINK_NOFOLLOW), -ENOENT);
    EXPECT_EQ(Call(SYS_utimensat, AT_FDCWD, p, 0, 0), -ENOENT);
    EXPECT_EQ(Call(SYS_linkat, AT_FDCWD, p, AT_FDCWD, stolen_path, AT_SYMLINK_FOLLOW), -ENOENT);
  }
  // Relative to the guest's own open /proc/self/fd directory.
  const int64_t dir = Call(SYS_open, GuestString("/proc/self/fd"), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  EXPECT_EQ(Call(SYS_fchmodat, dir, GuestString(std::to_string(km.fd())), 0777), -ENOENT);
  EXPECT_EQ(Call(SYS_close, dir), 0);
  km.ExpectUntouched();
  EXPECT_EQ(access(stolen.c_str(), F_OK), -1);
  // km's memory.
  const uint64_t mem_path = GuestString("/proc/self/mem");
  EXPECT_EQ(Call(SYS_chmod, mem_path, 0777), -EACCES);
  EXPECT_EQ(Call(SYS_truncate, mem_path, 0), -EACCES);
  EXPECT_EQ(Call(SYS_utimensat, AT_FDCWD, mem_path, 0, 0), -EACCES);
  // The guest's own descriptors may be named so: musl's fchmodat(AT_SYMLINK_NOFOLLOW) does.
  const std::string path = TempPath() + "_meta_guest";
  const int64_t fd = GuestFile(path);
  EXPECT_EQ(Call(SYS_chmod, GuestString("/proc/self/fd/" + std::to_string(fd)), 0600), 0);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  Call(SYS_close, fd);
  unlink(path.c_str());
  unlink(link.c_str());
}

TEST_F(GuestFiles, TimesOfAPathOrADescriptor) {
  const std::string path = TempPath() + "_meta_times";
  const int64_t fd = GuestFile(path);
  const struct timespec times[2] = {{1000000000, 0}, {1000000000, 5}};
  ASSERT_TRUE(mem().Write(kData + 0x100, times, sizeof times).ok());
  EXPECT_EQ(Call(SYS_utimensat, AT_FDCWD, GuestString(path), kData + 0x100, 0), 0);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 5);
  // A null path with a dirfd: the fd itself (futimens). UTIME_OMIT keeps the access time.
  const struct timespec mtime_only[2] = {{0, UTIME_OMIT}, {2000000000, 0}};
  ASSERT_TRUE(mem().Write(kData + 0x100, mtime_only, sizeof mtime_only).ok());
  EXPECT_EQ(Call(SYS_utimensat, fd, 0, kData + 0x100, 0), 0);
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000000000);
  // With a null path, flags are invalid (Linux's answer, from the host).
  EXPECT_EQ(Call(SYS_utimensat, fd, 0, kData + 0x100, AT_SYMLINK_NOFOLLOW), -EINVAL);
  // Nothing to change: the path is not looked at, as on Linux.
  const struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  ASSERT_TRUE(mem().Write(kData + 0x100, omit, sizeof omit).ok());
  EXPECT_EQ(Call(SYS_utimensat, AT_FDCWD, 0x1000, kData + 0x100, 0), 0);
  // No times: now.
  EXPECT_EQ(Call(SYS_utimensat, fd, 0, 0, 0), 0);
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_GE(st.st_mtim.tv_sec, time(nullptr) - 60);
  Call(SYS_close, fd);
  unlink(path.c_str());
}

TEST_F(GuestFiles, CopiesTakeAndUpdateTheirOffsets) {
  const std::string in_path = TempPath() + "_meta_in";
  const std::string out_path = TempPath() + "_meta_out";
  const int64_t in = GuestFile(in_path);
  const int64_t out = GuestFile(out_path);
  ASSERT_EQ(Call(SYS_ftruncate, out, 0), 0);
  ASSERT_EQ(Call(SYS_lseek, out, 0, SEEK_SET), 0);
  ASSERT_EQ(Call(SYS_lseek, in, 0, SEEK_SET), 0);

  // sendfile from offset 4: the offset moves, in's file position does not.
  const int64_t four = 4;
  ASSERT_TRUE(mem().Write(kData, &four, sizeof four).ok());
  EXPECT_EQ(Call(SYS_sendfile, out, in, kData, 3), 3);
  int64_t offset = 0;
  ASSERT_TRUE(mem().Read(kData, &offset, sizeof offset).ok());
  EXPECT_EQ(offset, 7);
  EXPECT_EQ(Call(SYS_lseek, in, 0, SEEK_CUR), 0);
  EXPECT_EQ(FileText(out_path), "456");

  // copy_file_range between explicit offsets.
  const int64_t offsets[2] = {1, 1};
  ASSERT_TRUE(mem().Write(kData + 0x100, offsets, sizeof offsets).ok());
  EXPECT_EQ(Call(SYS_copy_file_range, in, kData + 0x100, out, kData + 0x108, 2, 0), 2);
  int64_t back[2] = {};
  ASSERT_TRUE(mem().Read(kData + 0x100, back, sizeof back).ok());
  EXPECT_EQ(back[0], 3);
  EXPECT_EQ(back[1], 3);
  EXPECT_EQ(FileText(out_path), "412");
  EXPECT_EQ(Call(SYS_copy_file_range, in, kData + 0x100, out, kData + 0x108, 2, 1), -EINVAL);

  // An offset that can be read but not written back: the data moves, the call says EFAULT.
  const int64_t page = Call(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            static_cast<uint64_t>(-1), 0);
  ASSERT_GT(page, 0);
  ASSERT_TRUE(mem().Write(page, &four, sizeof four).ok());
  ASSERT_EQ(Call(SYS_mprotect, page, 4096, PROT_READ), 0);
  ASSERT_EQ(Call(SYS_lseek, out, 0, SEEK_END), 3);
  EXPECT_EQ(Call(SYS_sendfile, out, in, page, 2), -EFAULT);
  EXPECT_EQ(FileText(out_path), "41245");

  // Into a pipe nobody reads: EPIPE, and SIGPIPE for the thread, as a write gets.
  signal(SIGPIPE, SIG_IGN);  // the host's, for this test process
  int p[2];
  ASSERT_EQ(Call(SYS_pipe, kData + 0x200), 0);
  ASSERT_TRUE(mem().Read(kData + 0x200, p, sizeof p).ok());
  EXPECT_EQ(Call(SYS_close, p[0]), 0);
  EXPECT_EQ(process_->main_thread()->PendingSignals() & (1ull << (SIGPIPE - 1)), 0u);
  EXPECT_EQ(Call(SYS_sendfile, p[1], in, 0, 2), -EPIPE);
  EXPECT_NE(process_->main_thread()->PendingSignals() & (1ull << (SIGPIPE - 1)), 0u);

  Call(SYS_close, p[1]);
  Call(SYS_close, in);
  Call(SYS_close, out);
  unlink(in_path.c_str());
  unlink(out_path.c_str());
}

TEST_F(GuestFiles, StatxOfADescriptorWithANullPath) {
  const std::string path = TempPath() + "_meta_statx";
  const int64_t fd = GuestFile(path);
  EXPECT_EQ(Call(SYS_statx, fd, 0, AT_EMPTY_PATH, STATX_BASIC_STATS, kData), 0);
  struct statx stx;
  ASSERT_TRUE(mem().Read(kData, &stx, sizeof stx).ok());
  EXPECT_EQ(stx.stx_size, 10u);
  EXPECT_EQ(Call(SYS_link, GuestString(path), GuestString(path + "_2", 0x1000)), 0);
  EXPECT_EQ(Call(SYS_statx, AT_FDCWD, GuestString(path), 0, STATX_NLINK, kData), 0);
  ASSERT_TRUE(mem().Read(kData, &stx, sizeof stx).ok());
  EXPECT_EQ(stx.stx_nlink, 2u);
  Call(SYS_close, fd);
  unlink(path.c_str());
  unlink((path + "_2").c_str());
}

}  // namespace
}  // namespace km
