#include "km_hooks/debug_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>

#include <unistd.h>

#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "km_hooks/debug_controller.h"
#include "km_hooks/debug_service.h"
#include "km_hooks/socket_listener.h"

namespace km_hooks {

namespace {

absl::Mutex sockets_mu(absl::kConstInit);
std::vector<std::string>* open_sockets ABSL_GUARDED_BY(sockets_mu) = nullptr;

void RecordSocket(const std::string& path) {
  absl::MutexLock lock(&sockets_mu);
  if (open_sockets == nullptr) open_sockets = new std::vector<std::string>();
  open_sockets->push_back(path);
}

}  // namespace

std::string DefaultSocketPath(int pid) { return absl::StrFormat("/tmp/km-%d.sock", pid); }

void RemoveSocketsAtExit() {
  absl::MutexLock lock(&sockets_mu);
  if (open_sockets == nullptr) return;
  for (const std::string& path : *open_sockets) unlink(path.c_str());
}

absl::StatusOr<std::unique_ptr<DebugServer>> DebugServer::Start(km::Process& process,
                                                                const std::string& socket_path,
                                                                bool hold_main_thread) {
  auto server = std::unique_ptr<DebugServer>(new DebugServer());
  server->socket_path_ = socket_path;
  server->controller_ = std::make_unique<DebugController>(process);
  server->service_ = std::make_unique<DebugService>(*server->controller_);

  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(server->service_.get());
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr) return absl::InternalError("cannot start the gRPC server");

  if (hold_main_thread) server->controller_->HoldMainThread();
  process.set_debug_observer(server->controller_.get());

  grpc::Server* grpc_server = server->server_.get();
  auto listener = SocketListener::Start(
      socket_path, [grpc_server](int fd) { grpc::AddInsecureChannelFromFd(grpc_server, fd); });
  if (!listener.ok()) return listener.status();
  server->listener_ = std::move(*listener);
  RecordSocket(socket_path);
  return server;
}

DebugServer::~DebugServer() {
  listener_.reset();
  if (server_ != nullptr) server_->Shutdown();
}

}  // namespace km_hooks
