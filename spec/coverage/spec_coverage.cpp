// pigeon-spec-coverage: which RFC requirements (spec/requirements/*.toml) have tests.
//
// Contract: reads every requirement file and the `# covers:` header of every conformance
// transcript, joins the two directions (a requirement's `tests` and a transcript's
// `covers`), and prints, per RFC, the requirements by level, covered or not, and the tests
// that cover each. With --check it exits 1 when the catalogue is inconsistent:
//   - a MUST or MUST NOT requirement has no covering test (unless marked `untestable`),
//   - a transcript cites an unknown requirement id,
//   - a requirement cites a transcript that does not exist, or a Boost.Test case that the
//     named executable does not list (`<exe> --list_content`, looked up in --build-dir),
//   - the catalogue itself is malformed (duplicate or badly formed ids, unknown levels).
// The format is described in spec/README.md.
//
// Usage: pigeon-spec-coverage --requirements DIR --transcripts DIR [--build-dir DIR]
//                             [--check] [--quiet]
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <cctype>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <toml++/toml.h>

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> levels = {"MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY"};

struct Requirement {
    std::string id;
    std::string section;
    std::string level;
    std::string text;
    std::string untestable;         // reason, when a server cannot be tested on it
    std::set<std::string> tests;    // both directions joined
    std::set<std::string> broken;   // cited tests that do not exist: they cover nothing
    bool covered() const { return tests.size() > broken.size(); }
    std::string file;
};

struct Rfc {
    std::string number;
    std::string title;
    std::vector<Requirement> requirements;
};

struct Catalogue {
    std::vector<Rfc> rfcs;
    std::vector<std::string> errors;
};

bool must_level(const std::string& level) { return level == "MUST" || level == "MUST NOT"; }

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return {};
    const auto e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

