// ComplaintViews: reads the complaint views that projections/complaint writes (layout in
// view_keys.h): a complaint by name, its history, and lists filtered by status, assignee,
// category, severity, customer and overdue. Used by the complaint query service.
//
// Overdue depends on the time of the query: it is evaluated against the injected clock when
// List runs (the views store open deadlines by due time, not an "overdue" flag).
//
// Reads see whatever the projection has applied so far; callers wanting read-your-writes first
// wait for a consistency token (fold::FoldRunner::WaitFor).
// Thread-safe: const methods over a thread-safe KvStore and Clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/complaint.pb.h"
#include "readmodel/complaint/view_keys.h"

namespace crm::readmodel::complaint {

// The overdue rule, shared by the fold (which stores what it needs) and the reader.
// Resolved, followed-up and closed complaints have no open deadline and are never overdue.
bool IsResolved(const crm::v1::Complaint& complaint);
// The deadlines not met yet (with a due time) of a complaint that is not resolved.
std::vector<const crm::v1::SlaDeadline*> OpenDeadlines(const crm::v1::Complaint& complaint);
// A deadline was breached (ComplaintSlaBreached) and the complaint is not resolved.
bool BreachedUnresolved(const crm::v1::Complaint& complaint);
// An open deadline is due strictly before `now`, or BreachedUnresolved.
bool IsOverdue(const crm::v1::Complaint& complaint, absl::Time now);

class ComplaintViews {
 public:
  // Does not take ownership; both must outlive the views.
  ComplaintViews(const kv::KvStore* store, const base::Clock* clock)
      : store_(store), clock_(clock) {}

  // nullopt if the complaint is not in the views. DATA_LOSS if its entry cannot be decoded.
  absl::StatusOr<std::optional<crm::v1::Complaint>> Get(absl::string_view name) const;

  struct Filter {
    crm::v1::ComplaintStatus status = crm::v1::COMPLAINT_STATUS_UNSPECIFIED;
    std::string assignee;  // staff id
    crm::v1::ComplaintCategory category = crm::v1::COMPLAINT_CATEGORY_UNSPECIFIED;
    crm::v1::ComplaintSeverity severity = crm::v1::COMPLAINT_SEVERITY_UNSPECIFIED;
    std::string customer_id;
    bool overdue_only = false;
  };
  struct Page {
    std::vector<crm::v1::Complaint> complaints;
    bool more = false;  // true if matching complaints follow the last one returned
  };
  // Complaints matching every set filter, in name order, strictly after `after_name`, at most
  // `page_size`. Scans only the narrowest set filter's entries (customer, then assignee, then
  // overdue, status, category, severity) and checks the others per complaint; with no filter,
  // scans every complaint. Overdue is as of the clock's Now() at the call.
  absl::StatusOr<Page> List(const Filter& filter, absl::string_view after_name,
                            size_t page_size) const;

  struct HistoryPage {
    std::vector<crm::events::v1::EventEnvelope> events;
    bool more = false;
  };
  // Events of the complaint with aggregate_version > after_version, oldest first.
  absl::StatusOr<HistoryPage> History(absl::string_view name, int64_t after_version,
                                      size_t page_size) const;

 private:
  absl::StatusOr<Page> ListOverdue(const Filter& filter, absl::string_view after_name,
                                   size_t page_size, absl::Time now) const;

  const kv::KvStore* const store_;
  const base::Clock* const clock_;
};

}  // namespace crm::readmodel::complaint
