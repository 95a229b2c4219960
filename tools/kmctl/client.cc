#include "tools/kmctl/client.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tools/kmctl/errors.h"

namespace kmctl {

absl::StatusOr<std::unique_ptr<v1::Debug::Stub>> Connect(const std::string& socket_path) {
  struct stat st;
  if (stat(socket_path.c_str(), &st) != 0) {
    return ConnectionError(absl::StrFormat("%s: %s (is km running with --debug-socket?)",
                                           socket_path, strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return ConnectionError(absl::StrFormat("%s: not a socket", socket_path));
  }
  // km answers with up to 64 MiB (a trace frame); gRPC's default would refuse over 4.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return v1::Debug::NewStub(grpc::CreateCustomChannel(
      "unix:" + socket_path, grpc::InsecureChannelCredentials(), args));
}

std::unique_ptr<grpc::ClientContext> CallContext() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
  return ctx;
}

absl::StatusOr<std::unique_ptr<Session>> Session::Start(v1::Debug::Stub* stub) {
  v1::ListThreadsResponse threads;
  grpc::Status s = stub->ListThreads(CallContext().get(), {}, &threads);
  if (!s.ok()) return RpcError("ListThreads", s);
  v1::AttachRequest req;
  req.set_client_name(absl::StrFormat("kmctl (pid %d)", getpid()));
  v1::AttachResponse resp;
  s = stub->Attach(CallContext().get(), req, &resp);
  if (!s.ok()) return RpcError("Attach", s);

  std::unique_ptr<Session> session(new Session(stub, resp.session()));
  v1::EventsRequest events_req;
  events_req.set_session(session->id_);
  session->events_ = stub->Events(&session->events_ctx_, events_req);
  session->reader_ = std::thread([p = session.get()] { p->ReadEvents(); });

  // No session existed before ours, so nothing stopped or resumed threads in between: the
  // stream opens with exactly one event per thread ListThreads saw stopped.
  int initial = 0;
  for (const v1::Thread& t : threads.threads()) initial += t.state() == v1::THREAD_STATE_STOPPED;
  for (int i = 0; i < initial; i++) {
    absl::StatusOr<v1::Event> ev = session->Wait(absl::Seconds(10));
    if (!ev.ok()) return ev.status();
  }
  return session;
}

void Session::ReadEvents() {
  v1::Event ev;
  while (events_->Read(&ev)) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(ev);
  }
  absl::MutexLock lock(&mu_);
  ended_ = true;
}

absl::StatusOr<v1::Event> Session::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || ended_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (!queue_.empty()) {
    v1::Event ev = std::move(queue_.front());
    queue_.pop_front();
    return ev;
  }
  if (ended_) return ConnectionError("the event stream ended (km exited or ended the session)");
  return absl::DeadlineExceededError(
      absl::StrFormat("wait: no event within %s", absl::FormatDuration(timeout)));
}

absl::Status Session::Detach() {
  if (detached_) return absl::OkStatus();
  v1::DetachRequest req;
  req.set_session(id_);
  v1::DetachResponse resp;
  grpc::Status s = stub_->Detach(CallContext().get(), req, &resp);
  detached_ = true;
  if (!s.ok()) return RpcError("Detach", s);
  return absl::OkStatus();
}

Session::~Session() {
  // Cancelling the stream ends the session on km's side too, if Detach was never called.
  events_ctx_.TryCancel();
  if (reader_.joinable()) reader_.join();
  if (events_) (void)events_->Finish();
}

}  // namespace kmctl
