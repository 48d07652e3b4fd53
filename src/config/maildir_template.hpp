// pigeon/config/maildir_template.hpp: `[delivery] maildir`, where a local user's Maildir is,
// as a template with Dovecot's mail_location letters, so Pigeon and Dovecot agree on paths.
//
// Contract (pure: no file access; the caller creates nothing here):
//   maildir_template_problem(t)  why `t` cannot be used, or nullopt. A template is an absolute
//       path; '%' is followed by one of d (the domain), n (the local part), u (the whole
//       address local@domain) or '%' (a percent sign); any other letter, a '%' at the end,
//       a NUL, and "." or ".." path components are refused.
//   expand_maildir(t, address)   the path for `address` ("local@domain"). Each expansion is
//       lower-cased (ASCII, as maildir_for always did: Bob@Example.org and bob@example.org
//       share a mailbox). Nothing the address gives may move the path: an expansion that is
//       empty, is "." or "..", starts with '.', or holds '/', NUL or another control
//       character is refused (an Error, never a path), so the result always starts with the
//       template's fixed prefix (fixed_prefix()) and has no "." or ".." component.
//   fixed_prefix(t)              the template up to the last '/' before its first expansion:
//       the directory every expanded path lies under.
//   default_maildir_template(state_dir)  <state_dir>/mail/%d/%n/Maildir, today's layout
//       (state_dir's own '%' characters doubled).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace pigeon::config {

std::optional<std::string> maildir_template_problem(std::string_view tmpl);
core::Result<std::string> expand_maildir(std::string_view tmpl, std::string_view address);
std::string fixed_prefix(std::string_view tmpl);
std::string default_maildir_template(std::string_view state_dir);

}  // namespace pigeon::config
