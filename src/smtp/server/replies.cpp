// pigeon/smtp/server/replies.cpp: filling a reply's marks, the catalogue and its Markdown table.
#include "smtp/server/replies.hpp"

#include <array>

#include "core/assert.hpp"

namespace pigeon::smtp::replies {

std::string Spec::text_with(std::initializer_list<std::string_view> values) const {
    std::string out;
    out.reserve(text.size() + 32);
    auto value = values.begin();
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t open = text.find('{', i);
        if (open == std::string_view::npos) break;
        const std::size_t close = text.find('}', open);
        out.append(text.substr(i, open - i));
        if (value != values.end()) out.append(*value++);
        i = close + 1;
    }
    out.append(text.substr(i < text.size() ? i : text.size()));
    PIGEON_ASSERT(value == values.end(), "a reply is given exactly one value per mark");
    return out;
}

core::Reply Spec::reply(std::initializer_list<std::string_view> values) const {
    if (enhanced.empty()) return core::Reply(code, std::nullopt, {text_with(values)});
    return core::Reply(code, enhanced, text_with(values));
}

namespace {

constexpr std::array all{
    &greeting, &helo, &ehlo, &quit, &timeout, &too_many_errors, &too_much_input, &shutting_down,
    &too_many_connections,
    &ok, &bad_sequence, &unrecognized, &line_too_long, &bare_line_ending_in_command, &syntax,
    &vrfy, &expn, &help,
    &sender_ok, &size_over_limit, &bad_sender_syntax, &bad_recipient_syntax, &needs_smtputf8,
    &unsupported_parameter, &rejected_sender, &recipient_ok, &rejected_recipient,
    &too_many_recipients,
    &no_valid_recipients, &start_data, &no_memory_for_message, &no_memory_left_in_message,
    &bare_line_ending_in_data, &message_too_large, &data_line_too_long, &rejected_message, &queued,
    &spool_failed,
    &tls_ready, &tls_not_available, &tls_already_active,
    &must_starttls_first, &auth_not_available, &unknown_mechanism, &auth_challenge,
    &auth_cancelled, &cannot_decode, &auth_line_too_long, &auth_succeeded, &auth_failed,
    &auth_temporary_failure, &already_authenticated, &auth_required,
};

// "{hostname} closing" -> "<hostname> closing", as the docs write a value to fill in.
std::string doc_text(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c == '{') c = '<';
        if (c == '}') c = '>';
    }
    return out;
}

}  // namespace

std::span<const Spec* const> catalogue() { return all; }

std::string markdown_table() {
    std::string out = "| situation | reply | RFC |\n|---|---|---|\n";
    for (const Spec* s : all) {
        std::string line = std::to_string(s->code) + " ";
        if (!s->enhanced.empty()) line.append(s->enhanced).append(" ");
        line += doc_text(s->text);
        out.append("| ").append(s->situation).append(" | `").append(line).append("` | ");
        out.append(s->rfc).append(" |\n");
    }
    return out;
}

}  // namespace pigeon::smtp::replies
