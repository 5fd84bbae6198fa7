#include "render/journal.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>

#include <cstring>

#include <fmt/format.h>
#include <systemd/sd-journal.h>

#include "diagnosis/diagnose.h"

namespace synwhy {

const std::string* JournalEntry::find(const std::string& name) const {
    for (const auto& [key, value] : fields)
        if (key == name) return &value;
    return nullptr;
}

int journal_priority(const std::string& verdict) {
    if (verdict == cause::accepted) return LOG_INFO;
    if (verdict == cause::unanswered || verdict == cause::handshake_incomplete) return LOG_NOTICE;
    if (verdict == cause::sshd_failing) return LOG_ERR;
    return LOG_WARNING;
}

JournalEntry flow_journal_entry(const Flow& flow, const std::string& message, const std::string& netns_name,
                                const std::string& owner) {
    JournalEntry e;
    auto add = [&e](const char* name, std::string value) { e.fields.emplace_back(name, std::move(value)); };
    add("MESSAGE", message);
    add("PRIORITY", std::to_string(journal_priority(flow.verdict)));
    add("SYSLOG_IDENTIFIER", "synwhy");
    add("SYNWHY_EVENT", "flow");
    add("SYNWHY_VERDICT", flow.verdict);
    add("SYNWHY_CAUSE", flow.detail);
    add("SYNWHY_CLIENT", flow.src.str());
    add("SYNWHY_CLIENT_PORT", std::to_string(flow.sport));
    add("SYNWHY_SERVER", flow.dst.str());
    add("SYNWHY_PORT", std::to_string(flow.dport));
    add("SYNWHY_FAMILY", flow.family == Family::ipv4 ? "ipv4" : "ipv6");
    add("SYNWHY_SYNS", std::to_string(flow.syns));
    add("SYNWHY_NETNS", std::to_string(flow.netns));
    if (!netns_name.empty()) add("SYNWHY_NETNS_NAME", netns_name);
    if (!flow.ifname.empty()) add("SYNWHY_IFNAME", flow.ifname);
    if (!flow.bridge.empty()) add("SYNWHY_BRIDGE", flow.bridge);
    if (flow.vlan_id) add("SYNWHY_VLAN", std::to_string(flow.vlan_id));
    if (flow.nat_dst) add("SYNWHY_DNAT", endpoint(*flow.nat_dst, flow.nat_dport));
    if (flow.rule) {
        add("SYNWHY_RULE", describe_rule(*flow.rule));
        if (!flow.rule->text.empty()) add("SYNWHY_RULE_TEXT", flow.rule->text);
    }
    if (!owner.empty()) add("SYNWHY_OWNER", owner);
    return e;
}

JournalEntry event_journal_entry(const std::string& event, const std::string& message, int priority) {
    JournalEntry e;
    e.fields = {{"MESSAGE", message},
                {"PRIORITY", std::to_string(priority)},
                {"SYSLOG_IDENTIFIER", "synwhy"},
                {"SYNWHY_EVENT", event}};
    return e;
}

JournalEntry listener_journal_entry(const Event& change, bool started, const std::string& message) {
    JournalEntry e = event_journal_entry(started ? "listen-start" : "listen-stop", message, started ? LOG_INFO : LOG_WARNING);
    e.fields.emplace_back("SYNWHY_PORT", std::to_string(change.dport));
    e.fields.emplace_back("SYNWHY_SERVER", change.dst.str());
    e.fields.emplace_back("SYNWHY_NETNS", std::to_string(change.netns));
    e.fields.emplace_back("SYNWHY_PID", std::to_string(change.pid));
    e.fields.emplace_back("SYNWHY_COMM", change.comm);
    return e;
}

bool is_journal_stream(const char* journal_stream_env, dev_t dev, ino_t ino) {
    if (!journal_stream_env) return false;
    unsigned long long want_dev = 0, want_ino = 0;
    char tail = 0;
    if (sscanf(journal_stream_env, "%llu:%llu%c", &want_dev, &want_ino, &tail) != 2) return false;
    return want_dev == static_cast<unsigned long long>(dev) && want_ino == static_cast<unsigned long long>(ino);
}

bool send_journal_entry(const JournalEntry& entry, std::string& error) {
    // Each field as "NAME=value": journald takes values with newlines and any bytes this way.
    std::vector<std::string> items;
    items.reserve(entry.fields.size());
    for (const auto& [name, value] : entry.fields) items.push_back(name + "=" + value);
    std::vector<struct iovec> iov(items.size());
    for (size_t i = 0; i < items.size(); i++) iov[i] = {items[i].data(), items[i].size()};
    int r = sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
    if (r < 0) {
        error = fmt::format("cannot write to the journal: {}", strerror(-r));
        return false;
    }
    return true;
}

std::string journal_unavailable_reason() {
    const char* path = "/run/systemd/journal/socket";
    struct stat st {};
    if (stat(path, &st) != 0) return fmt::format("no systemd journal here ({}: {})", path, strerror(errno));
    if (!S_ISSOCK(st.st_mode)) return fmt::format("no systemd journal here ({} is not a socket)", path);
    return "";
}

}  // namespace synwhy
