// The one-line text of a timeline entry, rendered when the timeline is read (the views store only
// the entry's facts: time, kind, resource and the event), in the language the caller asks for.
// Texts are for display and may change between versions of the server; clients that need facts
// read TimelineEntry.event. Thread-safe: pure functions over constant tables.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/events/v1/envelope.pb.h"

namespace crm::services::interaction {

// The languages timeline texts are written in.
enum class TextLanguage { kEnglish, kChinese };

// The language for a request's BCP 47 `language_code` (proto/crm/v1/interaction_service.proto,
// GetCustomerTimelineRequest): empty or "en…" English, "zh…" Chinese (simplified), any other
// well-formed tag English (the response names the language used); INVALID_ARGUMENT naming
// `field` for text that is not a BCP 47 tag (subtags of 1-8 ASCII letters or digits joined by
// '-' or '_', the first all letters).
absl::StatusOr<TextLanguage> ParseTextLanguage(absl::string_view code, absl::string_view field);

// The BCP 47 code of `language`: "en" or "zh".
absl::string_view LanguageCode(TextLanguage language);

// The entry's text for `event` in `language`, e.g. "Phone call (inbound) by ann: asked for a
// quote" or "ann 电话（呼入）：asked for a quote". Free text from the event (summaries, reasons,
// product names) is quoted as written, cut to 200 code points with "…". Empty for events that
// make no timeline entry.
std::string TimelineText(const crm::events::v1::EventEnvelope& event, TextLanguage language);

}  // namespace crm::services::interaction
