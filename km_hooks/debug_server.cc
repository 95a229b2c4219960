#include "km_hooks/debug_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>

#include <unistd.h>

#include <chrono>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "km_hooks/debug_controller.h"
#include "km_hooks/debug_service.h"
#include "km_hooks/socket_listener.h"

namespace km_hooks {

namespace {

absl::Mutex servers_mu(absl::kConstInit);
std::vector<DebugServer*>* servers ABSL_GUARDED_BY(servers_mu) = nullptr;

void Register(DebugServer* server) {
  absl::MutexLock lock(&servers_mu);
  if (servers == nullptr) servers = new std::vector<DebugServer*>();
  servers->push_back(server);
}

void Unregister(DebugServer* server) {
  absl::MutexLock lock(&servers_mu);
  if (servers != nullptr) std::erase(*servers, server);
}

}  // namespace

std::string DefaultSocketPath(int pid) { return absl::StrFormat("/tmp/km-%d.sock", pid); }

void ShutDownAtExit() {
  absl::MutexLock lock(&servers_mu);
  if (servers == nullptr) return;
  for (DebugServer* server : *servers) server->ShutDown();
}

absl::StatusOr<std::unique_ptr<DebugServer>> DebugServer::Start(km::Process& process,
                                                                const std::string& socket_path,
                                                                bool hold_main_thread,
                                                                absl::Duration session_grace) {
  auto server = std::unique_ptr<DebugServer>(new DebugServer());
  server->socket_path_ = socket_path;
  server->controller_ = std::make_unique<DebugController>(process, socket_path);
  server->service_ = std::make_unique<DebugService>(*server->controller_, session_grace);

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
  Register(server.get());
  return server;
}

void DebugServer::ShutDown() {
  listener_.reset();  // removes the socket file
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  }
}

DebugServer::~DebugServer() {
  Unregister(this);
  ShutDown();
}

}  // namespace km_hooks
