// ServiceTable: a gRPC service defined by a table of its methods. The one glue between gRPC and
// every handler of this server, commands and queries alike.
//
// Each method is registered with its typed handler, Req -> base::Future<Resp> (a handler that has
// its answer at once returns it, or a StatusOr, directly). For every call the table:
//   0. asks the Gatekeeper (common/rpc/gatekeeper.h, if one is set) who the caller is and whether
//      they may call now: UNAUTHENTICATED or RESOURCE_EXHAUSTED (RATE_LIMITED) here, on the gRPC
//      thread, before anything is queued or run;
//   1. hands the call to the Executor (never runs handlers on a gRPC thread); a full queue
//      answers RESOURCE_EXHAUSTED (SERVER_OVERLOADED);
//   2. checks the deadline and parses the raw request bytes (common/rpc/request_parser.h: bad
//      fields are named); then, after the PreWait if any (so a consistency token that covers a
//      change of the org chart is authorized by that change), asks the Authorizer (if one is
//      set) whether the authenticated caller may call the method: PERMISSION_DENIED here, or
//      the call's Grant (CallContext::grant) that the handler checks rows against
//      (common/auth/grant.h);
//   3. for a routed method (commands): asks `route` for the request's stream key (it may fill in
//      generated ids first), stamps CallContext::request_digest, and forwards the call unchanged
//      to the process that writes that stream (CallRouter) if it is not this one;
//   4. runs the handler and finishes the call when its future completes (holding no thread
//      while it waits), mapping errors in one place (common/rpc/grpc_status.h);
//   5. for a method marked with AuditReads, an OK answer that carries customers is recorded by
//      the Auditor (common/rpc/auditor.h) first and released once its record is durable; if it
//      cannot be recorded the call answers UNAVAILABLE (AUDIT_UNAVAILABLE): fail closed.
// Every way a call ends goes through rpc::Call::Finish (common/rpc/call.h): per-method metrics
// (grpc_server_*) and an access log line. A client-streaming method (ClientStream) first reads
// its whole stream into one request, then takes the same steps from 0. A server-streaming method
// (ServerStream) takes steps 0 to 2 (no PreWait, no routing, no audit), then writes what its
// source yields until the source ends or fails, or the caller goes away.
// Methods are raw callback methods named after the proto service, so reflection and health
// checks see the service as protoc generated it; Validate() checks the table against the proto
// (every method present, request and response types matching).
//
// Thread-safe once built: methods are added by the owner before the server starts.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/base/future.h"
#include "common/rpc/auditor.h"
#include "common/rpc/call.h"
#include "common/rpc/executor.h"
#include "common/rpc/gatekeeper.h"
#include "common/rpc/unary.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "grpcpp/impl/rpc_service_method.h"
#include "grpcpp/impl/service_type.h"

namespace crm::rpc {

// Where a routed call runs: here, or forwarded to the process that writes its stream.
class CallRouter {
 public:
  // Metadata key marking a forwarded call (a forwarded call is never forwarded again).
  static constexpr char kForwardedHeader[] = "x-crm-forwarded-by";
  virtual ~CallRouter() = default;
  // The address of the process that handles `stream_key`, or nullopt if it is this one.
  virtual std::optional<std::string> OwnerOf(absl::string_view stream_key) const = 0;
  // Forwards a unary call to `peer` with the caller's deadline and metadata; `done` gets the
  // peer's status (with its error details) once `response` is filled.
  virtual void Forward(const std::string& peer, const std::string& method,
                       grpc::CallbackServerContext* server_context, const grpc::ByteBuffer& request,
                       grpc::ByteBuffer* response, std::function<void(grpc::Status)> done) = 0;
};

// A digest of a command request (its type and deterministic serialization, after routing filled
// in derived ids): a name-based UUID, so a request id reused for another request is told from a
// retry.
std::string RequestDigest(const google::protobuf::Message& request);

class ServiceTable : public grpc::Service {
 public:
  // `service` is the proto service's full name (e.g. "crm.v1.CustomerCommandService"). Does not
  // take ownership; `router` may be null (every call is handled here).
  ServiceTable(std::string service, Executor* executor, CallRouter* router = nullptr);

