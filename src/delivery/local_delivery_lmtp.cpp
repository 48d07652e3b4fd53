// pigeon/delivery/local_delivery_lmtp.cpp: LocalDelivery's LMTP transactions (one per
// endpoint), with the folder hint as the address's detail.
#include "delivery/local_delivery.hpp"

#include <memory>

namespace pigeon::delivery {
namespace {

// bob@example.org with folder "Junk": bob+Junk@example.org, which Dovecot's lmtp (with
// recipient_delimiter = + and lmtp_save_to_detail_mailbox = yes) files in the Junk mailbox.
core::Path with_folder(const core::Path& address, const std::string& folder) {
    if (folder.empty() || address.kind != core::Path::Kind::mailbox) return address;
    auto detailed = core::Mailbox::parse(address.mailbox.local_part() + "+" + folder + "@" +
                                         address.mailbox.domain().text());
    return detailed ? core::Path::of(std::move(detailed).value()) : address;
}

}  // namespace

std::vector<std::pair<std::size_t, smtp::RecipientResult>> LocalDelivery::send_lmtp(
    const queue::MessageRecord& record, const LmtpGroups& groups) {
    std::vector<std::pair<std::size_t, smtp::RecipientResult>> out;
    const auto text = std::make_shared<const std::string>(record.message);  // CRLF, as outbound sends
    for (const auto& [endpoint, members] : groups) {
        smtp::ClientMessage m;
        m.reverse_path = record.entry.envelope.reverse_path;
        m.message = text;
        m.smtputf8 = record.entry.envelope.smtputf8;
        for (const auto& [index, address] : members) m.recipients.push_back(with_folder(address, record.entry.folder));
        smtp::TransactionResult r = lmtp_.deliver(endpoint, std::move(m));
        for (std::size_t k = 0; k < members.size(); ++k) {
            if (k < r.recipients.size()) {
                out.emplace_back(members[k].first, std::move(r.recipients[k]));
            } else {  // the session guarantees one result per recipient; never assume success
                smtp::RecipientResult missing;
                missing.reply = core::Reply(451, "4.4.0", "no result from the LMTP session");
                out.emplace_back(members[k].first, std::move(missing));
            }
        }
    }
    return out;
}

}  // namespace pigeon::delivery
