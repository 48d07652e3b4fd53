// pigeon-conformance: plays conformance transcripts against the in-process SMTP session, or
// over TCP against the real binary.
//
// Usage: pigeon-conformance [--verbose] [--bytewise] FILE|DIR...
//        pigeon-conformance --tcp --pigeon PATH [--verbose] FILE|DIR...
//   A DIR stands for every *.txt in it, in name order. Prints PASS or FAIL per transcript;
//   a failure shows the transcript line, the expected and the actual server line and the
//   end of the dialogue (all of it with --verbose). --bytewise feeds the session one octet
//   per put(): the replies must not depend on how the input is split. --tcp starts
//   `PATH serve` (one per server configuration the transcripts need) and plays them over
//   loopback TCP (conformance/tcp/tcp_mode.hpp); transcripts it cannot run print SKIP.
//   Exit status: 0 all passed, 1 some failed, 2 usage error.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tcp_mode.hpp"
#include "transcript.hpp"

namespace fs = std::filesystem;
using namespace pigeon::conformance;

namespace {

constexpr std::size_t context_lines = 12;  // dialogue lines shown before a failure

int usage() {
    std::cerr << "usage: pigeon-conformance [--verbose] [--bytewise] FILE|DIR...\n"
                 "       pigeon-conformance --tcp --pigeon PATH [--verbose] FILE|DIR...\n";
    return 2;
}

void print_failure(const fs::path& file, const Transcript& t, const PlayResult& r, bool verbose) {
    const auto& f = *r.failure;
    std::cout << "FAIL " << file.filename().string() << "  (" << t.title << ")\n";
    if (f.line > 0) std::cout << "  at " << file.string() << ":" << f.line << ": " << f.message << "\n";
    else std::cout << "  at end of " << file.string() << ": " << f.message << "\n";
    if (!f.expected.empty() || !f.actual.empty()) {
        std::cout << "  expected: " << f.expected << "\n";
        std::cout << "  actual:   " << f.actual << "\n";
    }
    const auto& d = r.dialogue;
    const std::size_t from = verbose || d.size() <= context_lines ? 0 : d.size() - context_lines;
    std::cout << "  dialogue" << (from > 0 ? " (last lines)" : "") << ":\n";
    for (std::size_t i = from; i < d.size(); ++i) std::cout << "    " << d[i] << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    bool verbose = false;
    bool bytewise = false;
    bool tcp = false;
    fs::path pigeon;
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--verbose" || arg == "-v") {
            verbose = true;
        } else if (arg == "--bytewise") {
            bytewise = true;
        } else if (arg == "--tcp") {
            tcp = true;
        } else if (arg == "--pigeon") {
            if (++i == argc) return usage();
            pigeon = argv[i];
        } else if (arg == "--help" || arg == "-h") {
            usage();
            return 0;
        } else if (!arg.empty() && arg[0] == '-') {
            return usage();
        } else if (fs::is_directory(arg)) {
            std::vector<fs::path> found;
            for (const auto& entry : fs::directory_iterator(arg))
                if (entry.is_regular_file() && entry.path().extension() == ".txt")
                    found.push_back(entry.path());
            std::sort(found.begin(), found.end());
            if (found.empty()) {
                std::cerr << "pigeon-conformance: no *.txt in " << arg << "\n";
                return 2;
            }
            files.insert(files.end(), found.begin(), found.end());
        } else {
            files.emplace_back(arg);
        }
    }
    if (files.empty()) return usage();
    if (tcp) {
        // Over a socket every write is whatever TCP makes of it: --bytewise means nothing.
        if (bytewise || pigeon.empty()) return usage();
        if (!fs::exists(pigeon)) {
            std::cerr << "pigeon-conformance: no such executable: " << pigeon.string() << "\n";
            return 2;
        }
        TcpRunOptions options;
        options.pigeon = fs::absolute(pigeon);
        options.verbose = verbose;
        options.print_failure = [verbose](const fs::path& file, const Transcript& t,
                                          const PlayResult& r) {
            print_failure(file, t, r, verbose);
        };
        return run_over_tcp(files, options);
    }
    if (!pigeon.empty()) return usage();

    int passed = 0;
    int failed = 0;
    for (const auto& file : files) {
        auto transcript = load_transcript(file);
        if (!transcript) {
            std::cout << "FAIL " << file.filename().string() << "\n  " << transcript.error().message << "\n";
            ++failed;
            continue;
        }
        std::vector<std::string> trace;
        MemoryTransport transport(*transcript, [&](std::string_view line) {
            trace.emplace_back(line);
        });
        transport.set_bytewise(bytewise);
        const auto result = play(*transcript, transport);
        if (result.passed()) {
            ++passed;
            std::cout << "PASS " << file.filename().string() << "  (" << transcript->title << ")\n";
            if (verbose)
                for (const auto& line : result.dialogue) std::cout << "    " << line << "\n";
        } else {
            ++failed;
            print_failure(file, *transcript, result, verbose);
        }
        if (verbose) {
            // The dialogue is shown above; the session's trace adds its state changes.
            std::cout << "  session states:\n";
            for (const auto& line : trace)
                if (line.rfind("C: ", 0) != 0 && line.rfind("S: ", 0) != 0)
                    std::cout << "    " << escape(line) << "\n";
        }
    }
    std::cout << passed << " passed, " << failed << " failed, " << files.size() << " transcripts"
              << (bytewise ? " (bytewise)" : "") << "\n";
    return failed == 0 ? 0 : 1;
}
