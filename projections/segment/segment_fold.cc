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
using crm::v1::CustomerValue;
using readmodel::analytics::AddToCounter;
using readmodel::analytics::ToTime;

int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b) {
    return std::numeric_limits<int64_t>::max();
  }
  if (b < 0 && a < std::numeric_limits<int64_t>::min() - b) {
    return std::numeric_limits<int64_t>::min();
  }
  return a + b;
}

void AddPurchase(crm::v1::ValueFigures& value, const crm::v1::Purchase& purchase,
                 const google::protobuf::Timestamp& occurred_at) {
  const std::string& code = purchase.amount().currency_code();
  auto* totals = value.mutable_totals();
  auto it = std::find_if(totals->begin(), totals->end(), [&](const crm::v1::CurrencyTotal& t) {
    return t.currency_code() >= code;
  });
  int index = static_cast<int>(it - totals->begin());
  if (it == totals->end() || it->currency_code() != code) {
    totals->Add()->set_currency_code(code);
    for (int i = totals->size() - 1; i > index; --i) totals->SwapElements(i, i - 1);
  }
  crm::v1::CurrencyTotal* total = totals->Mutable(index);
  total->set_total_minor(SaturatingAdd(total->total_minor(), purchase.amount().amount_minor()));
  total->set_purchase_count(total->purchase_count() + 1);
  value.set_purchase_count(value.purchase_count() + 1);
  const google::protobuf::Timestamp& at =
      purchase.has_purchased_at() ? purchase.purchased_at() : occurred_at;
  if (!value.has_last_purchase_time() || ToTime(value.last_purchase_time()) < ToTime(at)) {
    *value.mutable_last_purchase_time() = at;
  }
}

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
  using Payload = EventEnvelope::PayloadCase;
  const Payload payload = event.payload_case();
  // Every event of a customer's own stream moves CustomerValue.version (the customer's version);
  // only these three change the figures.
  const bool figures = payload == Payload::kCustomerRegistered ||
                       payload == Payload::kLifecycleStageChanged ||
                       payload == Payload::kPurchaseRecorded;
  if (!figures && !domain::customer::IsCustomerEvent(event)) return absl::OkStatus();
  const std::string& id = event.customer_id();
  if (id.empty() ||
      (!event.aggregate().empty() && event.aggregate() != absl::StrCat("customers/", id))) {
    return absl::OkStatus();  // Not a customer's own stream.
  }

  const std::string key = readmodel::segment::CustomerValueKey(id);
  CustomerValue v;
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(key));
  if (stored.has_value() && !v.ParseFromString(*stored)) {
    return absl::InternalError(absl::StrCat("segment figure ", key, " cannot be decoded"));
  }
  if (event.aggregate_version() <= v.version()) return absl::OkStatus();  // Seen already.
  const bool registration = payload == Payload::kCustomerRegistered;
  // Only a registration starts a customer, and only once (a valid log has neither case).
  if (stored.has_value() == registration) return absl::OkStatus();
  if (!figures) {
    v.set_version(event.aggregate_version());
    batch.Put(key, base::SerializeDeterministic(v));
    return absl::OkStatus();
  }

  switch (payload) {
    case Payload::kCustomerRegistered: {
      const auto stage = domain::customer::ToApi(event.customer_registered().lifecycle_stage());
      v.set_name(absl::StrCat("customers/", id));
      v.set_lifecycle_stage(stage == crm::v1::LIFECYCLE_STAGE_UNSPECIFIED ? crm::v1::POTENTIAL
                                                                          : stage);
      *v.mutable_stage_start_time() = event.occurred_at();
      CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::segment::kCustomerTotalKey, 1));
      CRM_RETURN_IF_ERROR(
          AddToCounter(batch, readmodel::segment::StageKey(v.lifecycle_stage()), 1));
      CRM_RETURN_IF_ERROR(ChangeTier(batch, v, crm::v1::POTENTIAL_VALUE, event.occurred_at()));
      break;
    }
    case Payload::kLifecycleStageChanged: {
      const auto to = domain::customer::ToApi(event.lifecycle_stage_changed().to_stage());
      const auto from = v.lifecycle_stage();
      if (to == from) break;
      readmodel::segment::Transition t;
      t.from_stage = from;
      t.to_stage = to;
      t.stay_millis = readmodel::analytics::MillisBetween(ToTime(v.stage_start_time()),
                                                          ToTime(event.occurred_at()));
      batch.Put(readmodel::segment::TransitionKey(ToTime(event.occurred_at()), id,
                                                  event.aggregate_version()),
                readmodel::segment::EncodeTransition(t));
      CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::segment::StageKey(from), -1));
      CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::segment::StageKey(to), 1));
      v.set_lifecycle_stage(to);
      *v.mutable_stage_start_time() = event.occurred_at();
      break;
    }
    case Payload::kPurchaseRecorded: {
      const auto& recorded = event.purchase_recorded();
      AddPurchase(*v.mutable_lifetime_value(), domain::customer::ToApi(recorded.purchase()),
                  event.occurred_at());
      const crm::v1::ValueTier tier = domain::customer::ToApi(recorded.new_value_tier());
      if (tier != crm::v1::VALUE_TIER_UNSPECIFIED) {
        CRM_RETURN_IF_ERROR(ChangeTier(batch, v, tier, event.occurred_at()));
      }
      break;
    }
    default:
      break;
  }
  v.set_version(event.aggregate_version());
  batch.Put(key, base::SerializeDeterministic(v));
  return absl::OkStatus();
}

}  // namespace crm::projections::segment
