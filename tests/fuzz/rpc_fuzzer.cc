// rpc_fuzzer: a libFuzzer target for every RPC the server serves, one method per run.
//
// Each input is the raw request bytes of the method named by -method=<Service>/<Method>. They go
// to a whole server in this process: the command side and the query side assembled exactly as
// crm-server assembles them (apps/assembly), on an embedded event log and stores in a temporary
// directory, behind an in-process gRPC server, with the admin service runtime::Serve adds
// (crm.admin.v1.AdminService: status, online rebuilds, dead letters, the log's events). So every
// input takes the real path: the service
// table (deadline, parsing with named fields, routing, request digest), validation, decide,
// append, the folds into command state and views, the queries, and the one mapping of errors to
// wire statuses. Inputs reach the server one at a time; its state carries over from one input
// to the next (as a server's would), starting from the fixture in tests/fuzz/rpc_seeds.cc.
//
// Besides crashes and sanitizer reports, an input fails (abort, so libFuzzer keeps it) if the
// answer breaks the contract in proto/crm/v1/README.md:
//   - a code outside OK, INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, ABORTED,
//     FAILED_PRECONDITION; DEADLINE_EXCEEDED only for a query with a consistency token (the
//     token may name a position the views never reach) or a server stream (a watch ends at its
//     deadline: it is called with a short one, and each message it sent must be a valid
//     response); anything else, INTERNAL above all, is a
//     failure, and so is a call that does not finish within its deadline (a stall);
//   - bytes that do not parse as the request (rpc::ParseRequest) answered other than
//     INVALID_ARGUMENT;
//   - an error without google.rpc.ErrorInfo (domain crm.v1, a reason), or INVALID_ARGUMENT
//     without a BadRequest naming at least one field;
//   - an OK answer that is not a valid response message;
//   - a command with a request_id answered OK whose retry (the same bytes again) is not answered
//     OK with an equal response ("a retry answers exactly as the first call did").
//
// Flags (after -ignore_remaining_args=1, so that libFuzzer leaves them alone):
//   -method=crm.v1.CustomerCommandService/RegisterCustomer   the method to fuzz (required)
//   -list_methods=1          print every method served, one a line, and exit
//   -write_seeds=DIR         write the method's seed requests (binary) into DIR and exit
// The server's files go to a fresh directory under $TMPDIR (default /tmp), removed at exit.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "apps/assembly/command_side.h"
#include "apps/assembly/query_side.h"
#include "common/base/clock.h"
#include "common/eventlog/embedded_event_log.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "common/rpc/request_parser.h"
#include "common/rpc/service_table.h"
#include "crm/v1/segment_service.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "services/admin/admin_service.h"
#include "spdlog/spdlog.h"
#include "tests/fuzz/rpc_seeds.h"

namespace crm::fuzz {
namespace {

using google::protobuf::Message;

// A call with a consistency token may wait this long for the views (then DEADLINE_EXCEEDED);
// any other call that takes longer than kCallDeadline has stalled.
constexpr absl::Duration kTokenWaitDeadline = absl::Milliseconds(200);
constexpr absl::Duration kCallDeadline = absl::Seconds(10);

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "\n==rpc_fuzzer== %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

struct Answer {
  grpc::Status status;
  std::string response;
};

// The method being fuzzed: its path and its request and response prototypes.
struct Method {
  std::string path;  // "/crm.v1.CustomerCommandService/RegisterCustomer"
  const Message* request = nullptr;
  const Message* response = nullptr;
  bool command = false;        // has a request_id: a retry must answer as the first call did
  bool server_stream = false;  // answered by a stream of messages (WatchNotifications)
};

// A whole server in this process (see the file comment).
class World {
 public:
  World() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp", "/crm-fuzz-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) Die("cannot make a temporary directory");
    dir_ = pattern;
    log_ = Must(eventlog::EmbeddedEventLog::Open(dir_ + "/log"), "event log");
    state_ = Must(kv::KvStore::Open(dir_ + "/command-state"), "command state");
    views_ = Must(kv::KvStore::Open(dir_ + "/views"), "views");
    commands_ = Must(
        assembly::CommandSide::Create(log_.get(), state_.get(), &executor_, {.clock = &clock_}),
        "command side");
    queries_ =
        Must(assembly::QuerySide::Create(log_.get(), views_.get(), &executor_, {.clock = &clock_}),
             "query side");
    Check(commands_->CatchUp(), "command side catch-up");
    Check(queries_->CatchUp(), "views catch-up");
    Check(commands_->Start(), "command side start");
    Check(queries_->Start(), "query side start");
    admin_ = std::make_unique<services::admin::Admin>(services::admin::ProcessInfo{
        .binary = "rpc_fuzzer",
        .engine = "embedded",
        .log_name = "embedded",
        .log = log_.get(),
        .writer = true,
        .stores = {{"views", queries_->runner()}, {"command-state", commands_->runner()}}});
    admin_service_ = std::make_unique<services::admin::AdminService>(admin_.get(), &executor_);
    grpc::ServerBuilder builder;
    std::vector<rpc::ServiceTable*> services = commands_->services();
    for (rpc::ServiceTable* s : queries_->services()) services.push_back(s);
    services.push_back(admin_service_.get());
    for (rpc::ServiceTable* s : services) {
      Check(s->Validate(), "service table");
      builder.RegisterService(s);
      services_.push_back(s->service_name());
    }
    server_ = builder.BuildAndStart();
    if (server_ == nullptr) Die("the in-process gRPC server did not start");
    stub_ = std::make_unique<grpc::GenericStub>(server_->InProcessChannel({}));
  }

