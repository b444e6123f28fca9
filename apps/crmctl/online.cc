#include "apps/crmctl/online.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "apps/crmctl/csv_import.h"
#include "common/base/time_util.h"
#include "common/base/uuid.h"
#include "crm/admin/v1/admin_service.grpc.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/complaint_query_service.grpc.pb.h"
#include "crm/v1/customer_service.grpc.pb.h"
#include "crm/v1/notification_service.grpc.pb.h"
#include "crm/v1/survey_service.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "nlohmann/json.hpp"

namespace crm::crmctl {
namespace {

namespace adminv1 = crm::admin::v1;
using google::protobuf::Message;

constexpr int32_t kPageSize = 500;
// Rows per message of an ImportCustomers stream (well under the 4 MiB message limit).
constexpr int kImportRowsPerMessage = 200;

// One JSON line of `message`: field names as in the .proto, every field (zeros and empty lists
// too), int64 as strings and bytes as base64 (the protobuf JSON mapping).
std::string Json(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;  // zeros too, so scripts find every field
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

std::string FormatTime(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  const absl::Time t = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string FormatDuration(const google::protobuf::Duration& d) {
  return absl::FormatDuration(absl::Trunc(absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos()),
                                          absl::Milliseconds(1)));
}

// The name of a gRPC status code ("NOT_FOUND").
const char* CodeName(int code) {
  static const char* const kCodes[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kCodes[code] : "UNKNOWN";
}

// One line for an error reported inside an answer: code, message, ErrorInfo reason.
std::string ErrorText(const google::rpc::Status& status) {
  std::string reason;
  for (const google::protobuf::Any& any : status.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) reason = info.reason();
  }
  return absl::StrCat(CodeName(status.code()), ": ", status.message(),
                      reason.empty() ? "" : absl::StrCat(" (reason ", reason, ")"));
}

// Prints rows as columns padded to their widest cell (the first row is the header).
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  }
}

// A field's value as text: scalars as they are, enums by name, messages as compact JSON.
std::string FieldText(const Message& message, const google::protobuf::FieldDescriptor* field,
                      int index) {
  const google::protobuf::Reflection* r = message.GetReflection();
  using FD = google::protobuf::FieldDescriptor;
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FD::CPPTYPE_STRING: {
      const std::string v =
          repeated ? r->GetRepeatedString(message, field, index) : r->GetString(message, field);
      return field->type() == FD::TYPE_BYTES ? absl::StrCat("base64:", absl::Base64Escape(v)) : v;
    }
    case FD::CPPTYPE_INT32:
      return absl::StrCat(repeated ? r->GetRepeatedInt32(message, field, index)
                                   : r->GetInt32(message, field));
    case FD::CPPTYPE_INT64:
      return absl::StrCat(repeated ? r->GetRepeatedInt64(message, field, index)
                                   : r->GetInt64(message, field));
    case FD::CPPTYPE_UINT32:
      return absl::StrCat(repeated ? r->GetRepeatedUInt32(message, field, index)
                                   : r->GetUInt32(message, field));
    case FD::CPPTYPE_UINT64:
      return absl::StrCat(repeated ? r->GetRepeatedUInt64(message, field, index)
                                   : r->GetUInt64(message, field));
    case FD::CPPTYPE_DOUBLE:
      return absl::StrCat(repeated ? r->GetRepeatedDouble(message, field, index)
                                   : r->GetDouble(message, field));
    case FD::CPPTYPE_FLOAT:
      return absl::StrCat(repeated ? r->GetRepeatedFloat(message, field, index)
                                   : r->GetFloat(message, field));
    case FD::CPPTYPE_BOOL:
      return (repeated ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field))
                 ? "true"
                 : "false";
    case FD::CPPTYPE_ENUM:
      return (repeated ? r->GetRepeatedEnum(message, field, index) : r->GetEnum(message, field))
          ->name();
    case FD::CPPTYPE_MESSAGE: {
      const Message& m =
          repeated ? r->GetRepeatedMessage(message, field, index) : r->GetMessage(message, field);
      if (m.GetDescriptor()->full_name() == "google.protobuf.Timestamp") {
        return FormatTime(static_cast<const google::protobuf::Timestamp&>(m));
      }
      return Json(m);
    }
  }
  return "";
}

// A message for people: one "field: value" line per field that is set.
void PrintFields(const Message& message) {
  std::vector<std::vector<std::string>> rows;
  const google::protobuf::Descriptor* d = message.GetDescriptor();
  const google::protobuf::Reflection* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) {
      const int n = r->FieldSize(message, f);
      if (n == 0) continue;
      std::vector<std::string> values;
      if (f->is_map()) {
        for (int j = 0; j < n; ++j) values.push_back(FieldText(message, f, j));
        rows.push_back({f->name() + ":", absl::StrJoin(values, " ")});
      } else {
        for (int j = 0; j < n; ++j) values.push_back(FieldText(message, f, j));
        rows.push_back({f->name() + ":", absl::StrJoin(values, ", ")});
      }
    } else if (r->HasField(message, f)) {
      rows.push_back({f->name() + ":", FieldText(message, f, 0)});
    }
  }
  PrintTable(rows);
}

