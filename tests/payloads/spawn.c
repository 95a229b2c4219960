// Processes: fork (the child's memory a copy, its exit status reaped by the parent), a pipe
// between parent and child, a child killed by its parent, posix_spawn (CLONE_VM | CLONE_VFORK)
// of another program with its stdout redirected, vfork, an execve that fails and one that
// replaces the program; children that die of a signal; each step prints what it saw. argv[1]: a static program that prints its arguments and exits with
// argv[1]'s value (the hello payload).
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static int shared_value = 1;

static void ForkAndReap(void) {
  int fds[2];
  if (pipe(fds) != 0) return perror("pipe");
  pid_t pid = fork();
  if (pid < 0) return perror("fork");
  if (pid == 0) {
    close(fds[0]);
    shared_value = 2;
    char line[64];
    int n = snprintf(line, sizeof line, "child sees %d, is not %d", shared_value, getppid() == getpid());
    write(fds[1], line, n);
    _exit(7);
  }
  close(fds[1]);
  char buf[64] = {0};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int status = 0;
  pid_t reaped = waitpid(pid, &status, 0);
  printf("fork: read %zd \"%s\"; reaped the child: %d; exited %d with %d; parent still sees %d\n",
         n, buf, reaped == pid, WIFEXITED(status), WEXITSTATUS(status), shared_value);
}

static void ManyChildren(void) {
  enum { kChildren = 5 };
  for (int i = 0; i < kChildren; i++) {
    pid_t pid = fork();
    if (pid == 0) _exit(10 + i);
  }
  int sum = 0, reaped = 0, status;
  pid_t pid;
  while ((pid = wait(&status)) > 0) {
    reaped++;
    sum += WEXITSTATUS(status);
  }
  printf("wait: reaped %d children, statuses summing to %d, then %s\n", reaped, sum,
         errno == ECHILD ? "ECHILD" : strerror(errno));
}

// How a parent's wait sees its child end.
static void PrintEnd(const char* what, int status) {
  if (WIFSIGNALED(status)) {
    printf("%s: the child ended by signal %d\n", what, WTERMSIG(status));
  } else {
    printf("%s: the child exited %d with %d\n", what, WIFEXITED(status), WEXITSTATUS(status));
  }
}

static void Crash(void) { *(volatile int*)0 = 1; }

static void KillChild(void) {
  pid_t pid = fork();
  if (pid < 0) return perror("fork");
  if (pid == 0) {
    for (;;) pause();
  }
  int status = 0;
  kill(pid, SIGTERM);
  waitpid(pid, &status, 0);
  PrintEnd("kill", status);
}

// A child that faults, then one that runs a program that faults: each parent's wait sees
// SIGSEGV, as a shell would report it.
static void CrashingChildren(void) {
  int status = 0;
  pid_t pid = fork();
  if (pid == 0) {
    Crash();
    _exit(0);
  }
  waitpid(pid, &status, 0);
  PrintEnd("fault", status);
  pid = fork();
  if (pid == 0) {
    char* argv[] = {"spawn", "--crash", NULL};
    execve("/proc/self/exe", argv, environ);
    _exit(127);
  }
  waitpid(pid, &status, 0);
  PrintEnd("exec of a faulting program", status);
}

static void Spawn(const char* program) {
  int fds[2];
  if (pipe(fds) != 0) return perror("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  char* argv[] = {"hello", "4", "spawned", NULL};
  char* envp[] = {"KM_TEST_VAR=from spawn", NULL};
  pid_t pid;
  int err = posix_spawn(&pid, program, &actions, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (err != 0) {
    printf("posix_spawn: %s\n", strerror(err));
    close(fds[0]);
    return;
  }
  char buf[256] = {0};
  size_t got = 0;
  ssize_t n;
  while (got < sizeof buf - 1 && (n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0) got += n;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  printf("posix_spawn: child wrote:\n%sand exited %d with %d\n", buf, WIFEXITED(status),
         WEXITSTATUS(status));
  struct rusage usage;
  printf("getrusage RUSAGE_CHILDREN: %d\n", getrusage(RUSAGE_CHILDREN, &usage));
}

static void VforkFailingExec(void) {
  pid_t pid = vfork();
  if (pid == 0) {
    char* argv[] = {"nowhere", NULL};
    execve("/nonexistent/program", argv, environ);
    _exit(errno == ENOENT ? 127 : 126);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("vfork: exec of a missing program: child exited %d with %d\n", WIFEXITED(status),
         WEXITSTATUS(status));
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--crash") == 0) Crash();
  // --exec-only: straight to the execve (no children: an engine that cannot fork runs it).
  const int exec_only = argc > 1 && strcmp(argv[1], "--exec-only") == 0;
  if (exec_only) argv++, argc--;
  if (argc < 2) {
    fprintf(stderr, "usage: spawn [--exec-only] PROGRAM | spawn --crash\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!exec_only) {
    ForkAndReap();
    ManyChildren();
    KillChild();
    CrashingChildren();
    Spawn(argv[1]);
    VforkFailingExec();
  }
  char* exec_argv[] = {"renamed", "9", "replaced", NULL};
  char* exec_envp[] = {"KM_TEST_VAR=through execve", NULL};
  execve(argv[1], exec_argv, exec_envp);
  printf("execve: %s\n", strerror(errno));
  return 1;
}
