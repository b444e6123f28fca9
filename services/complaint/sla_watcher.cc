#include "services/complaint/sla_watcher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/uuid.h"
#include "services/complaint/complaint_kind.h"

namespace crm::services::complaint {

absl::string_view SlaDeadlines::prefix() const { return kDeadlinePrefix; }

std::string SlaDeadlines::RequestIdFor(absl::string_view complaint, crm::v1::SlaKind kind,
                                       absl::Time due) {
  return base::UuidFromName(absl::StrCat(
      "crm.BreachSla/", complaint, "/", crm::v1::SlaKind_Name(kind), "/", absl::ToUnixMicros(due)));
}

absl::StatusOr<command::DeadlineSource::Due> SlaDeadlines::Parse(absl::string_view key,
                                                                 absl::string_view value) const {
  absl::StatusOr<DeadlineEntry> entry = ParseDeadlineEntry(key, value);
  if (!entry.ok()) return entry.status();
  Due due;
  due.stream_key = entry->customer_id;
  due.what = absl::StrCat(crm::v1::SlaKind_Name(entry->kind), " deadline of ", entry->complaint);
  due.act = [handler = handler_, entry = *std::move(entry)](
                const rpc::CallContext& call) -> absl::StatusOr<std::string> {
    const std::string request_id = RequestIdFor(entry.complaint, entry.kind, entry.due);
    absl::StatusOr<ComplaintCommandHandler::Response> breached =
        handler->BreachSla(entry.complaint, entry.kind, entry.due, request_id, call).Get();
    if (!breached.ok()) return breached.status();
    if (breached->appended_event_count() == 0) return std::string();
    return absl::StrCat("breached, escalated to level ", breached->complaint().escalation_level());
  };
  return due;
}

absl::string_view SlaReminders::prefix() const { return kDeadlinePrefix; }

std::string SlaReminders::RequestIdFor(absl::string_view complaint, crm::v1::SlaKind kind,
                                       absl::Time due) {
  return base::UuidFromName(absl::StrCat(
      "crm.RemindSla/", complaint, "/", crm::v1::SlaKind_Name(kind), "/", absl::ToUnixMicros(due)));
}

absl::StatusOr<command::DeadlineSource::Due> SlaReminders::Parse(absl::string_view key,
                                                                 absl::string_view value) const {
  absl::StatusOr<DeadlineEntry> entry = ParseDeadlineEntry(key, value);
  if (!entry.ok()) return entry.status();
  Due due;
  due.stream_key = entry->customer_id;
  due.what = absl::StrCat("reminder of the ", crm::v1::SlaKind_Name(entry->kind), " deadline of ",
                          entry->complaint);
  if (entry->reminded) return due;  // no act: done already
  due.act = [handler = handler_, lead = lead_, entry = *std::move(entry)](
                const rpc::CallContext& call) -> absl::StatusOr<std::string> {
    const std::string request_id = RequestIdFor(entry.complaint, entry.kind, entry.due);
    absl::StatusOr<ComplaintCommandHandler::Response> reminded =
        handler->RemindSla(entry.complaint, entry.kind, entry.due, lead, request_id, call).Get();
    if (!reminded.ok()) return reminded.status();
    return reminded->appended_event_count() == 0 ? std::string() : std::string("reminded");
  };
  return due;
}

}  // namespace crm::services::complaint