// The payload (the oneof's message) of an event envelope, as compact JSON.
std::string PayloadJson(const crm::events::v1::EventEnvelope& event) {
  const google::protobuf::OneofDescriptor* payload =
      crm::events::v1::EventEnvelope::descriptor()->FindOneofByName("payload");
  const google::protobuf::FieldDescriptor* field =
      event.GetReflection()->GetOneofFieldDescriptor(event, payload);
  if (field == nullptr) return "{}";
  return Json(event.GetReflection()->GetMessage(event, field));
}

std::string ShortType(const std::string& type) {
  const size_t dot = type.rfind('.');
  return dot == std::string::npos ? type : type.substr(dot + 1);
}

std::string CustomerName(const std::string& id) {
  return absl::StartsWith(id, "customers/") ? id : absl::StrCat("customers/", id);
}

// "customers/{c}/{collection}/{id}" from that, or from "{c}/{id}".
std::string ChildName(const std::string& name, absl::string_view collection) {
  if (absl::StartsWith(name, "customers/")) return name;
  const size_t slash = name.find('/');
  if (slash == std::string::npos) return name;  // the server names what is wrong
  return absl::StrCat("customers/", name.substr(0, slash), "/", collection, "/",
                      name.substr(slash + 1));
}

// The number of an enum value given by name, with or without the enum's prefix ("LOYAL",
// "loyal"); nullopt if unknown.
std::optional<int> EnumValue(const google::protobuf::EnumDescriptor* e, std::string name) {
  absl::AsciiStrToUpper(&name);
  for (const std::string& candidate : {name, absl::StrCat(e->name(), "_", name)}) {
    if (const auto* v = e->FindValueByName(candidate); v != nullptr) return v->number();
  }
  return std::nullopt;
}

std::vector<std::string> CustomerRow(const crm::v1::Customer& c) {
  return {c.name(),
          c.display_name(),
          crm::v1::LifecycleStage_Name(c.lifecycle_stage()),
          crm::v1::ValueTier_Name(c.value_tier()),
          c.owner().empty() ? "-" : c.owner(),
          absl::StrJoin(c.emails(), ","),
          absl::StrJoin(c.tags(), ",")};
}
const std::vector<std::string> kCustomerHeader = {"NAME",  "DISPLAY_NAME", "STAGE", "TIER",
                                                  "OWNER", "EMAILS",       "TAGS"};

}  // namespace

Online::Online(Connection connection) : connection_(std::move(connection)) {}

bool Online::Connect() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (connection_.use_tls) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> tls =
        rpc::MakeChannelCredentials(connection_.tls);
    if (!tls.ok()) {
      std::fprintf(stderr, "crmctl: %s\n", std::string(tls.status().message()).c_str());
      return false;
    }
    credentials = *tls;
    if (!connection_.tls.server_name.empty()) {
      args.SetSslTargetNameOverride(connection_.tls.server_name);
    }
  }
  channel_ = grpc::CreateCustomChannel(connection_.server, credentials, args);
  if (!channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + connection_.timeout))) {
    std::fprintf(stderr, "crmctl: cannot connect to %s (--server, CRM_SERVER)\n",
                 connection_.server.c_str());
    return false;
  }
  return true;
}

std::unique_ptr<grpc::ClientContext> Online::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + connection_.timeout));
  context->AddMetadata("x-crm-actor", "crmctl");
  if (!connection_.token.empty())
    context->AddMetadata("authorization", "Bearer " + connection_.token);
  return context;
}

int Online::Failed(const char* what, const grpc::Status& status) const {
  std::string reason;
  google::rpc::Status details;
  if (!status.error_details().empty() && details.ParseFromString(status.error_details())) {
    for (const google::protobuf::Any& any : details.details()) {
      google::rpc::ErrorInfo info;
      if (any.UnpackTo(&info)) reason = info.reason();
    }
  }
  const char* name = CodeName(status.error_code());
  std::fprintf(stderr, "crmctl %s: %s: %s%s\n", what, name, status.error_message().c_str(),
               reason.empty() ? "" : absl::StrCat(" (reason ", reason, ")").c_str());
  // No error details: gRPC itself answered (the connection failed), not the server.
  const bool transport =
      status.error_details().empty() && status.error_code() == grpc::StatusCode::UNAVAILABLE;
  return transport ? kExitUsage : kExitServerError;
}

