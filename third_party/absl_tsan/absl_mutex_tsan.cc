// Linked only into --config=tsan builds. Debian's abseil is not built with ThreadSanitizer, so
// TSan never sees absl::Mutex hand data from one thread to the next, and every access guarded
// by one reads as a race. These definitions of the Mutex and CondVar entry points take the
// place of the library's for calls from our code: each calls the library's own function
// (found with dlsym(RTLD_NEXT)) and tells TSan that taking the mutex acquires it and letting
// it go (also inside Await and CondVar waits) releases it, which is the happens-before that
// race detection needs. Lock-order checking does not come with it.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace {

template <typename Fn>
Fn Real(const char* symbol) {
  void* f = dlsym(RTLD_NEXT, symbol);
  if (f == nullptr) {
    std::fprintf(stderr, "absl_mutex_tsan: %s not found in abseil: %s\n", symbol, dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

// Each wrapper resolves its own symbol once.
#define KM_REAL(type, symbol) static const auto real = Real<type>(symbol)

void Acquired(absl::Mutex* mu) { __tsan_acquire(mu); }
void Releasing(absl::Mutex* mu) { __tsan_release(mu); }

// abseil evaluates a waiter's Condition inside its own code, with the mutex held but before the
// wrapper's Acquired (or, on the waiter's behalf, in another thread's Unlock): the evaluation
// acquires and releases the mutex for TSan itself.
// The waiter builds it (and its Condition) on its own stack before it waits; another thread may
// read both in its Unlock, and abseil's hand-off between the two is invisible to TSan: the
// waiter publishes it (release) and each evaluation takes it (acquire).
struct Guarded {
  Guarded(const absl::Condition* c, absl::Mutex* m) : cond(c), mu(m) { __tsan_release(this); }
  const absl::Condition* cond;
  absl::Mutex* mu;
  static bool Eval(Guarded* g) {
    __tsan_acquire(g);
    Acquired(g->mu);
    const bool met = g->cond->Eval();
    Releasing(g->mu);
    return met;
  }
};

}  // namespace

// The other Debian libraries (gRPC, protobuf, the rest of abseil, Unicorn) are not built with
// TSan either: only their intercepted calls (memcpy, sendmsg...) would be seen, never their
// locking. Those calls are not checked; every access from our own code still is.
// km leaves through _exit with threads still in host calls, on purpose.
extern "C" const char* __tsan_default_options() { return "report_thread_leaks=0"; }

extern "C" const char* __tsan_default_suppressions() {
  // One line per library: a pattern that matches two libraries is an error.
  return
         "called_from_lib:libabsl_bad_optional_access.so.\n"
         "called_from_lib:libabsl_bad_variant_access.so.\n"
         "called_from_lib:libabsl_base.so.\n"
         "called_from_lib:libabsl_city.so.\n"
         "called_from_lib:libabsl_civil_time.so.\n"
         "called_from_lib:libabsl_cord.so.\n"
         "called_from_lib:libabsl_cord_internal.so.\n"
         "called_from_lib:libabsl_cordz_functions.so.\n"
         "called_from_lib:libabsl_cordz_handle.so.\n"
         "called_from_lib:libabsl_cordz_info.so.\n"
         "called_from_lib:libabsl_debugging_internal.so.\n"
         "called_from_lib:libabsl_demangle_internal.so.\n"
         "called_from_lib:libabsl_exponential_biased.so.\n"
         "called_from_lib:libabsl_flags_commandlineflag.so.\n"
         "called_from_lib:libabsl_flags_commandlineflag_internal.so.\n"
         "called_from_lib:libabsl_flags_config.so.\n"
         "called_from_lib:libabsl_flags_internal.so.\n"
         "called_from_lib:libabsl_flags_marshalling.so.\n"
         "called_from_lib:libabsl_flags_parse.so.\n"
         "called_from_lib:libabsl_flags_private_handle_accessor.so.\n"
         "called_from_lib:libabsl_flags_program_name.so.\n"
         "called_from_lib:libabsl_flags_reflection.so.\n"
         "called_from_lib:libabsl_flags_usage.so.\n"
         "called_from_lib:libabsl_flags_usage_internal.so.\n"
         "called_from_lib:libabsl_graphcycles_internal.so.\n"
         "called_from_lib:libabsl_hash.so.\n"
         "called_from_lib:libabsl_hashtablez_sampler.so.\n"
         "called_from_lib:libabsl_int128.so.\n"
         "called_from_lib:libabsl_log_severity.so.\n"
         "called_from_lib:libabsl_low_level_hash.so.\n"
         "called_from_lib:libabsl_malloc_internal.so.\n"
         "called_from_lib:libabsl_random_internal_platform.so.\n"
         "called_from_lib:libabsl_random_internal_pool_urbg.so.\n"
         "called_from_lib:libabsl_random_internal_randen.so.\n"
         "called_from_lib:libabsl_random_internal_randen_hwaes.so.\n"
         "called_from_lib:libabsl_random_internal_randen_hwaes_impl.so.\n"
         "called_from_lib:libabsl_random_internal_randen_slow.so.\n"
         "called_from_lib:libabsl_random_internal_seed_material.so.\n"
         "called_from_lib:libabsl_random_seed_gen_exception.so.\n"
         "called_from_lib:libabsl_raw_hash_set.so.\n"
         "called_from_lib:libabsl_raw_logging_internal.so.\n"
         "called_from_lib:libabsl_spinlock_wait.so.\n"
         "called_from_lib:libabsl_stacktrace.so.\n"
         "called_from_lib:libabsl_status.so.\n"
         "called_from_lib:libabsl_statusor.so.\n"
         "called_from_lib:libabsl_str_format_internal.so.\n"
         "called_from_lib:libabsl_strerror.so.\n"
         "called_from_lib:libabsl_strings.so.\n"
         "called_from_lib:libabsl_strings_internal.so.\n"
         "called_from_lib:libabsl_symbolize.so.\n"
         "called_from_lib:libabsl_synchronization.so.\n"
         "called_from_lib:libabsl_throw_delegate.so.\n"
         "called_from_lib:libabsl_time.so.\n"
         "called_from_lib:libabsl_time_zone.so.\n"
         "called_from_lib:libaddress_sorting.so.\n"
         "called_from_lib:libcares.so.\n"
         "called_from_lib:libcrypto.so.\n"
         "called_from_lib:libgpr.so.\n"
         "called_from_lib:libgrpc.so.\n"
         "called_from_lib:libgrpc++.so.\n"
         "called_from_lib:libgrpc++_reflection.so.\n"
         "called_from_lib:libprotobuf.so.\n"
         "called_from_lib:libre2.so.\n"
         "called_from_lib:libssl.so.\n"
         "called_from_lib:libunicorn.so.\n"
         "called_from_lib:libupb.so.\n";
}

namespace absl {

void Mutex::Lock() {
  KM_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  real(this);
  Acquired(this);
}

void Mutex::ReaderLock() {
  KM_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  real(this);
  Acquired(this);
}

bool Mutex::TryLock() {
  KM_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) Acquired(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  KM_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) Acquired(this);
  return locked;
}

void Mutex::Unlock() {
  KM_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  Releasing(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  KM_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  Releasing(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  KM_REAL(void (*)(Mutex*, const Condition&), "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  Guarded guarded{&cond, this};
  const Condition guarded_cond(&Guarded::Eval, &guarded);
  real(this, guarded_cond);
  Acquired(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  KM_REAL(void (*)(Mutex*, const Condition&),
          "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Guarded guarded{&cond, this};
  const Condition guarded_cond(&Guarded::Eval, &guarded);
  real(this, guarded_cond);
  Acquired(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  KM_REAL(bool (*)(Mutex*, const Condition&, Duration),
          "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Guarded guarded{&cond, this};
  const Condition guarded_cond(&Guarded::Eval, &guarded);
  const bool met = real(this, guarded_cond, timeout);
  Acquired(this);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  KM_REAL(bool (*)(Mutex*, const Condition&, Time),
          "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Guarded guarded{&cond, this};
  const Condition guarded_cond(&Guarded::Eval, &guarded);
  const bool met = real(this, guarded_cond, deadline);
  Acquired(this);
  return met;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  KM_REAL(bool (*)(Mutex*, const Condition&, Duration),
          "_ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Guarded guarded{&cond, this};
  const Condition guarded_cond(&Guarded::Eval, &guarded);
  const bool met = real(this, guarded_cond, timeout);
  Acquired(this);
  return met;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  KM_REAL(bool (*)(Mutex*, const Condition&, Time),
          "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Guarded guarded{&cond, this};
  const Condition guarded_cond(&Guarded::Eval, &guarded);
  const bool met = real(this, guarded_cond, deadline);
  Acquired(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  KM_REAL(void (*)(Mutex*, const Condition&), "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  Guarded guarded{&cond, this};
  const Condition guarded_cond(&Guarded::Eval, &guarded);
  Releasing(this);
  real(this, guarded_cond);
  Acquired(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  KM_REAL(bool (*)(Mutex*, const Condition&, Duration),
          "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Guarded guarded{&cond, this};
  const Condition guarded_cond(&Guarded::Eval, &guarded);
  Releasing(this);
  const bool met = real(this, guarded_cond, timeout);
  Acquired(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  KM_REAL(bool (*)(Mutex*, const Condition&, Time),
          "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Guarded guarded{&cond, this};
  const Condition guarded_cond(&Guarded::Eval, &guarded);
  Releasing(this);
  const bool met = real(this, guarded_cond, deadline);
  Acquired(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  KM_REAL(void (*)(CondVar*, Mutex*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  Releasing(mu);
  real(this, mu);
  Acquired(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  KM_REAL(bool (*)(CondVar*, Mutex*, Duration),
          "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Releasing(mu);
  const bool timed_out = real(this, mu, timeout);
  Acquired(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  KM_REAL(bool (*)(CondVar*, Mutex*, Time),
          "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Releasing(mu);
  const bool timed_out = real(this, mu, deadline);
  Acquired(mu);
  return timed_out;
}

}  // namespace absl