  ~World() {
    server_->Shutdown();
    executor_.Stop();
    queries_->Stop();
    commands_->Stop();
    stub_.reset();
    server_.reset();
    admin_service_.reset();
    admin_.reset();
    queries_.reset();
    commands_.reset();
    views_.reset();
    state_.reset();
    log_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Every method served, as "<Service>/<Method>".
  std::vector<std::string> Methods() const {
    std::vector<std::string> methods;
    for (const std::string& name : services_) {
      const auto* service =
          google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
      for (int i = 0; i < service->method_count(); ++i) {
        methods.push_back(absl::StrCat(name, "/", service->method(i)->name()));
      }
    }
    return methods;
  }

  // A server-streaming call: its messages in `messages`, its end in the answer.
  Answer Stream(const std::string& path, const std::string& bytes, absl::Duration timeout,
                std::vector<std::string>* messages) {
    class Reader final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
     public:
      explicit Reader(std::vector<std::string>* messages) : messages_(messages) {}
      void Begin(grpc::GenericStub* stub, grpc::ClientContext* context, const std::string& path,
                 const std::string& bytes) {
        grpc::Slice slice(bytes);
        request_ = grpc::ByteBuffer(&slice, 1);
        stub->PrepareBidiStreamingCall(context, path, grpc::StubOptions(), this);
        StartWriteLast(&request_, grpc::WriteOptions());
        StartRead(&in_);
        StartCall();
      }
      void OnReadDone(bool ok) override {
        if (!ok) return;
        std::vector<grpc::Slice> slices;
        std::string message;
        if (in_.Dump(&slices).ok()) {
          for (const auto& s : slices) {
            message.append(reinterpret_cast<const char*>(s.begin()), s.size());
          }
        }
        messages_->push_back(std::move(message));
        StartRead(&in_);
      }
      void OnDone(const grpc::Status& status) override {
        status_ = status;
        done_.Notify();
      }
      bool Wait(absl::Duration timeout) { return done_.WaitForNotificationWithTimeout(timeout); }
      grpc::Status status() const { return status_; }

     private:
      std::vector<std::string>* const messages_;
      grpc::ByteBuffer request_;
      grpc::ByteBuffer in_;
      grpc::Status status_;
      absl::Notification done_;
    };
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    Reader reader(messages);
    reader.Begin(stub_.get(), &context, path, bytes);
    if (!reader.Wait(timeout + absl::Seconds(30))) {
      Die(absl::StrCat(path, ": the stream did not end 30 s after the call's deadline"));
    }
    return {.status = reader.status()};
  }