int Online::Status() {
  if (!Connect()) return kExitUsage;
  auto stub = adminv1::AdminService::NewStub(channel_);
  adminv1::ProcessStatus status;
  auto context = NewContext();
  if (grpc::Status s = stub->GetStatus(context.get(), {}, &status); !s.ok()) {
    return Failed("status", s);
  }
  if (connection_.json) {
    std::printf("%s\n", Json(status).c_str());
    return kExitOk;
  }
  std::vector<std::string> written;
  for (int32_t p : status.written_partitions()) written.push_back(absl::StrCat(p));
  std::vector<std::string> not_serving;
  int serving = 0;
  for (const adminv1::HealthStatus& h : status.health()) {
    if (h.status() == "SERVING") {
      ++serving;
    } else {
      not_serving.push_back(
          absl::StrCat(h.service().empty() ? "(server)" : h.service(), " ", h.status()));
    }
  }
  PrintTable({
      {"binary:", absl::StrCat(status.binary(), " (", absl::StrJoin(status.roles(), ", "), ")")},
      {"version:", status.version()},
      {"engine:", absl::StrCat(status.engine(), ", log ", status.log())},
      {"started:", FormatTime(status.start_time())},
      {"partitions:",
       absl::StrCat(status.partition_count(), ", writes ",
                    written.empty() ? "none" : absl::StrJoin(written, ","), ", reads all")},
      {"health:", not_serving.empty()
                      ? absl::StrCat("all ", serving, " SERVING")
                      : absl::StrCat(absl::StrJoin(not_serving, "; "), " (", serving, " SERVING)")},
  });
  std::vector<std::vector<std::string>> folds = {
      {"STORE", "FOLD", "VERSION", "STATE", "DEAD_LETTERS", "UNKNOWN", "APPLIED"}};
  std::vector<std::vector<std::string>> lag = {
      {"STORE", "PARTITION", "APPLIED", "END", "LAG", "LAG_TIME"}};
  for (const adminv1::StoreStatus& store : status.stores()) {
    for (const adminv1::FoldStatus& f : store.folds()) {
      std::vector<std::string> applied;
      for (const adminv1::PartitionOffset& a : f.applied()) {
        applied.push_back(absl::StrCat("p", a.partition(), ":", a.offset()));
      }
      folds.push_back({store.name(), f.name(), absl::StrCat(f.version()),
                       f.refolding() ? "refolding" : "serving", absl::StrCat(f.dead_letters()),
                       absl::StrCat(f.unknown_records()), absl::StrJoin(applied, " ")});
    }
    for (const adminv1::PartitionProgress& p : store.partitions()) {
      lag.push_back({store.name(), absl::StrCat(p.partition()), absl::StrCat(p.applied_offset()),
                     absl::StrCat(p.end_offset()), absl::StrCat(p.lag_offsets()),
                     FormatDuration(p.lag())});
    }
    if (!store.log_error().empty()) {
      std::printf("%s: the log's end could not be read: %s\n", store.name().c_str(),
                  store.log_error().c_str());
    }
  }
  std::printf("\n");
  PrintTable(folds);
  std::printf("\n");
  PrintTable(lag);
  return kExitOk;
}

int Online::Rebuild(const std::string& fold, const std::string& store, bool wait) {
  if (!Connect()) return kExitUsage;
  auto stub = adminv1::AdminService::NewStub(channel_);
  adminv1::RebuildFoldsRequest request;
  request.set_fold(fold);
  request.set_store(store);
  adminv1::RebuildFoldsResponse response;
  auto context = NewContext();
  if (grpc::Status s = stub->RebuildFolds(context.get(), request, &response); !s.ok()) {
    return Failed("rebuild", s);
  }
  if (connection_.json) {
    std::printf("%s\n", Json(response).c_str());
  } else {
    for (const auto& f : response.folds()) {
      std::printf("%s (%s): %s\n", f.name().c_str(), f.store().c_str(),
                  f.started() ? "rebuild started" : "already being rebuilt");
    }
  }
  if (!wait) return kExitOk;
  // Until none of the folds refolds (GetStatus, every second).
  while (true) {
    adminv1::ProcessStatus status;
    auto poll = NewContext();
    if (grpc::Status s = stub->GetStatus(poll.get(), {}, &status); !s.ok()) {
      return Failed("rebuild --wait", s);
    }
    bool refolding = false;
    for (const auto& st : status.stores()) {
      for (const auto& f : st.folds()) {
        for (const auto& r : response.folds()) {
          if (r.name() == f.name() && f.refolding()) refolding = true;
        }
      }
    }
    if (!refolding) break;
    absl::SleepFor(absl::Seconds(1));
  }
  if (!connection_.json) std::printf("rebuilt: serving again\n");
  return kExitOk;
}

int Online::ListDeadLetters(const std::string& fold, int64_t limit) {
  if (!Connect()) return kExitUsage;
  auto stub = adminv1::AdminService::NewStub(channel_);
  adminv1::ListDeadLettersRequest request;
  request.set_parent(fold.empty() ? "folds/-" : absl::StrCat("folds/", fold));
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "FOLD", "PARTITION", "OFFSET", "EVENT_TYPE", "KEY", "ERROR"}};
  int64_t printed = 0;
  do {
    request.set_page_size(static_cast<int32_t>(
        limit > 0 ? std::min<int64_t>(kPageSize, limit - printed) : kPageSize));
    adminv1::ListDeadLettersResponse response;
    auto context = NewContext();
    if (grpc::Status s = stub->ListDeadLetters(context.get(), request, &response); !s.ok()) {
      return Failed("dead-letters list", s);
    }
    for (const adminv1::DeadLetter& d : response.dead_letters()) {
      if (connection_.json) {
        std::printf("%s\n", Json(d).c_str());
      } else {
        rows.push_back({d.name(), d.fold(), absl::StrCat(d.partition()), absl::StrCat(d.offset()),
                        d.event_type().empty() ? "-" : d.event_type(),
                        d.key().empty() ? "-" : d.key(), d.error()});
      }
      ++printed;
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty() && (limit <= 0 || printed < limit));
  if (!connection_.json) {
    if (printed == 0) {
      std::printf("no dead letters\n");
    } else {
      PrintTable(rows);
    }
  }
  return kExitOk;
}

