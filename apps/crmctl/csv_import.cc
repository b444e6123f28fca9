#include "apps/crmctl/csv_import.h"

#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status_code_enum.h"

namespace crm::crmctl {
namespace {

constexpr absl::string_view kAttrPrefix = "attr.";

const std::set<std::string, std::less<>>& Columns() {
  static const auto* columns = new std::set<std::string, std::less<>>{"external_id",
                                                                      "display_name",
                                                                      "kind",
                                                                      "emails",
                                                                      "phones",
                                                                      "region",
                                                                      "industry",
                                                                      "acquisition_source",
                                                                      "lifecycle_stage",
                                                                      "owner",
                                                                      "tags",
                                                                      "value_tier",
                                                                      "social_ids",
                                                                      "address.kind",
                                                                      "address.lines",
                                                                      "address.city",
                                                                      "address.region",
                                                                      "address.postal_code",
                                                                      "address.country_code",
                                                                      "contact.display_name",
                                                                      "contact.title",
                                                                      "contact.emails",
                                                                      "contact.phones"};
  return *columns;
}

std::vector<std::string> List(absl::string_view cell) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(cell, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

// The number of the enum value named `cell` (any case), or false.
bool EnumValue(const google::protobuf::EnumDescriptor* type, absl::string_view cell, int* out) {
  const google::protobuf::EnumValueDescriptor* value =
      type->FindValueByName(absl::AsciiStrToUpper(absl::StripAsciiWhitespace(cell)));
  if (value == nullptr || value->number() == 0) return false;
  *out = value->number();
  return true;
}

}  // namespace

bool ParseSocialId(absl::string_view text, crm::v1::SocialId* out) {
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos || colon + 1 == text.size()) return false;
  int network = 0;
  if (!EnumValue(crm::v1::SocialNetwork_descriptor(), text.substr(0, colon), &network)) {
    return false;
  }
  out->set_network(static_cast<crm::v1::SocialNetwork>(network));
  out->set_handle(std::string(text.substr(colon + 1)));
  return true;
}

namespace {

crm::v1::ImportCustomerResult LocalFailure(int64_t row, const std::string& field,
                                           const std::string& why) {
  crm::v1::ImportCustomerResult result;
  result.set_row_number(row);
  result.set_outcome(crm::v1::FAILED);
  result.mutable_error()->set_code(grpc::StatusCode::INVALID_ARGUMENT);
  result.mutable_error()->set_message(absl::StrCat(field, ": ", why));
  google::rpc::BadRequest bad;
  auto* violation = bad.add_field_violations();
  violation->set_field(field);
  violation->set_description(why);
  result.mutable_error()->add_details()->PackFrom(bad);
  return result;
}

}  // namespace

absl::StatusOr<std::vector<CsvRecord>> ParseCsv(absl::string_view text) {
  std::vector<CsvRecord> records;
  int64_t line = 1;
  size_t i = 0;
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) i = 3;  // a UTF-8 byte order mark
  while (i < text.size()) {
    CsvRecord record;
    record.line = line;
    std::string field;
    bool quoted = false;
    bool was_quoted = false;
    for (;;) {
      if (i >= text.size()) {
        if (quoted) {
          return absl::InvalidArgumentError(
              absl::StrCat("line ", record.line, ": a quoted field is not closed"));
        }
        record.fields.push_back(std::move(field));
        break;
      }
      const char c = text[i++];
      if (quoted) {
        if (c == '"') {
          if (i < text.size() && text[i] == '"') {
            field.push_back('"');
            ++i;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') ++line;
          field.push_back(c);
        }
        continue;
      }
      if (c == '"') {
        if (!field.empty() || was_quoted) {
          return absl::InvalidArgumentError(
              absl::StrCat("line ", line, ": a quote inside an unquoted field"));
        }
        quoted = was_quoted = true;
      } else if (c == ',') {
        record.fields.push_back(std::move(field));
        field.clear();
        was_quoted = false;
      } else if (c == '\r' && i < text.size() && text[i] == '\n') {
        continue;  // the LF ends the record
      } else if (c == '\n') {
        ++line;
        record.fields.push_back(std::move(field));
        break;
      } else {
        field.push_back(c);
      }
    }
    // A blank line is no record.
    if (record.fields.size() == 1 && record.fields[0].empty()) continue;
    records.push_back(std::move(record));
  }
  return records;
}

absl::StatusOr<CsvRows> RowsFromCsv(const std::vector<CsvRecord>& records) {
  if (records.empty()) return absl::InvalidArgumentError("the file has no header row");
  std::vector<std::string> header;
  std::set<std::string> seen;
  for (const std::string& raw : records[0].fields) {
    std::string column = std::string(absl::StripAsciiWhitespace(raw));
    if (!absl::StartsWithIgnoreCase(column, kAttrPrefix)) column = absl::AsciiStrToLower(column);
    const bool attribute =
        absl::StartsWith(column, kAttrPrefix) && column.size() > kAttrPrefix.size();
    if (!attribute && !Columns().count(column)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown column \"", column, "\""));
    }
    if (!seen.insert(column).second) {
      return absl::InvalidArgumentError(absl::StrCat("column \"", column, "\" appears twice"));
    }
    header.push_back(std::move(column));
  }
  CsvRows out;
  for (size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& record = records[r];
    if (record.fields.size() > header.size()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", record.line, ": ",
                                                     record.fields.size(),
                                                     " fields, the header has ", header.size()));
    }
    crm::v1::ImportCustomerRow row;
    row.set_row_number(record.line);
    crm::v1::Customer* c = row.mutable_customer();
    std::optional<crm::v1::ImportCustomerResult> failure;
    for (size_t f = 0; f < record.fields.size() && !failure.has_value(); ++f) {
      const std::string& column = header[f];
      const std::string& cell = record.fields[f];
      if (cell.empty()) continue;
      auto enum_cell = [&](const google::protobuf::EnumDescriptor* type, auto set) {
        int value = 0;
        if (!EnumValue(type, cell, &value)) {
          failure = LocalFailure(record.line, absl::StrCat("customer.", column),
                                 absl::StrCat("unknown value \"", cell, "\""));
          return;
        }
        set(value);
      };
      if (column == "external_id") {
        c->set_external_id(cell);
      } else if (column == "display_name") {
        c->set_display_name(cell);
      } else if (column == "kind") {
        enum_cell(crm::v1::CustomerKind_descriptor(),
                  [&](int v) { c->set_kind(static_cast<crm::v1::CustomerKind>(v)); });
      } else if (column == "emails") {
        for (std::string& e : List(cell)) c->add_emails(std::move(e));
      } else if (column == "phones") {
        for (std::string& p : List(cell)) c->add_phones(std::move(p));
      } else if (column == "region") {
        c->set_region(cell);
      } else if (column == "industry") {
        c->set_industry(cell);
      } else if (column == "acquisition_source") {
        enum_cell(crm::v1::AcquisitionSource_descriptor(), [&](int v) {
          c->set_acquisition_source(static_cast<crm::v1::AcquisitionSource>(v));
        });
      } else if (column == "lifecycle_stage") {
        enum_cell(crm::v1::LifecycleStage_descriptor(),
                  [&](int v) { c->set_lifecycle_stage(static_cast<crm::v1::LifecycleStage>(v)); });
      } else if (column == "owner") {
        c->set_owner(cell);
      } else if (column == "tags") {
        for (std::string& t : List(cell)) c->add_tags(std::move(t));
      } else if (column == "social_ids") {
        for (const std::string& s : List(cell)) {
          if (!ParseSocialId(s, c->add_social_ids())) {
            failure = LocalFailure(
                record.line, absl::StrCat("customer.social_ids[", c->social_ids_size() - 1, "]"),
                absl::StrCat("\"", s, "\" is not NETWORK:HANDLE (e.g. wechat:wx_ada)"));
            break;
          }
        }
      } else if (absl::StartsWith(column, "address.")) {
        crm::v1::PostalAddress* a =
            c->addresses().empty() ? c->add_addresses() : c->mutable_addresses(0);
        if (column == "address.kind") {
          const std::string field = "customer.addresses[0].kind";
          int value = 0;
          // "billing" for BILLING_ADDRESS too.
          if (!EnumValue(crm::v1::AddressKind_descriptor(), cell, &value) &&
              !EnumValue(crm::v1::AddressKind_descriptor(), absl::StrCat(cell, "_address"),
                         &value)) {
            failure =
                LocalFailure(record.line, field, absl::StrCat("unknown value \"", cell, "\""));
          } else {
            a->set_kind(static_cast<crm::v1::AddressKind>(value));
          }
        } else if (column == "address.lines") {
          for (std::string& l : List(cell)) a->add_lines(std::move(l));
        } else if (column == "address.city") {
          a->set_city(cell);
        } else if (column == "address.region") {
          a->set_region(cell);
        } else if (column == "address.postal_code") {
          a->set_postal_code(cell);
        } else {
          a->set_country_code(cell);
        }
      } else if (absl::StartsWith(column, "contact.")) {
        crm::v1::ContactPerson* p =
            c->contacts().empty() ? c->add_contacts() : c->mutable_contacts(0);
        p->set_primary(true);
        if (column == "contact.display_name") {
          p->set_display_name(cell);
        } else if (column == "contact.title") {
          p->set_title(cell);
        } else if (column == "contact.emails") {
          for (std::string& e : List(cell)) p->add_emails(std::move(e));
        } else {
          for (std::string& ph : List(cell)) p->add_phones(std::move(ph));
        }
      } else if (column == "value_tier") {
        // Sent as is: the server refuses it (the tier is derived from purchases).
        enum_cell(crm::v1::ValueTier_descriptor(),
                  [&](int v) { c->set_value_tier(static_cast<crm::v1::ValueTier>(v)); });
      } else {
        (*c->mutable_attributes())[column.substr(kAttrPrefix.size())] = cell;
      }
    }
    if (failure.has_value()) {
      out.failed.push_back(*std::move(failure));
    } else {
      out.rows.push_back(std::move(row));
    }
  }
  return out;
}

}  // namespace crm::crmctl