  Answer Call(const std::string& path, const std::string& bytes, absl::Duration timeout) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    Answer answer;
    absl::Notification done;
    stub_->UnaryCall(&context, path, grpc::StubOptions(), &request, &response,
                     [&](grpc::Status status) {
                       answer.status = std::move(status);
                       done.Notify();
                     });
    // The client's deadline ends every call; this only catches a gRPC that forgot it.
    if (!done.WaitForNotificationWithTimeout(timeout + absl::Seconds(30))) {
      Die(absl::StrCat(path, ": no answer 30 s after the call's deadline"));
    }
    if (answer.status.ok()) {
      std::vector<grpc::Slice> slices;
      if (!response.Dump(&slices).ok()) Die(absl::StrCat(path, ": unreadable response"));
      for (const auto& s : slices) {
        answer.response.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    return answer;
  }

 private:
  template <typename T>
  static T Must(absl::StatusOr<T> value, const char* what) {
    Check(value.status(), what);
    return std::move(value).value();
  }
  static void Check(const absl::Status& status, const char* what) {
    if (!status.ok()) Die(absl::StrCat(what, ": ", status.ToString()));
  }

  std::string dir_;
  base::FakeClock clock_;
  std::unique_ptr<eventlog::EmbeddedEventLog> log_;
  std::unique_ptr<kv::KvStore> state_;
  std::unique_ptr<kv::KvStore> views_;
  rpc::Executor executor_{4, 256};
  std::unique_ptr<assembly::CommandSide> commands_;
  std::unique_ptr<assembly::QuerySide> queries_;
  std::unique_ptr<services::admin::Admin> admin_;
  std::unique_ptr<services::admin::AdminService> admin_service_;
  std::vector<std::string> services_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

World* world = nullptr;
Method method;

const Message* Prototype(const google::protobuf::Descriptor* type) {
  return google::protobuf::MessageFactory::generated_factory()->GetPrototype(type);
}

// The method named "<Service>/<Method>"; exits if the proto has no such method.
Method Find(const std::string& name) {
  const size_t slash = name.find('/');
  const auto* service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      name.substr(0, slash == std::string::npos ? 0 : slash));
  const google::protobuf::MethodDescriptor* m =
      service == nullptr ? nullptr : service->FindMethodByName(name.substr(slash + 1));
  if (m == nullptr) Die(absl::StrCat("no method ", name, " (see -list_methods=1)"));
  const google::protobuf::FieldDescriptor* id = m->input_type()->FindFieldByName("request_id");
  return {.path = "/" + name,
          .request = Prototype(m->input_type()),
          .response = Prototype(m->output_type()),
          .command = id != nullptr && id->type() == google::protobuf::FieldDescriptor::TYPE_STRING,
          .server_stream = m->server_streaming()};
}

std::string StringField(const Message& message, const char* field) {
  const google::protobuf::FieldDescriptor* f = message.GetDescriptor()->FindFieldByName(field);
  if (f == nullptr || f->is_repeated() ||
      f->type() != google::protobuf::FieldDescriptor::TYPE_STRING)
    return "";
  return message.GetReflection()->GetString(message, f);
}

std::string Serialized(const Method& m, const std::string& text) {
  std::unique_ptr<Message> request(m.request->New());
  if (!google::protobuf::TextFormat::ParseFromString(text, request.get())) {
    Die(absl::StrCat(m.path, ": seed does not parse: ", text));
  }
  return request->SerializeAsString();
}

// Sends the fixture; every request must succeed. Waits until the views have it.
void SendFixture() {
  std::string token;
  for (const Seed& seed : Seeds()) {
    if (!seed.fixture) continue;
    const Method m = Find(seed.method);
    Answer answer = world->Call(m.path, Serialized(m, seed.text), kCallDeadline);
    if (!answer.status.ok()) {
      Die(absl::StrCat("fixture ", seed.method, " failed: ", answer.status.error_code(), " ",
                       answer.status.error_message(), "\n", seed.text));
    }
    std::unique_ptr<Message> response(m.response->New());
    response->ParseFromString(answer.response);
    token = StringField(*response, "consistency_token");
  }
  crm::v1::GetSegmentSizesRequest wait;
  wait.set_consistency_token(token);
  Answer waited = world->Call("/crm.v1.SegmentService/GetSegmentSizes", wait.SerializeAsString(),
                              kCallDeadline);
  if (!waited.status.ok())
    Die("the views did not reach the fixture: " + waited.status.error_message());
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat("code ", status.error_code(), " \"", status.error_message(), "\"");
}

// The contract every error keeps (see the file comment).
void CheckError(const grpc::Status& status, const std::string& context) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) {
    Die(absl::StrCat(context, ": error details are not a google.rpc.Status"));
  }
  bool error_info = false;
  int violations = 0;
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) {
      error_info = info.domain() == "crm.v1" && !info.reason().empty();
    }
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&bad)) violations += bad.field_violations_size();
  }
  if (!error_info) Die(absl::StrCat(context, ": no ErrorInfo with domain crm.v1 and a reason"));
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT && violations == 0) {
    Die(absl::StrCat(context, ": INVALID_ARGUMENT without a BadRequest field violation"));
  }
}