int Online::ShowDeadLetter(const std::string& name) {
  if (!Connect()) return kExitUsage;
  auto stub = adminv1::AdminService::NewStub(channel_);
  adminv1::GetDeadLetterRequest request;
  request.set_name(name);
  adminv1::DeadLetter letter;
  auto context = NewContext();
  if (grpc::Status s = stub->GetDeadLetter(context.get(), request, &letter); !s.ok()) {
    return Failed("dead-letters show", s);
  }
  if (connection_.json) {
    std::printf("%s\n", Json(letter).c_str());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"name:", letter.name()},
      {"fold:", letter.fold()},
      {"position:", absl::StrCat("partition ", letter.partition(), " offset ", letter.offset())},
      {"error:", letter.error()},
      {"event_type:", letter.event_type().empty() ? "-" : letter.event_type()},
      {"key:", letter.key().empty() ? "-" : letter.key()},
  };
  for (const adminv1::Header& h : letter.headers()) {
    rows.push_back({"header:", absl::StrCat(h.name(), "=", h.value())});
  }
  rows.push_back({"value:", absl::StrCat(letter.value().size(), " bytes, base64 ",
                                         absl::Base64Escape(letter.value()))});
  crm::events::v1::EventEnvelope event;
  if (!letter.value().empty() && event.ParseFromString(letter.value())) {
    rows.push_back({"decoded:", Json(event)});
  }
  PrintTable(rows);
  return kExitOk;
}

int Online::RetryDeadLetter(const std::string& name) {
  if (!Connect()) return kExitUsage;
  auto stub = adminv1::AdminService::NewStub(channel_);
  adminv1::RetryDeadLetterRequest request;
  request.set_name(name);
  adminv1::RetryDeadLetterResponse response;
  auto context = NewContext();
  if (grpc::Status s = stub->RetryDeadLetter(context.get(), request, &response); !s.ok()) {
    return Failed("dead-letters retry", s);
  }
  if (connection_.json) {
    std::printf("%s\n", Json(response).c_str());
  } else {
    std::printf("%s: applied, dead letter removed\n", response.name().c_str());
  }
  return kExitOk;
}

int Online::Events(const EventFilter& filter) {
  if (!Connect()) return kExitUsage;
  auto stub = adminv1::AdminService::NewStub(channel_);
  adminv1::ListEventsRequest request;
  request.set_customer_id(filter.customer_id);
  for (const std::string& t : filter.types) {
    request.add_event_types(absl::StrContains(t, '.') ? t : absl::StrCat("crm.events.v1.", t));
  }
  if (filter.since) {
    request.mutable_start_time()->set_seconds(absl::ToUnixSeconds(*filter.since));
    request.mutable_start_time()->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(
        *filter.since - absl::FromUnixSeconds(absl::ToUnixSeconds(*filter.since)))));
  }
  if (filter.until) {
    request.mutable_end_time()->set_seconds(absl::ToUnixSeconds(*filter.until));
    request.mutable_end_time()->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(
        *filter.until - absl::FromUnixSeconds(absl::ToUnixSeconds(*filter.until)))));
  }
  request.set_start_at_end(filter.from_end);
  int64_t printed = 0;
  while (true) {
    request.set_page_size(static_cast<int32_t>(
        filter.limit > 0 ? std::min<int64_t>(kPageSize, filter.limit - printed) : kPageSize));
    adminv1::ListEventsResponse response;
    auto context = NewContext();
    if (grpc::Status s = stub->ListEvents(context.get(), request, &response); !s.ok()) {
      return Failed("events", s);
    }
    for (const adminv1::LogEvent& e : response.events()) {
      crm::events::v1::EventEnvelope event;
      const bool decoded = event.ParseFromString(e.value());
      if (connection_.json) {
        // The record's position and key with the decoded event (or the raw value if undecodable).
        nlohmann::ordered_json line = {
            {"partition", e.partition()}, {"offset", e.offset()}, {"key", e.key()}};
        if (decoded) {
          line["event"] =
              nlohmann::ordered_json::parse(Json(event), nullptr, /*allow_exceptions=*/false);
        } else {
          line["event_type"] = e.event_type();
          line["value_base64"] = absl::Base64Escape(e.value());
        }
        std::printf(
            "%s\n",
            line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
      } else {
        std::printf("p%d:%lld  %s  %s  %s  %s\n", e.partition(), static_cast<long long>(e.offset()),
                    FormatTime(e.record_time()).c_str(), e.key().c_str(),
                    decoded ? ShortType(event.event_type()).c_str()
                            : (e.event_type().empty() ? "(undecodable)" : e.event_type().c_str()),
                    decoded ? PayloadJson(event).c_str() : "(undecodable value)");
      }
      ++printed;
    }
    std::fflush(stdout);
    if (filter.limit > 0 && printed >= filter.limit) break;
    if (!response.next_page_token().empty()) {
      request.set_page_token(response.next_page_token());
      continue;
    }
    if (!filter.follow) break;
    request.set_page_token(response.resume_page_token());
    absl::SleepFor(filter.poll_interval);
  }
  return kExitOk;
}

