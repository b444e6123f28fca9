// FoldText: the form of a customer's display name (and of region and industry) that search
// compares, so that "ACME", "acme" and the full-width "ＡＣＭＥ" find the same customers.
//
// The fold, code point by code point: full-width ASCII forms (U+FF01..U+FF5E) become their ASCII
// counterparts and the ideographic space (U+3000) a space; Latin capitals (A-Z, and the Latin-1
// capitals U+00C0..U+00DE except U+00D7) become lower case; runs of white space become one space,
// and white space at either end goes. Everything else (Chinese, Japanese, other scripts, digits,
// punctuation) stays as it is, so a Chinese prefix such as "华" is a byte prefix of the folded
// "华为技术". Bytes that are not valid UTF-8 are kept unchanged (the command side rejects them
// anyway). It is not Unicode NFKC: only what the lines above name is folded.
//
// Idempotent: FoldText(FoldText(s)) == FoldText(s), which the index relies on (the query is
// folded by the same function as the stored names). Never yields '\0' unless `text` holds one.
// Thread-safe: a pure function.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace crm::readmodel::customer {

std::string FoldText(absl::string_view text);

}  // namespace crm::readmodel::customer