void FuzzOne(const std::string& bytes) {
  std::unique_ptr<Message> request(method.request->New());
  const bool parses = rpc::ParseRequest(bytes, request.get()).ok();
  const bool waits = parses && !StringField(*request, "consistency_token").empty();
  const absl::Duration deadline =
      waits || method.server_stream ? kTokenWaitDeadline : kCallDeadline;
  std::vector<std::string> messages;
  const Answer answer = method.server_stream
                            ? world->Stream(method.path, bytes, deadline, &messages)
                            : world->Call(method.path, bytes, deadline);
  for (const std::string& message : messages) {
    std::unique_ptr<Message> response(method.response->New());
    if (!response->ParseFromString(message)) {
      Die(absl::StrCat(method.path, ": a streamed message is not a ",
                       method.response->GetTypeName()));
    }
  }
  const grpc::Status& status = answer.status;
  const std::string context =
      absl::StrCat(method.path, " answered ", Describe(status), " to ",
                   parses ? request->ShortDebugString() : absl::CHexEscape(bytes));

  switch (status.error_code()) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      // A token the views may never reach, or a watch's end; gRPC's own answer has no details.
      if (waits || method.server_stream) return;
      Die(absl::StrCat(context, ": not answered within ", absl::FormatDuration(deadline)));
    default:
      Die(absl::StrCat(context, ": a code the contract does not allow"));
  }
  if (!parses && status.error_code() != grpc::StatusCode::INVALID_ARGUMENT) {
    Die(absl::StrCat(context, ": malformed bytes must be INVALID_ARGUMENT"));
  }
  if (!status.ok()) {
    CheckError(status, context);
    return;
  }
  std::unique_ptr<Message> response(method.response->New());
  if (!response->ParseFromString(answer.response)) {
    Die(absl::StrCat(context, ": the response is not a ", method.response->GetTypeName()));
  }
  if (!method.command || StringField(*request, "request_id").empty()) return;
  const Answer retry = world->Call(method.path, bytes, kCallDeadline);
  if (!retry.status.ok()) {
    Die(absl::StrCat(context, ": its retry answered ", Describe(retry.status)));
  }
  std::unique_ptr<Message> again(method.response->New());
  if (!again->ParseFromString(retry.response) ||
      !google::protobuf::util::MessageDifferencer::Equals(*response, *again)) {
    Die(absl::StrCat(context, ": its retry answered differently:\n  first ",
                     response->ShortDebugString(), "\n  retry ", again->ShortDebugString()));
  }
}

std::string Flag(int argc, char** argv, const char* name) {
  const std::string prefix = absl::StrCat("-", name, "=");
  std::string value;
  for (int i = 1; i < argc; ++i) {
    if (absl::StartsWith(argv[i], prefix)) value = argv[i] + prefix.size();
  }
  return value;
}

void WriteSeeds(const std::string& name, const std::string& dir) {
  const Method m = Find(name);
  std::filesystem::create_directories(dir);
  int n = 0;
  for (const Seed& seed : Seeds()) {
    if (seed.method != name) continue;
    std::ofstream(absl::StrCat(dir, "/seed-", ++n), std::ios::binary) << Serialized(m, seed.text);
  }
  if (n == 0) Die(absl::StrCat(name, " has no seed in tests/fuzz/rpc_seeds.cc"));
}

}  // namespace
}  // namespace crm::fuzz

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  using namespace crm::fuzz;
  spdlog::set_level(spdlog::level::warn);
  const std::string name = Flag(*argc, *argv, "method");
  const std::string seeds = Flag(*argc, *argv, "write_seeds");
  const bool list = Flag(*argc, *argv, "list_methods") == "1";
  if (!seeds.empty()) {
    WriteSeeds(name, seeds);
    std::exit(0);
  }
  world = new World();
  if (list) {
    const std::vector<std::string> methods = world->Methods();
    std::set<std::string> seeded;
    for (const Seed& seed : Seeds()) seeded.insert(seed.method);
    for (const std::string& m : methods) {
      if (!seeded.count(m)) Die(absl::StrCat(m, " has no seed in tests/fuzz/rpc_seeds.cc"));
      std::printf("%s\n", m.c_str());
    }
    delete world;
    std::exit(0);
  }
  if (name.empty()) Die("-method=<Service>/<Method> is required (see -list_methods=1)");
  method = Find(name);
  SendFixture();
  // Runs before the destructors of statics (registered after they were built): the server's
  // threads stop while everything they use is still there.
  std::atexit([] { delete world; });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  crm::fuzz::FuzzOne(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
