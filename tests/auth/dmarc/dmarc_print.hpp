// Boost.Test printers for the DMARC enums (found by ADL when a comparison fails).
#pragma once
#include <ostream>

#include "auth/dmarc/dmarc.hpp"

namespace pigeon::dmarc {
inline std::ostream& boost_test_print_type(std::ostream& os, Verdict v) { return os << verdict_name(v); }
inline std::ostream& boost_test_print_type(std::ostream& os, Disposition d) { return os << disposition_name(d); }
inline std::ostream& boost_test_print_type(std::ostream& os, Policy p) { return os << policy_name(p); }
inline std::ostream& boost_test_print_type(std::ostream& os, AlignMode m) { return os << align_mode_name(m); }
inline std::ostream& boost_test_print_type(std::ostream& os, FromStatus s) { return os << from_status_name(s); }
inline std::ostream& boost_test_print_type(std::ostream& os, DispositionReason r) {
    return os << disposition_reason_name(r);
}
}  // namespace pigeon::dmarc