int Online::Audit(const AuditFilter& filter) {
  if (!Connect()) return kExitUsage;
  auto stub = adminv1::AdminService::NewStub(channel_);
  adminv1::ListAuditRecordsRequest request;
  if (!filter.customer.empty()) request.set_customer(CustomerName(filter.customer));
  request.set_subject(filter.subject);
  request.set_method(filter.method);
  if (filter.since) *request.mutable_start_time() = base::ToTimestamp(*filter.since);
  if (filter.until) *request.mutable_end_time() = base::ToTimestamp(*filter.until);
  int64_t printed = 0;
  while (true) {
    request.set_page_size(static_cast<int32_t>(
        filter.limit > 0 ? std::min<int64_t>(kPageSize, filter.limit - printed) : kPageSize));
    adminv1::ListAuditRecordsResponse response;
    auto context = NewContext();
    if (grpc::Status s = stub->ListAuditRecords(context.get(), request, &response); !s.ok()) {
      return Failed("audit", s);
    }
    for (const adminv1::AuditRecord& r : response.audit_records()) {
      if (connection_.json) {
        std::printf("%s\n", Json(r).c_str());
      } else {
        // time  subject (kind)  method  customers
        std::printf("%s  %s (%s)  %s  %s\n", FormatTime(r.record_time()).c_str(),
                    r.subject().c_str(), r.principal_kind().c_str(), r.method().c_str(),
                    absl::StrJoin(r.customers(), ",").c_str());
      }
      ++printed;
    }
    std::fflush(stdout);
    if (filter.limit > 0 && printed >= filter.limit) break;
    if (!response.next_page_token().empty()) {
      request.set_page_token(response.next_page_token());
      continue;
    }
    if (!filter.follow) break;
    request.set_page_token(response.resume_page_token());
    absl::SleepFor(filter.poll_interval);
  }
  return kExitOk;
}

int Online::GetCustomer(const std::string& id) {
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::CustomerQueryService::NewStub(channel_);
  crm::v1::GetCustomerRequest request;
  request.set_name(CustomerName(id));
  crm::v1::Customer customer;
  auto context = NewContext();
  if (grpc::Status s = stub->GetCustomer(context.get(), request, &customer); !s.ok()) {
    return Failed("customer get", s);
  }
  if (connection_.json) {
    std::printf("%s\n", Json(customer).c_str());
  } else {
    PrintFields(customer);
  }
  return kExitOk;
}

int Online::MergeCustomers(const std::string& survivor, const std::string& merged, bool dry_run,
                           const std::string& request_id) {
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::CustomerCommandService::NewStub(channel_);
  crm::v1::MergeCustomersRequest request;
  request.set_survivor(CustomerName(survivor));
  request.set_merged(CustomerName(merged));
  request.set_validate_only(dry_run);
  request.set_request_id(!request_id.empty() ? request_id
                                             : base::UuidFromName(absl::StrCat(
                                                   "crmctl/customer-merge/", request.survivor(),
                                                   "/", request.merged())));
  crm::v1::MergeCustomersResponse response;
  auto context = NewContext();
  if (grpc::Status s = stub->MergeCustomers(context.get(), request, &response); !s.ok()) {
    return Failed("customer merge", s);
  }
  if (connection_.json) {
    std::printf("%s\n", Json(response).c_str());
    return kExitOk;
  }
  const crm::v1::MergeSummary& m = response.summary();
  std::printf("%s %s into %s\n", dry_run ? "would merge" : "merged", request.merged().c_str(),
              response.customer().name().c_str());
  PrintTable(
      {{"moves", "count", "which"},
       {"interactions", absl::StrCat(m.interaction_count()), ""},
       {"complaints", absl::StrCat(m.complaint_count()), ""},
       {"purchases", absl::StrCat(m.purchase_count()), ""},
       {"tags", absl::StrCat(m.tags_size()), absl::StrJoin(m.tags(), " ")},
       {"e-mails", absl::StrCat(m.emails_size()), absl::StrJoin(m.emails(), " ")},
       {"phones", absl::StrCat(m.phones_size()), absl::StrJoin(m.phones(), " ")},
       {"fields", absl::StrCat(m.filled_fields_size()), absl::StrJoin(m.filled_fields(), " ")}});
  return kExitOk;
}

int Online::ArchiveCustomer(const std::string& id, bool archive, const std::string& reason) {
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::CustomerCommandService::NewStub(channel_);
  crm::v1::CustomerCommandResponse response;
  auto context = NewContext();
  grpc::Status s;
  if (archive) {
    crm::v1::ArchiveCustomerRequest request;
    request.set_name(CustomerName(id));
    request.set_reason(reason);
    request.set_request_id(base::NewUuid());
    s = stub->ArchiveCustomer(context.get(), request, &response);
  } else {
    crm::v1::UnarchiveCustomerRequest request;
    request.set_name(CustomerName(id));
    request.set_reason(reason);
    request.set_request_id(base::NewUuid());
    s = stub->UnarchiveCustomer(context.get(), request, &response);
  }
  if (!s.ok()) return Failed(archive ? "customer archive" : "customer unarchive", s);
  if (connection_.json) {
    std::printf("%s\n", Json(response).c_str());
  } else {
    PrintFields(response.customer());
  }
  return kExitOk;
}

