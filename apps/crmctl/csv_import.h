// The CSV files of `crmctl import customers FILE.csv`: parsing (RFC 4180: comma-separated,
// fields in double quotes may hold commas, quotes written twice and line breaks; CRLF or LF) and
// the mapping of each record to a crm.v1.ImportCustomerRow. The columns are named by the header
// (the first record), in any order, case-insensitively; unknown columns are an error. Columns
// (docs/crmctl.md, "Import"):
//   external_id, display_name, kind, emails, phones, region, industry, acquisition_source,
//   lifecycle_stage, owner, tags, value_tier, social_ids, attr.<key> for each attribute <key>,
//   one postal address (address.kind, address.lines, address.city, address.region,
//   address.postal_code, address.country_code) and one contact person, the primary one
//   (contact.display_name, contact.title, contact.emails, contact.phones).
// emails, phones, tags, social_ids (each NETWORK:HANDLE), address.lines, contact.emails and
// contact.phones hold several values separated by ';'. A row sets the address (the contact) if
// any of its cells is not empty. Enum columns take the enum's
// value name, in any case (person, COMPANY, first_contact). An empty cell is an unset field.
// A record whose enum cell names no value of the enum cannot be sent: it is a local failure,
// reported like the server's failures (INVALID_ARGUMENT naming the field) and not sent.
// Every other check is the server's (ImportCustomers validates as RegisterCustomer does).
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/v1/customer_service.pb.h"

namespace crm::crmctl {

struct CsvRecord {
  int64_t line = 0;  // the line the record starts on (1 for the header)
  std::vector<std::string> fields;
};

// INVALID_ARGUMENT for an unterminated quoted field or a quote inside an unquoted field (naming
// the line).
absl::StatusOr<std::vector<CsvRecord>> ParseCsv(absl::string_view text);

struct CsvRows {
  // The records to send, row_number = the record's line.
  std::vector<crm::v1::ImportCustomerRow> rows;
  // Records not sent: their results (outcome FAILED, error naming the field).
  std::vector<crm::v1::ImportCustomerResult> failed;
};

// A social id written NETWORK:HANDLE (the network's enum value name in any case, e.g.
// "wechat:wx_ada"; the handle as written after the first ':'). False if the network is unknown
// or either part is empty.
bool ParseSocialId(absl::string_view text, crm::v1::SocialId* out);

// Maps the records after the header. INVALID_ARGUMENT for a missing header, an unknown or
// repeated column, or a record with more fields than the header.
absl::StatusOr<CsvRows> RowsFromCsv(const std::vector<CsvRecord>& records);

}  // namespace crm::crmctl
