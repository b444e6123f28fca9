#include "projections/complaint/complaint_view_fold.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "domain/common/event_types.h"
#include "domain/complaint/complaint_aggregate.h"
#include "readmodel/complaint/complaint_views.h"
#include "readmodel/complaint/view_keys.h"

namespace crm::projections::complaint {
namespace {

using crm::events::v1::EventEnvelope;
using crm::v1::Complaint;
using readmodel::complaint::Index;

// "customers/{cid}/complaints/{id}" with non-empty ids; the customer id, or empty if malformed.
std::string CustomerOfName(absl::string_view name) {
  if (name.find('\0') != absl::string_view::npos) return "";
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "customers" || parts[2] != "complaints" ||
      parts[1].empty() || parts[3].empty()) {
    return "";
  }
  return std::string(parts[1]);
}

// Every index, deadline and breached key a complaint record has.
std::set<std::string> EntryKeys(const Complaint& c) {
  namespace rm = readmodel::complaint;
  std::set<std::string> out;
  if (c.version() == 0) return out;
  out.insert(rm::IndexKey(Index::kStatus, crm::v1::ComplaintStatus_Name(c.status()), c.name()));
  out.insert(
      rm::IndexKey(Index::kCategory, crm::v1::ComplaintCategory_Name(c.category()), c.name()));
  out.insert(
      rm::IndexKey(Index::kSeverity, crm::v1::ComplaintSeverity_Name(c.severity()), c.name()));
  if (!c.assignee().staff_id().empty()) {
    out.insert(rm::IndexKey(Index::kAssignee, c.assignee().staff_id(), c.name()));
  }
  for (const crm::v1::SlaDeadline* d : rm::OpenDeadlines(c)) {
    out.insert(rm::DeadlineKey(d->due_time(), c.name(), d->kind()));
  }
  if (rm::BreachedUnresolved(c)) out.insert(rm::BreachedKey(c.name()));
  return out;
}

}  // namespace

absl::Status ComplaintViewFold::Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) {
  EventEnvelope event;
  if (!event.ParseFromString(record.value)) {
    return absl::DataLossError("record is not a crm.events.v1.EventEnvelope");
  }
  if (domain::IsUnknownEventType(event)) CountUnknown();  // events README, "Readers"
  if (!domain::complaint::IsComplaintEvent(event)) return absl::OkStatus();  // another fold's

  const std::string& name = event.aggregate();
  const std::string customer_id = CustomerOfName(name);
  if (customer_id.empty() || (!event.customer_id().empty() && event.customer_id() != customer_id)) {
    return absl::DataLossError(absl::StrCat("complaint event ", event.event_id(),
                                            " has aggregate '", name, "', not customers/",
                                            event.customer_id(), "/complaints/{id}"));
  }
  const std::string key = readmodel::complaint::ComplaintKey(name);
  Complaint before;
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(key));
  if (stored.has_value() && !before.ParseFromString(*stored)) {
    return absl::InternalError(absl::StrCat("view of ", name, " cannot be decoded"));
  }
  if (event.aggregate_version() <= before.version()) return absl::OkStatus();  // seen already

  Complaint after = before;
  // The one reading of a complaint event: the domain's, as the command side applies it.
  absl::Status applied = domain::complaint::Apply(after, event);
  if (!applied.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of ", name,
                                            " cannot be applied: ", applied.message()));
  }

  const std::set<std::string> old_keys = EntryKeys(before);
  const std::set<std::string> new_keys = EntryKeys(after);
  for (const auto& k : old_keys) {
    if (!new_keys.count(k)) batch.Delete(k);
  }
  for (const auto& k : new_keys) {
    if (!old_keys.count(k)) batch.Put(k, "");
  }
  batch.Put(key, base::SerializeDeterministic(after));
  batch.Put(readmodel::complaint::HistoryKey(name, event.aggregate_version()), record.value);
  return absl::OkStatus();
}

}  // namespace crm::projections::complaint
