#include "services/survey/survey_kind.h"

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "domain/survey/survey_aggregate.h"
#include "services/access/holders.h"
#include "services/command/deadline_watcher.h"

namespace crm::services::survey {
namespace {

using crm::v1::Survey;

absl::Status Index(absl::string_view aggregate, const Survey* before, const Survey& after,
                   const command::Event& event, kv::KvBatch& batch) {
  const std::optional<absl::Time> old_due =
      before == nullptr ? std::nullopt : domain::survey::OpenDeadline(*before);
  const std::optional<absl::Time> new_due = domain::survey::OpenDeadline(after);
  if (old_due == new_due) return absl::OkStatus();
  if (old_due.has_value()) batch.Delete(DeadlineKey(*old_due, aggregate));
  if (new_due.has_value()) batch.Put(DeadlineKey(*new_due, aggregate), "");
  return absl::OkStatus();
}

}  // namespace

const command::TypedKind<Survey>& SurveyKind() {
  static auto* kind = new command::TypedKind<Survey>(
      [](const command::Event& event) { return domain::survey::IsSurveyEvent(event); },
      [](Survey& state, const command::Event& event) {
        return domain::survey::Apply(state, event);
      },
      &Index);
  kind->Guard([](const Survey& row) { return access::HoldersOf(row); });
  return *kind;
}

std::string DeadlineKey(absl::Time due, absl::string_view survey) {
  return command::DeadlineIndexKey(kDeadlinePrefix, due, survey);
}

absl::StatusOr<DeadlineEntry> ParseDeadlineKey(absl::string_view key) {
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("survey deadline index entry \"", key, "\": ", why));
  };
  absl::string_view rest;
  if (!command::DeadlineIndexRest(key, kDeadlinePrefix, &rest)) return bad("malformed key");
  int64_t micros = 0;
  if (!absl::SimpleAtoi(key.substr(kDeadlinePrefix.size(), 20), &micros)) {
    return bad("malformed time");
  }
  auto parts = domain::survey::ParseSurveyName(rest, "key");
  if (!parts.ok()) return bad("malformed survey name");
  return DeadlineEntry{std::string(rest), parts->customer_id, absl::FromUnixMicros(micros)};
}

}  // namespace crm::services::survey
