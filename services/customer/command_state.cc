#include "services/customer/command_state.h"

#include "absl/strings/str_cat.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "common/eventlog/consistency_token.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/customer/customer_aggregate.h"

namespace crm::services::customer {
namespace {

using crm::v1::CustomerCommandResponse;

constexpr absl::string_view kSep("\0", 1);

std::string StateKey(absl::string_view id) { return absl::StrCat("s/", id); }
std::string EmailKey(absl::string_view email) { return absl::StrCat("e", kSep, email); }
std::string RequestKey(absl::string_view request_id) { return absl::StrCat("r", kSep, request_id); }

absl::StatusOr<std::optional<CustomerCommandResponse>> ReadResponse(
    const std::optional<std::string>& value, absl::string_view key) {
  if (!value.has_value()) return std::nullopt;
  CustomerCommandResponse response;
  if (!response.ParseFromString(*value)) {
    return absl::InternalError(absl::StrCat("command state entry cannot be decoded: ", key));
  }
  return response;
}

}  // namespace

absl::Status CommandStateFold::Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) {
  crm::events::v1::EventEnvelope event;
  if (!event.ParseFromString(record.value)) {
    return absl::DataLossError("record is not a crm.events.v1.EventEnvelope");
  }
  if (event.payload_case() != event.PAYLOAD_NOT_SET && !domain::customer::IsCustomerEvent(event)) {
    return absl::OkStatus();  // another aggregate's event (services/command folds those)
  }
  if (event.customer_id().empty()) {
    return absl::DataLossError("customer event without a customer id");
  }
  const std::string key = StateKey(event.customer_id());
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(key));
  CRM_ASSIGN_OR_RETURN(auto previous, ReadResponse(stored, key));
  CustomerCommandResponse state = previous.value_or(CustomerCommandResponse());
  if (event.aggregate_version() <= state.customer().version()) return absl::OkStatus();

  crm::v1::Customer before = state.customer();
  absl::Status applied = domain::customer::Apply(*state.mutable_customer(), event);
  if (!applied.ok()) {
    return absl::DataLossError(
        absl::StrCat("event ", event.event_id(), " cannot be applied: ", applied.message()));
  }
  state.set_consistency_token(
      eventlog::EncodeConsistencyToken({{record.position.partition, record.position.offset}}));

  for (const auto& email : before.emails()) {
    bool kept = false;
    for (const auto& e : state.customer().emails()) kept |= (e == email);
    if (!kept) batch.Delete(EmailKey(email));
  }
  for (const auto& email : state.customer().emails())
    batch.Put(EmailKey(email), event.customer_id());

  if (!event.request_id().empty()) {
    const std::string rkey = RequestKey(event.request_id());
    CRM_ASSIGN_OR_RETURN(auto prior_answer_bytes, batch.Get(rkey));
    CRM_ASSIGN_OR_RETURN(auto prior_answer, ReadResponse(prior_answer_bytes, rkey));
    CustomerCommandResponse answer = state;
    // A request id is executed once, so every event carrying it belongs to the same command:
    // the answer is the state after the last of them, counting them all.
    answer.set_appended_event_count(
        prior_answer.has_value() ? prior_answer->appended_event_count() + 1 : 1);
    batch.Put(rkey, base::SerializeDeterministic(answer));
  }
  state.set_appended_event_count(0);
  batch.Put(key, base::SerializeDeterministic(state));
  return absl::OkStatus();
}

absl::StatusOr<CustomerCommandResponse> CommandState::Customer(absl::string_view id) const {
  const std::string key = StateKey(id);
  CRM_ASSIGN_OR_RETURN(auto value, store_->Get(key));
  CRM_ASSIGN_OR_RETURN(auto response, ReadResponse(value, key));
  return response.value_or(CustomerCommandResponse());
}

absl::StatusOr<std::optional<std::string>> CommandState::EmailOwner(absl::string_view email) const {
  return store_->Get(EmailKey(email));
}

absl::StatusOr<std::optional<CustomerCommandResponse>> CommandState::Request(
    absl::string_view request_id) const {
  const std::string key = RequestKey(request_id);
  CRM_ASSIGN_OR_RETURN(auto value, store_->Get(key));
  return ReadResponse(value, key);
}

}  // namespace crm::services::customer