  template <typename Req, typename Resp>
  using Handler = std::function<base::Future<Resp>(const Req&, const CallContext&)>;
  template <typename Req>
  using Route = std::function<std::string(Req&)>;
  // What a call waits for before its handler runs, holding no worker: the handler is queued
  // when the future completes OK; an error answers the call as it is. Query services wait for
  // their consistency token this way (services/query), so callers whose token the views have
  // not reached yet never hold a worker that others need.
  using PreWait = std::function<base::Future<base::Done>(const google::protobuf::Message& request,
                                                         const CallContext& call)>;
  void SetPreWait(PreWait pre_wait) { pre_wait_ = std::move(pre_wait); }
  // Who may call (authentication, rate limit); none: everyone, the actor from x-crm-actor. Not
  // owned. REQUIRES: set before the server starts.
  void SetGatekeeper(const Gatekeeper* gatekeeper) { gatekeeper_ = gatekeeper; }
  // What an authenticated caller may call and reach (common/auth/grant.h): asked on the worker,
  // after parsing and the PreWait, for every call with a principal; a refusal answers
  // PERMISSION_DENIED and runs nothing. None: every caller reaches everything. Not owned. REQUIRES:
  // set before the server starts.
  void SetAuthorizer(const auth::Authorizer* authorizer) { authorizer_ = authorizer; }
  // Where the reads of methods marked with AuditReads are recorded; none: they are not (unit
  // tests). Not owned. REQUIRES: set before the server starts.
  void SetAuditor(Auditor* auditor) { auditor_ = auditor; }

  // Marks registered methods as answering customers' personal data: each OK answer that
  // carries a customer (CustomersIn, common/rpc/auditor.h) is recorded before it is released.
  // REQUIRES: each method registered before (else Validate() fails), and the server not started.
  void AuditReads(std::initializer_list<absl::string_view> methods);
  // The same with a reading of its own, for an answer CustomersIn cannot read (raw log records;
  // a backup, EveryCustomer).
  void AuditReads(absl::string_view method, CustomersRead customers);

  // A client-streaming method whose messages are together one request: they are merged as
  // Message::MergeFrom does (repeated fields appended in order; a scalar set in a later message
  // wins) and the merged request is then served as a unary call handled where it arrives (the
  // steps above from 0; step 0, who calls, before the stream is read). Messages of more than
  // `max_bytes` in all answer RESOURCE_EXHAUSTED (REQUEST_TOO_LARGE) and are read no further; each
  // message is also bounded by the server's maximum message size.
  template <typename Req, typename Resp>
  void ClientStream(absl::string_view method, Handler<Req, Resp> handler, size_t max_bytes) {
    const MethodStats* stats = Register(method, Req::descriptor(), Resp::descriptor(),
                                        /*client_stream=*/true);
    const Registered* registered = &registered_.back();
    AddMethod(new grpc::internal::RpcServiceMethod(
        stats->path().c_str(), grpc::internal::RpcMethod::CLIENT_STREAMING, nullptr));
    MarkMethodRawCallback(
        static_cast<int>(registered_.size() - 1),
        new grpc::internal::CallbackClientStreamingHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
            [this, stats, registered, handler = std::move(handler), max_bytes,
             route = Route<Req>()](grpc::CallbackServerContext* ctx, grpc::ByteBuffer* out)
                -> grpc::ServerReadReactor<grpc::ByteBuffer>* {
              return new MergingReader<Req>(this, ctx, stats, max_bytes,
                                            [this, stats, registered, out, &handler, &route](
                                                Call* rpc, const grpc::ByteBuffer* in,
                                                std::optional<auth::Principal> caller) {
                                              Run<Req, Resp>(rpc, in, out, stats, registered,
                                                             handler, route, std::move(caller));
                                            });
            }));
  }
  template <typename Obj, typename Req, typename R>
  void ClientStream(absl::string_view method, Obj* object,
                    R (Obj::*fn)(const Req&, const CallContext&), size_t max_bytes) {
    ClientStream<Req, ValueOf<R>>(method, Bind<Req, ValueOf<R>>(object, fn), max_bytes);
  }

