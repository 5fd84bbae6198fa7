// The last journal lines of the ssh units (sd-journal, the view's current boot), as evidence:
// sshd's own errors ("line 12: Bad configuration option"), systemd's about the unit ("Start
// request repeated too quickly") and, under Accept=yes, the per-connection instances'.
#include "host/snapshot.h"

#include <systemd/sd-id128.h>
#include <systemd/sd-journal.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string_view>

namespace synwhy::host {

namespace {

constexpr size_t max_field_bytes = 2048;  // a message longer than this is cut (sd-journal's threshold)

struct JournalCloser {
    void operator()(sd_journal* j) const { sd_journal_close(j); }
};
using Journal = std::unique_ptr<sd_journal, JournalCloser>;

// The view's boot: a container may have its own (systemd-nspawn mounts a random boot_id over
// /proc/sys/kernel/random/boot_id), and its journal records that one.
bool view_boot_id(const std::string& root, sd_id128_t& boot) {
    if (root.empty()) return sd_id128_get_boot(&boot) >= 0;
    auto text = read_file_in_root(root, "/proc/sys/kernel/random/boot_id");
    if (!text) return false;
    std::string id = text->substr(0, text->find('\n'));
    return sd_id128_from_string(id.c_str(), &boot) >= 0;
}

Journal open_journal(const std::string& root, std::string& error) {
    sd_journal* j = nullptr;
    int rc = root.empty() ? sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM)
                          : sd_journal_open_directory(&j, root.c_str(), SD_JOURNAL_OS_ROOT | SD_JOURNAL_SYSTEM);
    if (rc < 0) {
        error = std::string("cannot open the journal: ") + strerror(-rc);
        return nullptr;
    }
    return Journal(j);
}

// A field's value ("" when the entry has none).
std::string field(sd_journal* j, const char* name) {
    const void* data = nullptr;
    size_t length = 0;
    if (sd_journal_get_data(j, name, &data, &length) < 0 || !data) return "";
    std::string_view text(static_cast<const char*>(data), length);
    size_t eq = text.find('=');
    return eq == std::string_view::npos ? "" : std::string(text.substr(eq + 1));
}

// (this boot) AND (its processes OR systemd about it [OR its Accept=yes instances]).
int add_unit_matches(sd_journal* j, const SystemdUnit& unit, const std::string& boot_match) {
    std::vector<std::string> alternatives = {"_SYSTEMD_UNIT=" + unit.id, "UNIT=" + unit.id};
    if (unit.accept) alternatives.push_back("_SYSTEMD_SLICE=" + accept_instances_slice(unit.id));
    sd_journal_flush_matches(j);
    int rc = sd_journal_add_match(j, boot_match.data(), boot_match.size());
    if (rc >= 0) rc = sd_journal_add_conjunction(j);
    for (size_t i = 0; rc >= 0 && i < alternatives.size(); ++i) {
        if (i > 0) rc = sd_journal_add_disjunction(j);
        if (rc >= 0) rc = sd_journal_add_match(j, alternatives[i].data(), alternatives[i].size());
    }
    return rc;
}

// The current entry. systemd's own messages about the unit come from init.scope and name it in UNIT=.
JournalLine current_line(sd_journal* j, bool& from_systemd) {
    JournalLine line;
    uint64_t usec = 0;
    if (sd_journal_get_realtime_usec(j, &usec) >= 0) line.ts_ns = usec * 1000;
    line.unit = field(j, "UNIT");
    from_systemd = !line.unit.empty();
    if (line.unit.empty()) line.unit = field(j, "_SYSTEMD_UNIT");
    std::string priority = field(j, "PRIORITY");
    if (priority.size() == 1 && priority[0] >= '0' && priority[0] <= '7') line.priority = priority[0] - '0';
    line.message = field(j, "MESSAGE");
    return line;
}

}  // namespace

bool is_journal_boundary(const std::string& message) {
    for (std::string_view prefix : {"Started ", "Listening on ", "Stopped ", "Starting "})
        if (message.starts_with(prefix)) return true;
    return false;
}

std::vector<JournalLine> pick_unit_journal_lines(const std::function<bool(JournalLine&, bool&)>& previous,
                                                 size_t max_lines, size_t max_scan) {
    constexpr size_t own_lines_wanted = 2;
    std::vector<JournalLine> lines;
    size_t own_lines = 0;
    bool looking_back = false;
    bool past_a_start = false;  // a successful start was read: what is older was repaired since
    auto want_more = [&] {
        if (lines.size() < max_lines) return true;
        if (past_a_start) return false;
        looking_back = looking_back || own_lines == 0;  // the window had none of its own
        return looking_back && own_lines < own_lines_wanted;
    };
    for (size_t read = 0; read < max_scan && want_more(); ++read) {
        JournalLine line;
        bool from_systemd = false;
        if (!previous(line, from_systemd)) break;
        bool boundary = from_systemd && is_journal_boundary(line.message);
        if (looking_back && from_systemd && !boundary) continue;  // systemd's repeats
        own_lines += from_systemd ? 0 : 1;
        past_a_start = past_a_start || (boundary && (line.message.starts_with("Started ") ||
                                                     line.message.starts_with("Listening on ")));
        lines.push_back(std::move(line));
    }
    std::reverse(lines.begin(), lines.end());
    return lines;
}

std::string read_unit_journals(std::vector<SystemdUnit>& units, const std::string& root, size_t lines_per_unit) {
    if (units.empty() || lines_per_unit == 0) return "";
    sd_id128_t boot;
    if (!view_boot_id(root, boot)) return "cannot read the boot id";
    char boot_text[SD_ID128_STRING_MAX];
    std::string boot_match = std::string("_BOOT_ID=") + sd_id128_to_string(boot, boot_text);
    std::string error;
    Journal journal = open_journal(root, error);
    if (!journal) return error;
    sd_journal_set_data_threshold(journal.get(), max_field_bytes);
    for (auto& unit : units) {
        int rc = add_unit_matches(journal.get(), unit, boot_match);
        if (rc < 0) {
            error += (error.empty() ? "" : "; ") + unit.id + ": " + strerror(-rc);
            continue;
        }
        sd_journal* j = journal.get();
        if (sd_journal_seek_tail(j) < 0) continue;
        auto previous = [j](JournalLine& line, bool& from_systemd) {
            if (sd_journal_previous(j) <= 0) return false;
            line = current_line(j, from_systemd);
            return true;
        };
        unit.journal = pick_unit_journal_lines(previous, lines_per_unit, 10 * lines_per_unit);
    }
    return error;
}

}  // namespace synwhy::host
