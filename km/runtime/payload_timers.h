// The payload's timers: POSIX per-process timers (timer_create...) and the ITIMER_REAL interval
// timer behind alarm and setitimer. km keeps them itself: one host thread sleeps until the
// next expiry and sends each timer's signal to the payload, so a payload's timeout fires
// whatever its threads are doing (running guest code, or blocked in a syscall, which the signal
// then cuts short).
//
// Times are kept on the host's CLOCK_MONOTONIC. A CLOCK_REALTIME timer set for an absolute
// time is converted when set, so it does not follow later changes of the host's clock. Timers
// on CPU-time clocks and the ITIMER_VIRTUAL/ITIMER_PROF timers are not served.
#pragma once

#include <signal.h>
#include <time.h>

#include <cstdint>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace km {

class Process;

class PayloadTimers {
 public:
  explicit PayloadTimers(Process& process) : process_(process) {}
  PayloadTimers(const PayloadTimers&) = delete;
  PayloadTimers& operator=(const PayloadTimers&) = delete;
  ~PayloadTimers();

  // Times in nanoseconds. A zero value is a disarmed timer; a zero interval fires once.
  struct Setting {
    int64_t value = 0;
    int64_t interval = 0;
  };
  // What an expiry does (struct sigevent, reduced).
  struct Notify {
    int how = SIGEV_SIGNAL;  // SIGEV_SIGNAL (the payload), SIGEV_THREAD_ID (thread tid), SIGEV_NONE
    int signo = SIGALRM;
    uint64_t value = 0;      // si_value
    int tid = 0;
  };

  // timer_create: the new timer's id, or -errno. Without a notify: SIGALRM to the payload,
  // with the timer's id as si_value.
  int Create(clockid_t clock, const std::optional<Notify>& notify);
  // timer_delete, timer_settime, timer_gettime, timer_getoverrun: 0 (or the count), or -errno.
  int Delete(int id);
  int Set(int id, bool absolute, const Setting& next, Setting* old);
  int Get(int id, Setting* now);
  int Overrun(int id);
  // setitimer/getitimer(ITIMER_REAL) and alarm: SIGALRM to the payload.
  Setting SetReal(const Setting& next);
  Setting GetReal();

 private:
  struct Timer {
    clockid_t clock = CLOCK_MONOTONIC;
    Notify notify;
    int64_t deadline = 0;  // on CLOCK_MONOTONIC; 0: disarmed
    int64_t interval = 0;
    int overrun = 0;       // expirations missed before the last signal
  };
  static constexpr int kRealTimer = -1;  // ITIMER_REAL's key in timers_
  static constexpr int kMaxTimers = 1024;

  static Setting Remaining(const Timer& timer, int64_t now);
  // The payload's timer with this id (never ITIMER_REAL's), or nullptr.
  Timer* FindLocked(int id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ArmLocked(Timer& timer, int64_t deadline, int64_t interval)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The host thread: waits for the earliest deadline, fires what is due, until stopping_.
  void Loop();
  void Fire(int id, const Timer& timer);

  Process& process_;
  absl::Mutex mu_;
  absl::flat_hash_map<int, Timer> timers_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started with the first armed timer
};

}  // namespace km