int Online::RefundPurchase(const std::string& id, const std::string& purchase_id,
                           int64_t amount_minor, const std::string& currency,
                           const std::string& reason, const std::string& request_id) {
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::CustomerCommandService::NewStub(channel_);
  crm::v1::RefundPurchaseRequest request;
  request.set_name(CustomerName(id));
  request.set_purchase_id(purchase_id);
  if (amount_minor != 0) {
    request.mutable_amount()->set_currency_code(currency);
    request.mutable_amount()->set_amount_minor(amount_minor);
  }
  request.set_reason(reason);
  request.set_request_id(!request_id.empty()
                             ? request_id
                             : base::UuidFromName(absl::StrCat(
                                   "crmctl/customer-refund/", request.name(), "/", purchase_id, "/",
                                   amount_minor, "/", currency, "/", reason)));
  crm::v1::CustomerCommandResponse response;
  auto context = NewContext();
  if (grpc::Status s = stub->RefundPurchase(context.get(), request, &response); !s.ok()) {
    return Failed("customer refund", s);
  }
  if (connection_.json) {
    std::printf("%s\n", Json(response).c_str());
  } else {
    PrintFields(response.customer());
  }
  return kExitOk;
}

template <typename Request, typename Response>
int Online::PrintCustomerPages(
    const char* what, Request& request, int64_t limit,
    const std::function<grpc::Status(grpc::ClientContext*, const Request&, Response*)>& call) {
  std::vector<std::vector<std::string>> rows = {kCustomerHeader};
  int64_t printed = 0;
  do {
    request.set_page_size(static_cast<int32_t>(
        limit > 0 ? std::min<int64_t>(kPageSize, limit - printed) : kPageSize));
    Response response;
    auto context = NewContext();
    if (grpc::Status s = call(context.get(), request, &response); !s.ok()) return Failed(what, s);
    for (const crm::v1::Customer& c : response.customers()) {
      if (connection_.json) {
        std::printf("%s\n", Json(c).c_str());
      } else {
        rows.push_back(CustomerRow(c));
      }
      ++printed;
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty() && (limit <= 0 || printed < limit));
  if (!connection_.json) PrintTable(rows);
  return kExitOk;
}

int Online::ListCustomers(const CustomerFilter& filter) {
  crm::v1::ListCustomersRequest request;
  if (!filter.stage.empty()) {
    std::optional<int> v = EnumValue(crm::v1::LifecycleStage_descriptor(), filter.stage);
    if (!v) {
      std::fprintf(stderr, "crmctl customer list: --stage %s is not a lifecycle stage\n",
                   filter.stage.c_str());
      return kExitUsage;
    }
    request.set_lifecycle_stage(static_cast<crm::v1::LifecycleStage>(*v));
  }
  if (!filter.tier.empty()) {
    std::optional<int> v = EnumValue(crm::v1::ValueTier_descriptor(), filter.tier);
    if (!v) {
      std::fprintf(stderr, "crmctl customer list: --tier %s is not a value tier\n",
                   filter.tier.c_str());
      return kExitUsage;
    }
    request.set_value_tier(static_cast<crm::v1::ValueTier>(*v));
  }
  request.set_owner(filter.owner);
  request.set_tag(filter.tag);
  request.set_show_archived(filter.show_archived);
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::CustomerQueryService::NewStub(channel_);
  return PrintCustomerPages<crm::v1::ListCustomersRequest, crm::v1::ListCustomersResponse>(
      "customer list", request, filter.limit,
      [&](grpc::ClientContext* context, const auto& r, auto* response) {
        return stub->ListCustomers(context, r, response);
      });
}

int Online::SearchCustomers(const CustomerFilter& filter) {
  crm::v1::SearchCustomersRequest request;
  auto set_stage = [](crm::v1::SearchCustomersRequest& r, int v) {
    r.set_lifecycle_stage(static_cast<crm::v1::LifecycleStage>(v));
  };
  auto set_tier = [](crm::v1::SearchCustomersRequest& r, int v) {
    r.set_value_tier(static_cast<crm::v1::ValueTier>(v));
  };
  auto set_kind = [](crm::v1::SearchCustomersRequest& r, int v) {
    r.set_kind(static_cast<crm::v1::CustomerKind>(v));
  };
  const std::vector<
      std::tuple<const std::string*, const google::protobuf::EnumDescriptor*, const char*,
                 std::function<void(crm::v1::SearchCustomersRequest&, int)>>>
      enums = {{&filter.stage, crm::v1::LifecycleStage_descriptor(), "--stage", set_stage},
               {&filter.tier, crm::v1::ValueTier_descriptor(), "--tier", set_tier},
               {&filter.kind, crm::v1::CustomerKind_descriptor(), "--kind", set_kind}};
  for (const auto& [text, descriptor, flag, set] : enums) {
    if (text->empty()) continue;
    std::optional<int> v = EnumValue(descriptor, *text);
    if (!v) {
      std::fprintf(stderr, "crmctl customer search: %s %s is not one of %s\n", flag, text->c_str(),
                   descriptor->name().c_str());
      return kExitUsage;
    }
    set(request, *v);
  }
  request.set_query(filter.query);
  request.set_region(filter.region);
  request.set_industry(filter.industry);
  request.set_owner(filter.owner);
  request.set_tag(filter.tag);
  request.set_show_archived(filter.show_archived);
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::CustomerQueryService::NewStub(channel_);
  return PrintCustomerPages<crm::v1::SearchCustomersRequest, crm::v1::SearchCustomersResponse>(
      "customer search", request, filter.limit,
      [&](grpc::ClientContext* context, const auto& r, auto* response) {
        return stub->SearchCustomers(context, r, response);
      });
}

int Online::FindCustomers(const crm::v1::FindCustomersRequest& request) {
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::CustomerQueryService::NewStub(channel_);
  crm::v1::FindCustomersResponse response;
  auto context = NewContext();
  if (grpc::Status s = stub->FindCustomers(context.get(), request, &response); !s.ok()) {
    return Failed("customer find", s);
  }
  if (connection_.json) {
    for (const crm::v1::Customer& c : response.customers()) std::printf("%s\n", Json(c).c_str());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {kCustomerHeader};
  for (const crm::v1::Customer& c : response.customers()) rows.push_back(CustomerRow(c));
  PrintTable(rows);
  return kExitOk;
}

int Online::ImportCustomers(const std::string& file, const std::string& request_id) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "crmctl import customers: cannot read %s\n", file.c_str());
    return kExitUsage;
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<CsvRows> parsed = [&]() -> absl::StatusOr<CsvRows> {
    auto records = ParseCsv(text.str());
    if (!records.ok()) return records.status();
    return RowsFromCsv(*records);
  }();
  if (!parsed.ok()) {
    std::fprintf(stderr, "crmctl import customers: %s: %s\n", file.c_str(),
                 std::string(parsed.status().message()).c_str());
    return kExitUsage;
  }
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::CustomerCommandService::NewStub(channel_);
  crm::v1::ImportCustomersResponse response;
  auto context = NewContext();
  {
    auto writer = stub->ImportCustomers(context.get(), &response);
    // A file's import is retried by importing it again: by default the request id is derived
    // from the file's content.
    crm::v1::ImportCustomersRequest message;
    message.set_request_id(!request_id.empty()
                               ? request_id
                               : base::UuidFromName(absl::StrCat("crmctl-import/", text.str())));
    bool open = true;
    for (crm::v1::ImportCustomerRow& row : parsed->rows) {
      *message.add_rows() = std::move(row);
      if (message.rows_size() == kImportRowsPerMessage) {
        open = writer->Write(message);
        if (!open) break;  // the call ended: Finish says why
        message.Clear();
      }
    }
    if (open && (message.rows_size() > 0 || !message.request_id().empty())) {
      writer->Write(message);
    }
    writer->WritesDone();
    if (grpc::Status s = writer->Finish(); !s.ok()) return Failed("import customers", s);
  }
  std::vector<crm::v1::ImportCustomerResult> results(response.results().begin(),
                                                     response.results().end());
  for (auto& failed : parsed->failed) {
    response.set_failed_count(response.failed_count() + 1);
    results.push_back(std::move(failed));
  }
  std::stable_sort(results.begin(), results.end(),
                   [](const auto& a, const auto& b) { return a.row_number() < b.row_number(); });
  if (connection_.json) {
    for (const auto& r : results) std::printf("%s\n", Json(r).c_str());
    crm::v1::ImportCustomersResponse summary = response;
    summary.clear_results();
    std::printf("%s\n", Json(summary).c_str());
  } else {
    std::vector<std::vector<std::string>> rows = {
        {"ROW", "OUTCOME", "CUSTOMER", "EVENTS", "ERROR"}};
    for (const auto& r : results) {
      rows.push_back({absl::StrCat(r.row_number()), crm::v1::ImportOutcome_Name(r.outcome()),
                      r.customer().empty() ? "-" : r.customer(),
                      absl::StrCat(r.appended_event_count()),
                      r.has_error() ? ErrorText(r.error()) : ""});
    }
    PrintTable(rows);
    std::printf("created %d, updated %d, unchanged %d, failed %d\n", response.created_count(),
                response.updated_count(), response.unchanged_count(), response.failed_count());
  }
  return response.failed_count() > 0 ? kExitServerError : kExitOk;
}

