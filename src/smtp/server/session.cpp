#include "smtp/server/session.hpp"

#include "smtp/machine_table.hpp"
#include "smtp/server/session_base.hpp"

namespace pigeon::smtp {

const char* role_name(Role role) {
    switch (role) {
        case Role::submission: return "submission";
        case Role::inbound: return "inbound";
    }
    return "unknown";
}

std::unique_ptr<Session> make_session(SessionConfig config, PeerInfo peer) {
    if (config.role == Role::submission)
        return detail::make_submission_session(std::move(config), std::move(peer));
    return detail::make_inbound_session(std::move(config), std::move(peer));
}

std::vector<TransitionRow> transition_table(Role role) {
    return role == Role::submission ? detail::submission_rows() : detail::inbound_rows();
}

}  // namespace pigeon::smtp
