#include "km/runtime/fd_table.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace km {
namespace {

bool HostOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(FdTableTest, OwnsTheStandardStreamsOnly) {
  FdTable fds;
  EXPECT_TRUE(fds.Owns(0));
  EXPECT_TRUE(fds.Owns(1));
  EXPECT_TRUE(fds.Owns(2));
  EXPECT_FALSE(fds.Owns(3));
  FdTable::Ref ref;
  EXPECT_EQ(fds.Acquire(3, &ref), -EBADF);
  EXPECT_EQ(fds.Acquire(-1, &ref), -EBADF);
  EXPECT_EQ(fds.Close(1000), -EBADF);
}

TEST(FdTableTest, KmsOwnDescriptorsAreOutOfReach) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);  // km's: never adopted
  FdTable fds;
  FdTable::Ref ref;
  EXPECT_EQ(fds.Acquire(p[0], &ref), -EBADF);
  EXPECT_EQ(fds.Close(p[0]), -EBADF);
  EXPECT_TRUE(HostOpen(p[0]));
  // dup2 onto one of km's descriptors would close it.
  EXPECT_EQ(fds.DupOnto(1, p[1], 0), -EBADF);
  EXPECT_TRUE(HostOpen(p[1]));
  close(p[0]);
  close(p[1]);
}

TEST(FdTableTest, AdoptAndClose) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  FdTable fds;
  fds.Adopt(p[0]);
  fds.Adopt(p[1]);
  FdTable::Ref ref;
  EXPECT_EQ(fds.Acquire(p[0], &ref), 0);
  EXPECT_EQ(ref.fd(), p[0]);
  ref = FdTable::Ref();
  EXPECT_EQ(fds.Close(p[0]), 0);
  EXPECT_FALSE(HostOpen(p[0]));
  EXPECT_EQ(fds.Close(p[0]), -EBADF);
  EXPECT_EQ(fds.Close(p[1]), 0);
}

TEST(FdTableTest, CloseWhileInUseDefersTheHostClose) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  FdTable fds;
  fds.Adopt(p[0]);
  {
    FdTable::Ref ref;
    ASSERT_EQ(fds.Acquire(p[0], &ref), 0);
    EXPECT_EQ(fds.Close(p[0]), 0);
    // The guest cannot use it any more, but a call in flight still can.
    EXPECT_FALSE(fds.Owns(p[0]));
    FdTable::Ref again;
    EXPECT_EQ(fds.Acquire(p[0], &again), -EBADF);
    EXPECT_TRUE(HostOpen(p[0]));
    // And nobody may dup onto the number meanwhile.
    EXPECT_EQ(fds.DupOnto(1, p[0], 0), -EBUSY);
  }
  EXPECT_FALSE(HostOpen(p[0]));
  close(p[1]);
}

TEST(FdTableTest, DupOntoAFreeNumberAdoptsIt) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  FdTable fds;
  fds.Adopt(p[0]);
  const int target = 900;
  ASSERT_FALSE(HostOpen(target));
  EXPECT_EQ(fds.DupOnto(p[0], target, O_CLOEXEC), target);
  EXPECT_TRUE(fds.Owns(target));
  EXPECT_EQ(fcntl(target, F_GETFD), FD_CLOEXEC);
  // Onto a guest fd again: replaces it.
  EXPECT_EQ(fds.DupOnto(p[0], target, 0), target);
  EXPECT_EQ(fds.DupOnto(p[1], target, 0), -EBADF);  // p[1] is not the guest's
  EXPECT_EQ(fds.Close(target), 0);
  EXPECT_EQ(fds.Close(p[0]), 0);
  close(p[1]);
}

}  // namespace
}  // namespace km
