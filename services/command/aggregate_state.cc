#include "services/command/aggregate_state.h"

#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "common/eventlog/consistency_token.h"
#include "domain/common/event_types.h"

namespace crm::services::command {
namespace {

using crm::internal::v1::AggregateRecord;
using crm::internal::v1::RequestRecord;

std::string RecordKey(absl::string_view aggregate) { return absl::StrCat("a/", aggregate); }
std::string RequestKey(absl::string_view request_id) { return absl::StrCat("q/", request_id); }

template <typename Msg>
absl::StatusOr<std::optional<Msg>> Decode(const std::optional<std::string>& value,
                                          absl::string_view key) {
  if (!value.has_value()) return std::nullopt;
  Msg msg;
  if (!msg.ParseFromString(*value)) {
    return absl::InternalError(absl::StrCat("command state entry cannot be decoded: ", key));
  }
  return msg;
}

}  // namespace

absl::Status AggregateStateFold::Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) {
  Event event;
  if (!event.ParseFromString(record.value)) {
    return absl::DataLossError("record is not a crm.events.v1.EventEnvelope");
  }
  if (domain::IsUnknownEventType(event)) CountUnknown();
  const AggregateKind* kind = nullptr;
  for (const AggregateKind* k : kinds_) {
    if (k->Owns(event)) {
      kind = k;
      break;
    }
  }
  if (kind == nullptr) return absl::OkStatus();  // another fold's event
  if (event.aggregate().empty()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of type ",
                                            event.event_type(), " has no aggregate"));
  }
  const std::string key = RecordKey(event.aggregate());
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(key));
  CRM_ASSIGN_OR_RETURN(auto previous, Decode<AggregateRecord>(stored, key));
  AggregateRecord state = previous.value_or(AggregateRecord());
  if (event.aggregate_version() <= state.version()) return absl::OkStatus();  // replayed
  if (event.aggregate_version() != state.version() + 1) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of ", event.aggregate(),
                                            " has version ", event.aggregate_version(),
                                            " after version ", state.version()));
  }
  absl::StatusOr<std::string> after = kind->Apply(state.state(), event);
  if (!after.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of ", event.aggregate(),
                                            " cannot be applied: ", after.status().message()));
  }
  CRM_RETURN_IF_ERROR(kind->Index(event.aggregate(), state.state(), *after, event, batch));
  state.set_state(*after);
  state.set_version(event.aggregate_version());
  state.set_consistency_token(
      eventlog::EncodeConsistencyToken({{record.position.partition, record.position.offset}}));
  batch.Put(key, base::SerializeDeterministic(state));

  if (!event.request_id().empty()) {
    const std::string rkey = RequestKey(event.request_id());
    CRM_ASSIGN_OR_RETURN(auto prior_bytes, batch.Get(rkey));
    CRM_ASSIGN_OR_RETURN(auto prior, Decode<RequestRecord>(prior_bytes, rkey));
    // A request id is executed once, so every event carrying it belongs to the same command:
    // the answer is the state after the last of them, counting them all. A request id reused
    // for another aggregate keeps its first answer.
    if (!prior.has_value() || prior->aggregate() == event.aggregate()) {
      RequestRecord answer;
      answer.set_aggregate(event.aggregate());
      answer.set_state(state.state());
      answer.set_version(state.version());
      answer.set_consistency_token(state.consistency_token());
      answer.set_appended_event_count(prior.has_value() ? prior->appended_event_count() + 1 : 1);
      answer.set_request_digest(event.request_digest());
      batch.Put(rkey, base::SerializeDeterministic(answer));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<AggregateRecord> AggregateState::Record(absl::string_view aggregate) const {
  const std::string key = RecordKey(aggregate);
  CRM_ASSIGN_OR_RETURN(auto value, store_->Get(key));
  CRM_ASSIGN_OR_RETURN(auto record, Decode<AggregateRecord>(value, key));
  return record.value_or(AggregateRecord());
}

absl::StatusOr<int64_t> AggregateState::Count(absl::string_view name_prefix) const {
  int64_t count = 0;
  CRM_RETURN_IF_ERROR(
      store_->ScanPrefix(RecordKey(name_prefix), "", 0, [&](absl::string_view, absl::string_view) {
        ++count;
        return true;
      }));
  return count;
}

absl::StatusOr<std::optional<RequestRecord>> AggregateState::Request(
    absl::string_view request_id) const {
  const std::string key = RequestKey(request_id);
  CRM_ASSIGN_OR_RETURN(auto value, store_->Get(key));
  return Decode<RequestRecord>(value, key);
}

}  // namespace crm::services::command
