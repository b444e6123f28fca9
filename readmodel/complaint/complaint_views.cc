#include "readmodel/complaint/complaint_views.h"

#include <functional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"

namespace crm::readmodel::complaint {
namespace {

using crm::v1::Complaint;

bool Matches(const ComplaintViews::Filter& f, const Complaint& c, absl::Time now) {
  if (f.status != crm::v1::COMPLAINT_STATUS_UNSPECIFIED && c.status() != f.status) return false;
  if (!f.assignee.empty() && c.assignee().staff_id() != f.assignee) return false;
  if (f.category != crm::v1::COMPLAINT_CATEGORY_UNSPECIFIED && c.category() != f.category) {
    return false;
  }
  if (f.severity != crm::v1::COMPLAINT_SEVERITY_UNSPECIFIED && c.severity() != f.severity) {
    return false;
  }
  if (!f.customer_id.empty() &&
      !absl::StartsWith(c.name(), absl::StrCat("customers/", f.customer_id, "/complaints/"))) {
    return false;
  }
  if (f.overdue_only && !IsOverdue(c, now)) return false;
  return true;
}

absl::Status Corrupt(absl::string_view key) {
  return absl::DataLossError(absl::StrCat("view entry cannot be decoded: ", key));
}

// Adds `c` to `page` if it matches; false (stop) once a match is found beyond a full page.
bool Offer(const ComplaintViews::Filter& filter, absl::Time now, size_t page_size, Complaint c,
           ComplaintViews::Page& page) {
  if (!Matches(filter, c, now)) return true;
  if (page.complaints.size() >= page_size) {
    page.more = true;
    return false;
  }
  page.complaints.push_back(std::move(c));
  return true;
}

}  // namespace

bool IsResolved(const Complaint& complaint) {
  switch (complaint.status()) {
    case crm::v1::RESOLVED:
    case crm::v1::FOLLOWED_UP:
    case crm::v1::CLOSED:
      return true;
    default:
      return false;
  }
}

std::vector<const crm::v1::SlaDeadline*> OpenDeadlines(const Complaint& complaint) {
  std::vector<const crm::v1::SlaDeadline*> out;
  if (IsResolved(complaint)) return out;
  for (const crm::v1::SlaDeadline* d :
       {&complaint.response_deadline(), &complaint.resolution_deadline()}) {
    if (d->has_due_time() && !d->has_met_time()) out.push_back(d);
  }
  return out;
}

bool BreachedUnresolved(const Complaint& complaint) {
  return !IsResolved(complaint) &&
         (complaint.response_deadline().breached() || complaint.resolution_deadline().breached());
}

bool IsOverdue(const Complaint& complaint, absl::Time now) {
  if (BreachedUnresolved(complaint)) return true;
  for (const crm::v1::SlaDeadline* d : OpenDeadlines(complaint)) {
    if (base::ToTime(d->due_time()) < now) return true;
  }
  return false;
}

absl::StatusOr<std::optional<Complaint>> ComplaintViews::Get(absl::string_view name) const {
  const std::string key = ComplaintKey(name);
  CRM_ASSIGN_OR_RETURN(auto value, store_->Get(key));
  if (!value.has_value()) return std::nullopt;
  Complaint complaint;
  if (!complaint.ParseFromString(*value)) return Corrupt(key);
  return complaint;
}

absl::StatusOr<ComplaintViews::Page> ComplaintViews::List(const Filter& filter,
                                                          absl::string_view after_name,
                                                          size_t page_size) const {
  const absl::Time now = clock_->Now();
  // Drive the scan from the narrowest filter that is set; check the rest per complaint.
  std::string prefix;
  if (!filter.customer_id.empty()) {
    prefix = CustomerComplaintsPrefix(filter.customer_id);
  } else if (!filter.assignee.empty()) {
    prefix = IndexPrefix(Index::kAssignee, filter.assignee);
  } else if (filter.overdue_only) {
    return ListOverdue(filter, after_name, page_size, now);
  } else if (filter.status != crm::v1::COMPLAINT_STATUS_UNSPECIFIED) {
    prefix = IndexPrefix(Index::kStatus, crm::v1::ComplaintStatus_Name(filter.status));
  } else if (filter.category != crm::v1::COMPLAINT_CATEGORY_UNSPECIFIED) {
    prefix = IndexPrefix(Index::kCategory, crm::v1::ComplaintCategory_Name(filter.category));
  } else if (filter.severity != crm::v1::COMPLAINT_SEVERITY_UNSPECIFIED) {
    prefix = IndexPrefix(Index::kSeverity, crm::v1::ComplaintSeverity_Name(filter.severity));
  } else {
    prefix = std::string(kComplaintPrefix);
  }
  // Complaint keys hold the record; index keys only name it.
  const bool by_record = absl::StartsWith(prefix, kComplaintPrefix);
  const absl::string_view name_prefix = by_record ? kComplaintPrefix : absl::string_view(prefix);
  const std::string start_after = after_name.empty() ? "" : absl::StrCat(name_prefix, after_name);

  Page page;
  absl::Status inner;
  CRM_RETURN_IF_ERROR(store_->ScanPrefix(
      prefix, start_after, 0, [&](absl::string_view key, absl::string_view value) {
        Complaint complaint;
        if (by_record) {
          if (!complaint.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            inner = Corrupt(key);
            return false;
          }
        } else {
          auto loaded = Get(Suffix(key, prefix));
          if (!loaded.ok()) {
            inner = loaded.status();
            return false;
          }
          if (!loaded->has_value()) return true;  // index ahead of a missing record: skip
          complaint = std::move(**loaded);
        }
        return Offer(filter, now, page_size, std::move(complaint), page);
      }));
  CRM_RETURN_IF_ERROR(inner);
  return page;
}

absl::StatusOr<ComplaintViews::Page> ComplaintViews::ListOverdue(const Filter& filter,
                                                                 absl::string_view after_name,
                                                                 size_t page_size,
                                                                 absl::Time now) const {
  // Candidates: open deadlines due before now (one key range) and the breached set. Both are
  // small next to all complaints; they are merged into name order here.
  std::set<std::string> names;
  CRM_RETURN_IF_ERROR(store_->Scan(kDeadlinePrefix, DeadlinesDueBefore(now), 0,
                                   [&](absl::string_view key, absl::string_view) {
                                     absl::string_view name = NameFromDeadlineKey(key);
                                     if (!name.empty() && name > after_name) names.emplace(name);
                                     return true;
                                   }));
  const std::string start_after =
      after_name.empty() ? "" : absl::StrCat(kBreachedPrefix, after_name);
  CRM_RETURN_IF_ERROR(store_->ScanPrefix(kBreachedPrefix, start_after, 0,
                                         [&](absl::string_view key, absl::string_view) {
                                           names.emplace(Suffix(key, kBreachedPrefix));
                                           return true;
                                         }));
  Page page;
  for (const std::string& name : names) {
    CRM_ASSIGN_OR_RETURN(auto complaint, Get(name));
    if (!complaint.has_value()) continue;  // index ahead of a missing record: skip
    if (!Offer(filter, now, page_size, std::move(*complaint), page)) break;
  }
  return page;
}

absl::StatusOr<ComplaintViews::HistoryPage> ComplaintViews::History(absl::string_view name,
                                                                    int64_t after_version,
                                                                    size_t page_size) const {
  const std::string prefix = HistoryPrefix(name);
  const std::string start_after = after_version > 0 ? HistoryKey(name, after_version) : "";
  HistoryPage page;
  absl::Status inner;
  CRM_RETURN_IF_ERROR(store_->ScanPrefix(
      prefix, start_after, page_size + 1, [&](absl::string_view key, absl::string_view value) {
        if (page.events.size() == page_size) {
          page.more = true;
          return false;
        }
        crm::events::v1::EventEnvelope event;
        if (!event.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          inner = Corrupt(key);
          return false;
        }
        page.events.push_back(std::move(event));
        return true;
      }));
  CRM_RETURN_IF_ERROR(inner);
  return page;
}

}  // namespace crm::readmodel::complaint