int Online::GetComplaint(const std::string& name) {
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::ComplaintQueryService::NewStub(channel_);
  crm::v1::GetComplaintRequest request;
  request.set_name(ChildName(name, "complaints"));
  crm::v1::Complaint complaint;
  auto context = NewContext();
  if (grpc::Status s = stub->GetComplaint(context.get(), request, &complaint); !s.ok()) {
    return Failed("complaint get", s);
  }
  if (connection_.json) {
    std::printf("%s\n", Json(complaint).c_str());
  } else {
    PrintFields(complaint);
  }
  return kExitOk;
}

int Online::ComplaintHistory(const std::string& name) {
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::ComplaintQueryService::NewStub(channel_);
  crm::v1::GetComplaintHistoryRequest request;
  request.set_name(ChildName(name, "complaints"));
  request.set_page_size(kPageSize);
  std::vector<std::vector<std::string>> rows = {{"VERSION", "OCCURRED", "TYPE", "ACTOR", "EVENT"}};
  do {
    crm::v1::GetComplaintHistoryResponse response;
    auto context = NewContext();
    if (grpc::Status s = stub->GetComplaintHistory(context.get(), request, &response); !s.ok()) {
      return Failed("complaint history", s);
    }
    for (const crm::events::v1::EventEnvelope& e : response.events()) {
      if (connection_.json) {
        std::printf("%s\n", Json(e).c_str());
      } else {
        rows.push_back({absl::StrCat(e.aggregate_version()), FormatTime(e.occurred_at()),
                        ShortType(e.event_type()), e.actor(), PayloadJson(e)});
      }
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (!connection_.json) PrintTable(rows);
  return kExitOk;
}

int Online::GetSurvey(const std::string& name) {
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::SurveyQueryService::NewStub(channel_);
  crm::v1::GetSurveyRequest request;
  request.set_name(ChildName(name, "surveys"));
  crm::v1::Survey survey;
  auto context = NewContext();
  if (grpc::Status s = stub->GetSurvey(context.get(), request, &survey); !s.ok()) {
    return Failed("survey get", s);
  }
  if (connection_.json) {
    std::printf("%s\n", Json(survey).c_str());
  } else {
    PrintFields(survey);
  }
  return kExitOk;
}

int Online::ListSurveys(const std::string& customer, const std::string& state) {
  if (!Connect()) return kExitUsage;
  crm::v1::ListSurveysRequest request;
  request.set_parent(CustomerName(customer));
  request.set_page_size(kPageSize);
  if (!state.empty()) {
    std::optional<int> v = EnumValue(crm::v1::SurveyState_descriptor(), state);
    if (!v.has_value()) v = EnumValue(crm::v1::SurveyState_descriptor(), "SURVEY_" + state);
    if (!v.has_value()) {
      std::fprintf(stderr, "crmctl survey list: --state %s is not a survey state\n", state.c_str());
      return kExitUsage;
    }
    request.set_state(static_cast<crm::v1::SurveyState>(*v));
  }
  auto stub = crm::v1::SurveyQueryService::NewStub(channel_);
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "CHANNEL", "STAFF", "STATE", "CSAT", "NPS", "DUE"}};
  do {
    crm::v1::ListSurveysResponse response;
    auto context = NewContext();
    if (grpc::Status s = stub->ListSurveys(context.get(), request, &response); !s.ok()) {
      return Failed("survey list", s);
    }
    for (const crm::v1::Survey& v : response.surveys()) {
      if (connection_.json) {
        std::printf("%s\n", Json(v).c_str());
      } else {
        rows.push_back({v.name(), crm::v1::SurveyChannel_Name(v.channel()), v.staff_id(),
                        crm::v1::SurveyState_Name(v.state()),
                        v.has_csat() ? absl::StrCat(v.csat()) : "",
                        v.has_nps() ? absl::StrCat(v.nps()) : "", FormatTime(v.answer_due_time())});
      }
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (!connection_.json) PrintTable(rows);
  return kExitOk;
}

namespace {

std::string StaffParent(const std::string& staff) {
  return absl::StartsWith(staff, "staff/") ? staff : "staff/" + staff;
}

std::vector<std::string> NotificationRow(const crm::v1::Notification& n) {
  std::string detail;
  if (n.sla_kind() != crm::v1::SLA_KIND_UNSPECIFIED) detail = crm::v1::SlaKind_Name(n.sla_kind());
  if (n.escalation_level() > 0) absl::StrAppend(&detail, " level ", n.escalation_level());
  if (n.has_csat()) absl::StrAppend(&detail, " csat ", n.csat());
  if (n.has_nps()) absl::StrAppend(&detail, " nps ", n.nps());
  return {FormatTime(n.create_time()), crm::v1::NotificationReason_Name(n.reason()), n.subject(),
          std::string(absl::StripLeadingAsciiWhitespace(detail)), n.actor()};
}

const std::vector<std::string> kNotificationHeader = {"TIME", "REASON", "SUBJECT", "DETAIL",
                                                      "ACTOR"};

}  // namespace

int Online::ListNotifications(const std::string& staff) {
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::NotificationService::NewStub(channel_);
  crm::v1::ListNotificationsRequest request;
  request.set_parent(StaffParent(staff));
  request.set_page_size(kPageSize);
  std::vector<std::vector<std::string>> rows = {kNotificationHeader};
  do {
    crm::v1::ListNotificationsResponse response;
    auto context = NewContext();
    if (grpc::Status s = stub->ListNotifications(context.get(), request, &response); !s.ok()) {
      return Failed("notifications list", s);
    }
    for (const crm::v1::Notification& n : response.notifications()) {
      if (connection_.json) {
        std::printf("%s\n", Json(n).c_str());
      } else {
        rows.push_back(NotificationRow(n));
      }
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (!connection_.json) PrintTable(rows);
  return kExitOk;
}

int Online::WatchNotifications(const std::string& staff, const std::string& after) {
  if (!Connect()) return kExitUsage;
  auto stub = crm::v1::NotificationService::NewStub(channel_);
  crm::v1::WatchNotificationsRequest request;
  request.set_parent(StaffParent(staff));
  request.set_after(after);
  auto context = NewContext();
  context->set_deadline(std::chrono::system_clock::time_point::max());  // until interrupted
  auto reader = stub->WatchNotifications(context.get(), request);
  crm::v1::Notification n;
  while (reader->Read(&n)) {
    if (connection_.json) {
      std::printf("%s\n", Json(n).c_str());
    } else {
      // One line each as it arrives (a table cannot wait for its widths); the cursor last, to
      // resume with --after.
      std::vector<std::string> row = NotificationRow(n);
      row.push_back(n.cursor());
      std::printf("%s\n", absl::StrJoin(row, "  ").c_str());
    }
    std::fflush(stdout);
  }
  if (grpc::Status s = reader->Finish(); !s.ok()) return Failed("notifications watch", s);
  return kExitOk;
}

}  // namespace crm::crmctl