  // What a server stream's source yields each time it is asked: messages to write, then either
  // more (end false: the source is asked again once they are written) or the end of the stream.
  template <typename Resp>
  struct StreamPart {
    std::vector<Resp> messages;
    bool end = false;
  };
  // The source of a server stream's messages. Asked on a worker, once at a time; an answer with no
  // messages that does not end the stream must come only after waiting for something new (a
  // source that answers such at once spins). An error ends the stream with it. The source must
  // answer soon after the call is cancelled or its deadline passes (CallContext::cancelled,
  // ::deadline): the call ends only once it has.
  template <typename Resp>
  using StreamSource = std::function<base::Future<StreamPart<Resp>>()>;
  // Checks the request and makes the stream's source; an error answers the call at once.
  template <typename Req, typename Resp>
  using StreamHandler =
      std::function<absl::StatusOr<StreamSource<Resp>>(const Req&, const CallContext&)>;

  // A server-streaming method handled where it arrives (steps 0 to 2, then the source).
  template <typename Req, typename Resp>
  void ServerStream(absl::string_view method, StreamHandler<Req, Resp> handler) {
    const MethodStats* stats = Register(method, Req::descriptor(), Resp::descriptor(),
                                        /*client_stream=*/false, /*server_stream=*/true);
    AddMethod(new grpc::internal::RpcServiceMethod(
        stats->path().c_str(), grpc::internal::RpcMethod::SERVER_STREAMING, nullptr));
    MarkMethodRawCallback(
        static_cast<int>(registered_.size() - 1),
        new grpc::internal::CallbackServerStreamingHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
            [this, stats, handler = std::move(handler)](
                grpc::CallbackServerContext* ctx,
                const grpc::ByteBuffer* in) -> grpc::ServerWriteReactor<grpc::ByteBuffer>* {
              return new StreamWriter<Req, Resp>(this, ctx, in, stats, &handler);
            }));
  }
  template <typename Obj, typename Req, typename Resp>
  void ServerStream(absl::string_view method, Obj* object,
                    absl::StatusOr<StreamSource<Resp>> (std::remove_const_t<Obj>::*fn)(
                        const Req&, const CallContext&) const) {
    ServerStream<Req, Resp>(method, [object, fn](const Req& request, const CallContext& call) {
      return (object->*fn)(request, call);
    });
  }

  // A query (or any call handled where it arrives).
  template <typename Req, typename Resp>
  void Unary(absl::string_view method, Handler<Req, Resp> handler) {
    Add<Req, Resp>(method, std::move(handler), nullptr);
  }
  // A command: routed by `route` (an empty key means "handle here": the handler then rejects the
  // malformed request) and digested for request-id checks.
  template <typename Req, typename Resp>
  void Routed(absl::string_view method, Handler<Req, Resp> handler, Route<Req> route) {
    Add<Req, Resp>(method, std::move(handler), std::move(route));
  }

  // Member-function forms: `Unary("GetCustomer", queries, &CustomerQueries::Get)`.
  template <typename Obj, typename Req, typename R>
  void Unary(absl::string_view method, Obj* object,
             R (std::remove_const_t<Obj>::*fn)(const Req&, const CallContext&) const) {
    Unary<Req, ValueOf<R>>(method, Bind<Req, ValueOf<R>>(object, fn));
  }
  template <typename Obj, typename Req, typename R>
  void Routed(absl::string_view method, Obj* object, R (Obj::*fn)(const Req&, const CallContext&),
              std::type_identity_t<Route<Req>> route) {
    Routed<Req, ValueOf<R>>(method, Bind<Req, ValueOf<R>>(object, fn), std::move(route));
  }

  // OK if every method of the proto service has a handler with the proto's request and response
  // types; else FAILED_PRECONDITION naming what is missing or wrong.
  absl::Status Validate() const;

  const std::string& service_name() const { return service_; }
  // The pool this service's handlers run on.
  Executor* executor() const { return executor_; }

 private:
  template <typename R>
  using ValueOf = typename base::ValueOf<R>::Type;

  template <typename Req, typename Resp, typename Obj, typename Fn>
  static Handler<Req, Resp> Bind(Obj* object, Fn fn) {
    return [object, fn](const Req& request, const CallContext& call) -> base::Future<Resp> {
      return (object->*fn)(request, call);
    };
  }

  struct Registered {
    std::string method;
    std::string request_type;
    std::string response_type;
    bool client_stream = false;
    bool server_stream = false;
    // Set by AuditReads: the reading of the customers an answer carries.
    CustomersRead audit = nullptr;
  };

  // Records the method and its types; returns its metrics, which know its full path
  // ("/pkg.Service/Method").
  const MethodStats* Register(absl::string_view method, const google::protobuf::Descriptor* request,
                              const google::protobuf::Descriptor* response,
                              bool client_stream = false, bool server_stream = false);

  template <typename Req, typename Resp>
  void Add(absl::string_view method, Handler<Req, Resp> handler, Route<Req> route) {
    const MethodStats* stats = Register(method, Req::descriptor(), Resp::descriptor());
    const Registered* registered = &registered_.back();
    AddMethod(new grpc::internal::RpcServiceMethod(stats->path().c_str(),
                                                   grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
    MarkMethodRawCallback(
        static_cast<int>(registered_.size() - 1),
        new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
            [this, stats, registered, handler = std::move(handler), route = std::move(route)](
                grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
                grpc::ByteBuffer* out) {
              return Serve<Req, Resp>(ctx, in, out, stats, registered, handler, route);
            }));
  }

  template <typename Req, typename Resp>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
                                  grpc::ByteBuffer* out, const MethodStats* stats,
                                  const Registered* registered, const Handler<Req, Resp>& handler,
                                  const Route<Req>& route) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    Call* rpc = new Call(ctx, reactor, stats);  // deletes itself when it finishes
    std::optional<auth::Principal> caller;      // who calls, if authenticated
    if (!Admit(rpc, &caller)) return reactor;
    Run(rpc, in, out, stats, registered, handler, route, std::move(caller));
    return reactor;
  }

  // Step 0: who calls. False (and the call finished) if the Gatekeeper refuses the call.
  bool Admit(Call* rpc, std::optional<auth::Principal>* caller) const {
    if (gatekeeper_ == nullptr) return true;
    absl::StatusOr<std::optional<auth::Principal>> admitted = gatekeeper_->Admit(*rpc->ctx());
    if (!admitted.ok()) {
      rpc->Finish(ToGrpcStatus(admitted.status()));
      return false;
    }
    *caller = *std::move(admitted);
    return true;
  }

  // The steps of an admitted call after its request arrived (all of it, for a client stream):
  // `in` and `out` live until `rpc` finishes.
  template <typename Req, typename Resp>
  void Run(Call* rpc, const grpc::ByteBuffer* in, grpc::ByteBuffer* out, const MethodStats* stats,
           const Registered* registered, const Handler<Req, Resp>& handler, const Route<Req>& route,
           std::optional<auth::Principal> caller) {
    const char* path = stats->path().c_str();
    bool queued = executor_->TrySubmit([this, rpc, in, out, path, registered, &handler, &route,
                                        caller] {
      if (DroppedWhileQueued(rpc)) return;
      auto request = std::make_shared<Req>();
      auto call = std::make_shared<CallContext>();
      if (!StartCall(rpc, in, request.get(), call.get(), caller)) return;
      if (!pre_wait_) {
        Dispatch(rpc, out, path, registered, handler, route, *request, *call);
        return;
      }
      // Waited for on no thread; a wait already over continues here, on this worker.
      auto phase = std::make_shared<std::atomic<int>>(kRegistering);
      auto waited = std::make_shared<absl::Status>();
      auto resume = [this, rpc, out, path, registered, &handler, &route, request, call, waited] {
        if (!waited->ok()) {
          rpc->Finish(ToGrpcStatus(*waited));
          return;
        }
        if (DroppedWhileQueued(rpc)) return;
        Dispatch(rpc, out, path, registered, handler, route, *request, *call);
      };
      pre_wait_(*request, *call)
          .OnReady([this, phase, waited, resume, rpc](absl::StatusOr<base::Done> done) {
            *waited = done.status();
            if (phase->exchange(kDone) == kRegistering) return;  // the registering worker runs it
            if (!executor_->TrySubmit(resume)) rpc->Finish(Overloaded());
          });
      if (phase->exchange(kRegistered) == kDone) resume();
    });
    if (!queued) rpc->Finish(Overloaded());
  }

  // Reads the messages of a client stream and merges them into one request (see ClientStream),
  // then hands the serialized merge to ServiceTable::Run. Deletes itself when the call is done.
  template <typename Req>
  class MergingReader final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
   public:
    using Merged = std::function<void(Call* rpc, const grpc::ByteBuffer* merged,
                                      std::optional<auth::Principal> caller)>;
    // Admitted by `table` (step 0) before anything is read: a caller it refuses is answered at
    // once, whatever the stream holds.
    MergingReader(const ServiceTable* table, grpc::CallbackServerContext* ctx,
                  const MethodStats* stats, size_t max_bytes, Merged merged)
        : rpc_(new Call(
              ctx, [this](const grpc::Status& status) { Finish(status); }, stats)),
          max_bytes_(max_bytes),
          merged_(std::move(merged)) {
      if (table->Admit(rpc_, &caller_)) StartRead(&piece_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {  // the client closed its side (or the call ended: Run answers that)
        all_ = SerializeResponse(request_);
        merged_(rpc_, &all_, std::move(caller_));
        return;
      }
      read_bytes_ += piece_.Length();
      if (read_bytes_ > max_bytes_) {
        rpc_->Finish(ToGrpcStatus(status::Error(
            absl::StatusCode::kResourceExhausted,
            absl::StrCat("the stream's messages exceed ", max_bytes_, " bytes in all"),
            "REQUEST_TOO_LARGE", {{"limit_bytes", absl::StrCat(max_bytes_)}})));
        return;
      }
      Req part;
      if (absl::Status parsed = ParseRequest(piece_, &part); !parsed.ok()) {
        rpc_->Finish(ToGrpcStatus(parsed));
        return;
      }
      request_.MergeFrom(part);
      StartRead(&piece_);
    }
    void OnDone() override { delete this; }

   private:
    Call* const rpc_;
    const size_t max_bytes_;
    const Merged merged_;
    grpc::ByteBuffer piece_;
    size_t read_bytes_ = 0;
    std::optional<auth::Principal> caller_;
    Req request_;
    grpc::ByteBuffer all_;
  };

  // Serves one call of a ServerStream method (see there). Deletes itself when the call is done;
  // it finishes the call only when no answer of the source is pending, so nothing of it is used
  // after that.
  template <typename Req, typename Resp>
  class StreamWriter final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
   public:
    StreamWriter(ServiceTable* table, grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
                 const MethodStats* stats, const StreamHandler<Req, Resp>* handler)
        : table_(table),
          rpc_(new Call(
              ctx, [this](const grpc::Status& status) { Finish(status); }, stats)),
          in_(*in),
          path_(stats->path().c_str()),
          handler_(handler) {
      std::optional<auth::Principal> caller;
      if (!table->Admit(rpc_, &caller)) return;
      if (!table->executor_->TrySubmit(
              [this, caller = std::move(caller)]() mutable { Begin(std::move(caller)); })) {
        rpc_->Finish(Overloaded());
      }
    }
    void OnWriteDone(bool ok) override {
      if (!ok) {
        rpc_->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the caller went away"));
        return;
      }
      WriteNext();
    }
    void OnDone() override { delete this; }

   private:
    void Begin(std::optional<auth::Principal> caller) {
      if (DroppedWhileQueued(rpc_)) return;
      Req request;
      if (!StartCall(rpc_, &in_, &request, &call_, std::move(caller))) return;
      if (!table_->Authorize(rpc_, path_, &call_)) return;
      absl::StatusOr<StreamSource<Resp>> source = (*handler_)(request, call_);
      if (!source.ok()) {
        rpc_->Finish(ToGrpcStatus(source.status()));
        return;
      }
      source_ = *std::move(source);
      Pull();
    }
    // On a worker: asks the source for its next part.
    void Pull() {
      source_().OnReady([this](absl::StatusOr<StreamPart<Resp>> part) {
        if (!part.ok()) {
          rpc_->Finish(ToGrpcStatus(part.status()));
          return;
        }
        part_ = *std::move(part);
        next_ = 0;
        WriteNext();
      });
    }
    void WriteNext() {
      if (next_ < part_.messages.size()) {
        out_ = SerializeResponse(part_.messages[next_++]);
        StartWrite(&out_);
        return;
      }
      if (part_.end) {
        rpc_->Finish(grpc::Status::OK);
        return;
      }
      if (!table_->executor_->TrySubmit([this] { Pull(); })) rpc_->Finish(Overloaded());
    }

    ServiceTable* const table_;
    Call* const rpc_;
    const grpc::ByteBuffer in_;
    const char* const path_;
    const StreamHandler<Req, Resp>* const handler_;
    CallContext call_;
    StreamSource<Resp> source_;
    StreamPart<Resp> part_;
    size_t next_ = 0;
    grpc::ByteBuffer out_;
  };

  template <typename Req, typename Resp>
  void Dispatch(Call* rpc, grpc::ByteBuffer* out, const char* path, const Registered* registered,
                const Handler<Req, Resp>& handler, const Route<Req>& route, Req& request,
                CallContext& call) {
    // After the consistency wait: a token covering an org change is authorized by it.
    if (!Authorize(rpc, path, &call)) return;
    if (route) {
      const std::string stream_key = route(request);
      call.request_digest = RequestDigest(request);
      std::optional<std::string> owner;
      if (router_ != nullptr && !stream_key.empty()) owner = router_->OwnerOf(stream_key);
      if (owner.has_value()) {
        Forward(rpc, out, path, *owner, request);
        return;
      }
    }
    if (registered->audit == nullptr || auditor_ == nullptr) {
      handler(request, call).OnReady([rpc, out](absl::StatusOr<Resp> response) {
        FinishCall(rpc, response, out);
      });
      return;
    }
    // Who reads, taken now: the request and call may be gone when the handler answers.
    ReadRecord read = ReadRecordOf(path, request, call);
    handler(request, call)
        .OnReady([this, rpc, out, audit = registered->audit,
                  read = std::move(read)](absl::StatusOr<Resp> response) mutable {
          if (!response.ok()) {
            FinishCall(rpc, response, out);  // an error read nothing
            return;
          }
          read.customers = audit(*response);
          if (read.customers.empty()) {
            FinishCall(rpc, response, out);
            return;
          }
          auto answer = std::make_shared<Resp>(*std::move(response));
          auditor_->Record(std::move(read))
              .OnReady([rpc, out, answer](absl::StatusOr<base::Done> recorded) {
                if (!recorded.ok()) {
                  rpc->Finish(AuditUnavailable(recorded.status()));
                  return;
                }
                FinishCall(rpc, absl::StatusOr<Resp>(std::move(*answer)), out);
              });
        });
  }

  // The record of an audited call, without its customers.
  template <typename Req>
  static ReadRecord ReadRecordOf(const char* path, const Req& request, const CallContext& call) {
    ReadRecord read = ReadRecordOf(path, call);
    if constexpr (requires(const Req& r) { r.request_id(); }) {
      if (request.request_id().size() <= 128) read.request_id = request.request_id();
    }
    return read;
  }
  static ReadRecord ReadRecordOf(const char* path, const CallContext& call);
  // The answer to an audited call whose record could not be made durable.
  static grpc::Status AuditUnavailable(const absl::Status& why);

  // A call cancelled (or past its deadline) while it waited in a queue is answered, not run.
  static bool DroppedWhileQueued(Call* rpc);
  // Gives the call its grant; false (and the call finished with PERMISSION_DENIED) if the
  // caller may not call the method.
  bool Authorize(Call* rpc, const char* path, CallContext* call) const;

  static constexpr int kRegistering = 0;
  static constexpr int kRegistered = 1;
  static constexpr int kDone = 2;

  void Forward(Call* rpc, grpc::ByteBuffer* out, const char* path, const std::string& owner,
               const google::protobuf::Message& request);

  const std::string service_;
  Executor* const executor_;
  CallRouter* const router_;
  // Stable storage: gRPC keeps pointers to the method paths, calls to their stats.
  std::deque<MethodStats> stats_;
  std::deque<Registered> registered_;
  PreWait pre_wait_;
  const Gatekeeper* gatekeeper_ = nullptr;
  const auth::Authorizer* authorizer_ = nullptr;
  Auditor* auditor_ = nullptr;
  std::vector<std::string> unknown_audited_;  // AuditReads of methods never registered
};

}  // namespace crm::rpc
