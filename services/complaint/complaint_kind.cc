#include "services/complaint/complaint_kind.h"

#include <cstdio>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/base/proto_util.h"
#include "common/base/time_util.h"
#include "domain/complaint/complaint_aggregate.h"
#include "services/access/holders.h"
#include "services/command/deadline_watcher.h"

namespace crm::services::complaint {
namespace {

using crm::v1::Complaint;
using crm::v1::SlaDeadline;

// The open deadlines of `state` as index entries.
std::map<std::string, std::string> Entries(absl::string_view aggregate, const Complaint& state) {
  std::map<std::string, std::string> out;
  for (const SlaDeadline& d : domain::complaint::OpenDeadlines(state)) {
    SlaDeadline value;
    value.set_kind(d.kind());
    *value.mutable_due_time() = d.due_time();
    value.set_reminded(d.reminded());
    out[DeadlineKey(base::ToTime(d.due_time()), aggregate, d.kind())] =
        base::SerializeDeterministic(value);
  }
  return out;
}

absl::Status Index(absl::string_view aggregate, const Complaint* before, const Complaint& after,
                   const command::Event& event, kv::KvBatch& batch) {
  const std::map<std::string, std::string> old_entries =
      before == nullptr ? std::map<std::string, std::string>() : Entries(aggregate, *before);
  const std::map<std::string, std::string> new_entries = Entries(aggregate, after);
  for (const auto& [key, value] : old_entries) {
    if (!new_entries.count(key)) batch.Delete(key);
  }
  for (const auto& [key, value] : new_entries) {
    auto it = old_entries.find(key);
    if (it == old_entries.end() || it->second != value) batch.Put(key, value);
  }
  return absl::OkStatus();
}

}  // namespace

const command::TypedKind<Complaint>& ComplaintKind() {
  static auto* kind = new command::TypedKind<Complaint>(
      [](const command::Event& event) { return domain::complaint::IsComplaintEvent(event); },
      [](Complaint& state, const command::Event& event) {
        return domain::complaint::Apply(state, event);
      },
      &Index);
  kind->Guard([](const Complaint& row) { return access::HoldersOf(row); });
  return *kind;
}

std::string DeadlineKey(absl::Time due, absl::string_view complaint, crm::v1::SlaKind kind) {
  return command::DeadlineIndexKey(kDeadlinePrefix, due,
                                   absl::StrCat(complaint, "/", crm::v1::SlaKind_Name(kind)));
}

std::string DeadlineScanEnd(absl::Time t) {
  return command::DeadlineIndexScanEnd(kDeadlinePrefix, t);
}

absl::StatusOr<DeadlineEntry> ParseDeadlineEntry(absl::string_view key, absl::string_view value) {
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("deadline index entry \"", key, "\": ", why));
  };
  absl::string_view rest;
  if (!command::DeadlineIndexRest(key, kDeadlinePrefix, &rest)) return bad("malformed key");
  const size_t slash = rest.rfind('/');
  if (slash == absl::string_view::npos) return bad("malformed key");
  DeadlineEntry entry;
  entry.complaint = std::string(rest.substr(0, slash));
  auto parts = domain::complaint::ParseComplaintName(entry.complaint, "key");
  if (!parts.ok()) return bad("malformed complaint name");
  entry.customer_id = parts->customer_id;
  SlaDeadline deadline;
  if (!deadline.ParseFromString(std::string(value)) || !deadline.has_due_time()) {
    return bad("undecodable value");
  }
  if (crm::v1::SlaKind_Name(deadline.kind()) != rest.substr(slash + 1)) {
    return bad("kind of key and value differ");
  }
  entry.kind = deadline.kind();
  entry.due = base::ToTime(deadline.due_time());
  entry.reminded = deadline.reminded();
  return entry;
}

}  // namespace crm::services::complaint