std::vector<fs::path> files_with(const fs::path& dir, const std::string& ext) {
    std::vector<fs::path> out;
    if (!fs::is_directory(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ext) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

void load_requirements(const fs::path& dir, Catalogue& cat) {
    // After the file's prefix (its rfc number, or its `spec` name): "<section>-<slug>".
    static const std::regex rest_re(R"(([0-9A-Za-z.]+)-([a-z0-9][a-z0-9-]*))");
    static const std::regex spec_re(R"([a-z][a-z0-9]*(-[a-z0-9]+)*)");
    std::set<std::string> seen;
    const auto files = files_with(dir, ".toml");
    if (files.empty()) cat.errors.push_back("no *.toml in " + dir.string());
    for (const auto& file : files) {
        const auto name = file.filename().string();
        toml::table doc;
        try {
            doc = toml::parse_file(file.string());
        } catch (const toml::parse_error& e) {
            std::ostringstream msg;
            msg << name << ": " << e.description() << " (line " << e.source().begin.line << ")";
            cat.errors.push_back(msg.str());
            continue;
        }
        Rfc rfc;
        // A protocol without an RFC (Dovecot's auth protocol) names itself with `spec`.
        if (auto n = doc["rfc"].value<std::int64_t>()) rfc.number = std::to_string(*n);
        else if (auto spec = doc["spec"].value<std::string>(); spec && std::regex_match(*spec, spec_re))
            rfc.number = *spec;
        else cat.errors.push_back(name + ": missing integer `rfc` (or a lower-case `spec` name)");
        rfc.title = doc["title"].value_or(std::string());
        const auto* list = doc["requirement"].as_array();
        if (!list) {
            cat.errors.push_back(name + ": no [[requirement]] entries");
            continue;
        }
        for (const auto& node : *list) {
            const auto* t = node.as_table();
            if (!t) {
                cat.errors.push_back(name + ": a requirement is not a table");
                continue;
            }
            Requirement r;
            r.file = name;
            r.id = (*t)["id"].value_or(std::string());
            r.section = (*t)["section"].value_or(std::string());
            r.level = (*t)["level"].value_or(std::string());
            r.text = (*t)["text"].value_or(std::string());
            r.untestable = (*t)["untestable"].value_or(std::string());
            const std::string where = name + ": " + (r.id.empty() ? "(no id)" : r.id);
            std::smatch m;
            const std::string prefix = rfc.number + "-";
            const std::string rest = r.id.rfind(prefix, 0) == 0 ? r.id.substr(prefix.size()) : std::string();
            if (r.id.rfind(prefix, 0) != 0 && std::regex_match(r.id, std::regex(R"([0-9]+-.+)")))
                cat.errors.push_back(where + ": id does not start with the file's rfc " + rfc.number);
            else if (!std::regex_match(rest, m, rest_re))
                cat.errors.push_back(where + ": id must be <rfc>-<section>-<slug>");
            else if (m[1].str() != r.section)
                cat.errors.push_back(where + ": id section differs from section = \"" + r.section + "\"");
            if (!seen.insert(r.id).second) cat.errors.push_back(where + ": duplicate id");
            if (std::find(levels.begin(), levels.end(), r.level) == levels.end())
                cat.errors.push_back(where + ": level must be MUST, MUST NOT, SHOULD, SHOULD NOT or MAY");
            if (r.text.empty()) cat.errors.push_back(where + ": empty text");
            if (const auto* tests = (*t)["tests"].as_array()) {
                for (const auto& test : *tests) {
                    auto s = test.value<std::string>();
                    if (!s) cat.errors.push_back(where + ": tests must be strings");
                    else r.tests.insert(*s);
                }
            }
            rfc.requirements.push_back(std::move(r));
        }
        cat.rfcs.push_back(std::move(rfc));
    }
}

// The `# covers:` ids of each transcript, by file stem.
std::map<std::string, std::vector<std::string>> load_transcript_covers(const fs::path& dir,
                                                                       Catalogue& cat) {
    std::map<std::string, std::vector<std::string>> out;
    const auto files = files_with(dir, ".txt");
    if (files.empty()) cat.errors.push_back("no *.txt in " + dir.string());
    for (const auto& file : files) {
        std::ifstream in(file);
        auto& covers = out[file.stem().string()];
        std::string line;
        while (std::getline(in, line) && line.rfind("# ", 0) == 0) {
            if (line.rfind("# covers:", 0) != 0) continue;
            std::stringstream ids(line.substr(9));
            std::string id;
            while (std::getline(ids, id, ',')) {
                id = trim(id);
                if (!id.empty()) covers.push_back(id);
            }
        }
        if (covers.empty()) cat.errors.push_back("transcript " + file.filename().string() + ": no # covers:");
    }
    return out;
}

std::optional<fs::path> find_executable(const fs::path& build_dir, const std::string& name) {
    for (const auto& candidate : {build_dir / "tests" / name, build_dir / name})
        if (fs::is_regular_file(candidate)) return candidate;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(build_dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory() && it->path().filename() == "CMakeFiles") {
            it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file() && it->path().filename() == name) return it->path();
    }
    return std::nullopt;
}

// Every suite and case path ("suite/sub/case") that `exe --list_content` prints. Boost.Test
// writes one node per line, indented four spaces per level, enabled ones marked "*".
std::optional<std::set<std::string>> list_content(const fs::path& exe) {
    const std::string command = "'" + exe.string() + "' --list_content 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return std::nullopt;
    std::string output;
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    if (::pclose(pipe) != 0) return std::nullopt;

    std::set<std::string> paths;
    std::vector<std::string> stack;
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
        const auto indent = line.find_first_not_of(' ');
        if (indent == std::string::npos) continue;
        auto name = trim(line.substr(indent));
        if (!name.empty() && name.back() == '*') name.pop_back();
        const auto depth = indent / 4;
        stack.resize(std::min(stack.size(), depth));
        stack.push_back(name);
        std::string path;
        for (const auto& part : stack) path += (path.empty() ? "" : "/") + part;
        paths.insert(path);
    }
    return paths;
}

