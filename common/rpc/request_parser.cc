#include "common/rpc/request_parser.h"

#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/errors.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/support/slice.h"

namespace crm::rpc {
namespace {

// Protobuf reports an invalid UTF-8 string only through its log ("String field '<full name>'
// contains invalid UTF-8 data when parsing ..."). While a parse runs on this thread, the log
// handler captures that text instead of printing it.
thread_local std::vector<std::string>* captured_log = nullptr;

void CapturingLogHandler(google::protobuf::LogLevel level, const char* filename, int line,
                         const std::string& message) {
  if (captured_log != nullptr) {
    captured_log->push_back(message);
    return;
  }
  if (level >= google::protobuf::LOGLEVEL_WARNING) {
    fprintf(stderr, "[protobuf %s:%d] %s\n", filename, line, message.c_str());
  }
}

void InstallLogHandlerOnce() {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(&CapturingLogHandler); });
}

// "String field 'crm.v1.Customer.display_name' contains ..." -> "crm.v1.Customer.display_name"
std::string QuotedFieldName(const std::string& log_line) {
  auto start = log_line.find('\'');
  if (start == std::string::npos) return "";
  auto end = log_line.find('\'', start + 1);
  if (end == std::string::npos) return "";
  return log_line.substr(start + 1, end - start - 1);
}

}  // namespace

std::string FieldPathFor(const google::protobuf::Descriptor* root, const std::string& full_name) {
  struct Node {
    const google::protobuf::Descriptor* type;
    std::string path;
    std::string map_field_path;  // set when `type` is a map entry: the map field's path
  };
  std::deque<Node> queue{{root, "", ""}};
  std::vector<const google::protobuf::Descriptor*> seen;
  while (!queue.empty()) {
    Node node = std::move(queue.front());
    queue.pop_front();
    for (int i = 0; i < node.type->field_count(); ++i) {
      const auto* field = node.type->field(i);
      std::string path =
          node.path.empty() ? field->name() : absl::StrCat(node.path, ".", field->name());
      if (field->full_name() == full_name) {
        return node.map_field_path.empty() ? path : node.map_field_path;
      }
      if (field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
        const auto* sub = field->message_type();
        bool visited = false;
        for (const auto* s : seen) visited |= (s == sub);
        if (visited) continue;
        seen.push_back(sub);
        queue.push_back({sub, path, field->is_map() ? path : ""});
      }
    }
  }
  return "";
}

absl::Status ParseRequest(const std::string& bytes, google::protobuf::Message* message,
                          size_t max_bytes) {
  message->Clear();
  if (bytes.size() > max_bytes) {
    return status::InvalidArgument(
        "", absl::StrCat("request is ", bytes.size(), " bytes; the limit is ", max_bytes));
  }
  InstallLogHandlerOnce();
  std::vector<std::string> log;
  captured_log = &log;
  const bool ok = message->ParseFromString(bytes);
  captured_log = nullptr;
  if (ok) return absl::OkStatus();
  for (const auto& line : log) {
    if (line.find("invalid UTF-8") == std::string::npos) continue;
    const std::string full_name = QuotedFieldName(line);
    std::string path = FieldPathFor(message->GetDescriptor(), full_name);
    if (path.empty()) path = full_name;
    return status::InvalidArgument(path, "is not valid UTF-8");
  }
  return status::InvalidArgument("", "request is not a valid " + message->GetTypeName());
}

absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* message,
                          size_t max_bytes) {
  if (bytes.Length() > max_bytes) {
    message->Clear();
    return status::InvalidArgument(
        "", absl::StrCat("request is ", bytes.Length(), " bytes; the limit is ", max_bytes));
  }
  std::vector<grpc::Slice> slices;
  grpc::Status dumped = bytes.Dump(&slices);
  if (!dumped.ok()) return status::InvalidArgument("", "request bytes could not be read");
  std::string flat;
  flat.reserve(bytes.Length());
  for (const auto& s : slices) flat.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return ParseRequest(flat, message, max_bytes);
}

grpc::ByteBuffer SerializeResponse(const google::protobuf::Message& message) {
  std::string bytes = message.SerializeAsString();
  grpc::Slice slice(std::move(bytes));
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace crm::rpc
