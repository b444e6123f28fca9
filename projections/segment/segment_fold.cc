#include "projections/segment/segment_fold.h"

#include <algorithm>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/segment_service.pb.h"
#include "domain/common/event_types.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/event_codec.h"
#include "readmodel/analytics/figures.h"
#include "readmodel/segment/segment_keys.h"

namespace crm::projections::segment {
namespace {

using crm::events::v1::EventEnvelope;
using crm::v1::Customer;
using crm::v1::CustomerValue;
using readmodel::analytics::AddToCounter;
using readmodel::analytics::ToTime;

absl::Status ChangeTier(kv::KvBatch& batch, CustomerValue& v, crm::v1::ValueTier tier,
                        const google::protobuf::Timestamp& at) {
  if (tier == v.value_tier()) return absl::OkStatus();
  if (v.value_tier() != crm::v1::VALUE_TIER_UNSPECIFIED) {
    CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::segment::TierKey(v.value_tier()), -1));
  }
  CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::segment::TierKey(tier), 1));
  auto* change = v.add_tier_changes();
  *change->mutable_change_time() = at;
  change->set_from_tier(v.value_tier());
  change->set_to_tier(tier);
  v.set_value_tier(tier);
  return absl::OkStatus();
}

}  // namespace

absl::Status SegmentFold::Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) {
  EventEnvelope event;
  if (!event.ParseFromString(record.value)) {
    return absl::DataLossError("record is not a crm.events.v1.EventEnvelope");
  }
  if (domain::IsUnknownEventType(event)) CountUnknown();  // events README, "Readers"
  // Every event of a customer's own stream (of a type this build knows or not) moves the
  // customer's version, and CustomerValue.version with it.
  if (!domain::customer::IsCustomerEvent(event)) return absl::OkStatus();
  const std::string& id = event.customer_id();
  if (id.empty() ||
      (!event.aggregate().empty() && event.aggregate() != absl::StrCat("customers/", id))) {
    return absl::OkStatus();  // Not a customer's own stream.
  }

  const std::string state_key = readmodel::segment::CustomerStateKey(id);
  Customer before;
  CRM_ASSIGN_OR_RETURN(auto stored_state, batch.Get(state_key));
  if (stored_state.has_value() && !before.ParseFromString(*stored_state)) {
    return absl::InternalError(absl::StrCat("segment state ", state_key, " cannot be decoded"));
  }
  if (event.aggregate_version() <= before.version()) return absl::OkStatus();  // Seen already.
  // The one reading of a customer event: the domain's, as the command side and the customer
  // view apply it. The figures are what it changed.
  Customer after = before;
  if (absl::Status applied = domain::customer::Apply(after, event); !applied.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of customers/", id,
                                            " cannot be applied: ", applied.message()));
  }

  const std::string key = readmodel::segment::CustomerValueKey(id);
  CustomerValue v;
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(key));
  if (stored.has_value() && !v.ParseFromString(*stored)) {
    return absl::InternalError(absl::StrCat("segment figure ", key, " cannot be decoded"));
  }
  if (before.version() == 0) {  // the registration
    v.set_name(after.name());
    v.set_lifecycle_stage(after.lifecycle_stage());
    *v.mutable_stage_start_time() = event.occurred_at();
    CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::segment::kCustomerTotalKey, 1));
    CRM_RETURN_IF_ERROR(
        AddToCounter(batch, readmodel::segment::StageKey(after.lifecycle_stage()), 1));
  } else if (after.lifecycle_stage() != before.lifecycle_stage()) {
    readmodel::segment::Transition t;
    t.from_stage = before.lifecycle_stage();
    t.to_stage = after.lifecycle_stage();
    t.stay_millis = readmodel::analytics::MillisBetween(ToTime(v.stage_start_time()),
                                                        ToTime(event.occurred_at()));
    batch.Put(readmodel::segment::TransitionKey(ToTime(event.occurred_at()), id,
                                                event.aggregate_version()),
              readmodel::segment::EncodeTransition(t));
    CRM_RETURN_IF_ERROR(
        AddToCounter(batch, readmodel::segment::StageKey(before.lifecycle_stage()), -1));
    CRM_RETURN_IF_ERROR(
        AddToCounter(batch, readmodel::segment::StageKey(after.lifecycle_stage()), 1));
    v.set_lifecycle_stage(after.lifecycle_stage());
    *v.mutable_stage_start_time() = event.occurred_at();
  }
  if (!after.merged_into().empty() && before.merged_into().empty()) {
    // Merged into another customer: counted from now on as its survivor only (its figures moved
    // there with CustomerMerged). Its own value record stays, frozen, for its history.
    CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::segment::kCustomerTotalKey, -1));
    CRM_RETURN_IF_ERROR(
        AddToCounter(batch, readmodel::segment::StageKey(before.lifecycle_stage()), -1));
    if (v.value_tier() != crm::v1::VALUE_TIER_UNSPECIFIED) {
      CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::segment::TierKey(v.value_tier()), -1));
    }
    v.set_version(after.version());
    batch.Put(key, base::SerializeDeterministic(v));
    batch.Put(state_key, base::SerializeDeterministic(after));
    return absl::OkStatus();
  }
  CRM_RETURN_IF_ERROR(ChangeTier(batch, v, after.value_tier(), event.occurred_at()));
  *v.mutable_lifetime_value() = after.value();
  v.set_version(after.version());
  batch.Put(key, base::SerializeDeterministic(v));
  batch.Put(state_key, base::SerializeDeterministic(after));
  return absl::OkStatus();
}

}  // namespace crm::projections::segment