int usage() {
    std::cerr << "usage: pigeon-spec-coverage --requirements DIR --transcripts DIR"
                 " [--build-dir DIR] [--check] [--quiet]\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    fs::path requirements_dir, transcripts_dir, build_dir;
    bool check = false;
    bool quiet = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::optional<fs::path> {
            if (i + 1 >= argc) return std::nullopt;
            return fs::path(argv[++i]);
        };
        if (arg == "--check") check = true;
        else if (arg == "--quiet") quiet = true;
        else if (arg == "--requirements") { if (auto v = value()) requirements_dir = *v; else return usage(); }
        else if (arg == "--transcripts") { if (auto v = value()) transcripts_dir = *v; else return usage(); }
        else if (arg == "--build-dir") { if (auto v = value()) build_dir = *v; else return usage(); }
        else return usage();
    }
    if (requirements_dir.empty() || transcripts_dir.empty()) return usage();

    Catalogue cat;
    load_requirements(requirements_dir, cat);
    const auto covers = load_transcript_covers(transcripts_dir, cat);

    // Join: a transcript's `covers` adds it to each requirement it names.
    std::map<std::string, Requirement*> by_id;
    for (auto& rfc : cat.rfcs)
        for (auto& r : rfc.requirements) by_id[r.id] = &r;
    for (const auto& [stem, ids] : covers) {
        for (const auto& id : ids) {
            const auto it = by_id.find(id);
            if (it == by_id.end())
                cat.errors.push_back("transcript " + stem + ".txt cites unknown requirement " + id);
            else it->second->tests.insert("transcript:" + stem);
        }
    }

    // Every cited test must exist.
    std::map<std::string, std::optional<std::set<std::string>>> listed;  // exe -> its cases
    for (auto& rfc : cat.rfcs) {
        for (auto& r : rfc.requirements) {
            for (const auto& test : r.tests) {
                const auto errors_before = cat.errors.size();
                if (test.rfind("transcript:", 0) == 0) {
                    if (!covers.count(test.substr(11)))
                        cat.errors.push_back(r.id + " cites a missing transcript " + test);
                } else if (test.rfind("test:", 0) == 0) {
                    const auto path = test.substr(5);
                    const auto slash = path.find('/');
                    const auto exe = path.substr(0, slash);
                    if (slash == std::string::npos) {
                        cat.errors.push_back(r.id + ": " + test + " must be test:<executable>/<suite>/<case>");
                        r.broken.insert(test);
                        continue;
                    }
                    if (build_dir.empty()) {
                        cat.errors.push_back(r.id + " cites " + test + " but no --build-dir was given");
                        r.broken.insert(test);
                        continue;
                    }
                    if (!listed.count(exe)) {
                        const auto found = find_executable(build_dir, exe);
                        listed[exe] = found ? list_content(*found) : std::nullopt;
                        if (!listed[exe])
                            cat.errors.push_back("cannot list the tests of " + exe + " under " +
                                                 build_dir.string() + " (not built?)");
                    }
                    if (!listed[exe]) r.broken.insert(test);  // reported once per executable
                    else if (!listed[exe]->count(path.substr(slash + 1)))
                        cat.errors.push_back(r.id + " cites " + test + ", which " + exe + " does not list");
                } else {
                    cat.errors.push_back(r.id + ": test id must start with transcript: or test: (" + test + ")");
                }
                if (cat.errors.size() != errors_before) r.broken.insert(test);
            }
        }
    }

    // Report.
    int total = 0, covered_total = 0, must_total = 0, must_covered = 0;
    for (const auto& rfc : cat.rfcs) {
        std::map<std::string, std::pair<int, int>> by_level;  // level -> (covered, all)
        int covered = 0;
        int untestable = 0;
        for (const auto& r : rfc.requirements) {
            const bool is_covered = r.covered();
            if (!is_covered && !r.untestable.empty()) ++untestable;
            auto& [c, all] = by_level[r.level];
            ++all;
            if (is_covered) { ++c; ++covered; }
            if (must_level(r.level) && r.untestable.empty()) {
                ++must_total;
                if (is_covered) ++must_covered;
                else cat.errors.push_back(r.id + " (" + r.level + ") has no covering test");
            }
        }
        total += static_cast<int>(rfc.requirements.size());
        covered_total += covered;
        std::cout << (!rfc.number.empty() && std::isdigit(static_cast<unsigned char>(rfc.number.front())) ? "RFC " : "") << rfc.number << " "
                  << rfc.title << ": " << covered << "/"
                  << rfc.requirements.size() << " requirements covered\n ";
        for (const auto& level : levels)
            if (by_level.count(level))
                std::cout << " " << level << " " << by_level[level].first << "/" << by_level[level].second;
        if (untestable > 0) std::cout << "  (" << untestable << " not testable on a server)";
        std::cout << "\n";
        if (quiet) continue;
        for (const auto& r : rfc.requirements) {
            const char* mark = r.covered() ? "covered  " : !r.untestable.empty() ? "untested " : "UNCOVERED";
            std::cout << "  [" << mark << "] " << r.id << " (" << r.level << ")\n";
            for (const auto& test : r.tests)
                std::cout << "        " << test << (r.broken.count(test) ? "  (does not exist)" : "") << "\n";
            if (!r.covered() && !r.untestable.empty())
                std::cout << "        not testable on a server: " << r.untestable << "\n";
        }
    }
    std::cout << "total: " << covered_total << "/" << total << " requirements covered; MUST/MUST NOT "
              << must_covered << "/" << must_total << " covered; " << covers.size() << " transcripts\n";

    if (!cat.errors.empty()) {
        std::cout << cat.errors.size() << " problem(s):\n";
        for (const auto& e : cat.errors) std::cout << "  error: " << e << "\n";
    }
    return check && !cat.errors.empty() ? 1 : 0;
}
