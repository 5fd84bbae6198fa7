#include <fmt/format.h>

#include "render/render.h"

#include "diagnosis/diagnose.h"

namespace synwhy {

namespace {
const char* family_str(Family f) { return f == Family::ipv4 ? "ipv4" : "ipv6"; }
}  // namespace

nlohmann::json rule_json(const FirewallRule& r) {
    nlohmann::json j = {{"backend", r.backend}, {"family", r.family},   {"table", r.table},
                        {"chain", r.chain},     {"path", r.path},       {"policy", r.policy},
                        {"text", r.text},       {"comment", r.comment}, {"verdict", r.verdict}};
    if (r.backend == "iptables-legacy")
        j["rule_num"] = r.rule_num;
    // Counters showed the chain, not which of its rules: rule_num 0 is no rule to delete.
    if (rule_known_by_chain_only(r)) j["chain_only"] = true;
    else
        j["handle"] = r.handle;
    return j;
}

nlohmann::json flow_json(const Flow& f) {
    nlohmann::json j = {
        {"src", f.src.str()},       {"sport", f.sport},     {"dst", f.dst.str()},
        {"dport", f.dport},         {"family", family_str(f.family)},
        {"syns", f.syns},           {"verdict", f.verdict}, {"detail", f.detail},
        {"netns", f.netns},         {"ifname", f.ifname},
        {"ts", format_time(f.first_ns)},
        {"first_ns", f.first_ns},   {"last_ns", f.last_ns},
    };
    j["ip_ifname"] = f.ip_ifname;
    if (!f.bridge.empty()) j["bridge"] = f.bridge;
    if (f.vlan_id) j["vlan_id"] = f.vlan_id;
    if (f.nat_dst) {  // both tuples: the client's (above) and where a DNAT sent it
        j["dnat_dst"] = f.nat_dst->str();
        j["dnat_dport"] = f.nat_dport;
        if (f.nat_netns) j["dnat_netns"] = f.nat_netns;
    }
    if (f.rule) j["rule"] = rule_json(*f.rule);
    return j;
}

namespace {
// A systemd unit; socket fields only for socket units, job fields only while it has a job.
nlohmann::json unit_json(const SystemdUnit& u) {
    nlohmann::json journal = nlohmann::json::array();
    for (const auto& line : u.journal)
        journal.push_back({{"ts", format_time(line.ts_ns)}, {"ts_ns", line.ts_ns}, {"unit", line.unit},
                           {"priority", line.priority}, {"message", line.message}});
    nlohmann::json j = {{"name", u.name},
                        {"id", u.id},
                        {"aliases", u.aliases},
                        {"load_state", u.load_state},
                        {"active_state", u.active_state},
                        {"sub_state", u.sub_state},
                        {"unit_file_state", u.unit_file_state},
                        {"result", u.result},
                        {"main_pid", u.main_pid},
                        {"fragment_path", u.fragment_path},
                        {"drop_ins", u.drop_ins},
                        {"triggers", u.triggers},
                        {"triggered_by", u.triggered_by},
                        {"journal", journal}};
    if (u.id.ends_with(".socket") || u.name.ends_with(".socket")) {
        j["listen"] = u.listen;
        j["accept"] = u.accept;
        j["n_accepted"] = u.n_accepted;
        j["n_connections"] = u.n_connections;
    }
    if (!u.job_type.empty()) {  // only while systemd holds a job for it (systemctl list-jobs)
        j["job_type"] = u.job_type;
        j["job_state"] = u.job_state;
        j["waiting_for"] = u.waiting_for;
    }
    return j;
}
}  // namespace

nlohmann::json host_json(const HostSnapshot& h) {
    nlohmann::json listeners = nlohmann::json::array();
    for (const auto& l : h.listeners)
        listeners.push_back({{"addr", l.addr.str()}, {"port", l.port}, {"family", family_str(l.addr.family)},
                             {"v6only", l.v6only}, {"backlog", l.backlog}, {"accept_queue", l.accept_queue},
                             {"pid", l.pid}, {"comm", l.comm}, {"exe", l.exe}, {"inode", l.inode},
                             {"cmdline", l.cmdline}, {"unit", l.unit}});
    nlohmann::json addresses = nlohmann::json::array();
    for (const auto& a : h.addresses) addresses.push_back(a.str());
    nlohmann::json sshd = nlohmann::json::array();
    for (const auto& p : h.sshd_processes)
        sshd.push_back({{"pid", p.pid}, {"ppid", p.ppid}, {"exe", p.exe}, {"config", p.config_path},
                        {"listener", p.is_listener}});
    nlohmann::json configs = nlohmann::json::array();
    for (const auto& c : h.sshd_configs)
        configs.push_back({{"path", c.config_path}, {"ok", c.ok}, {"ports", c.ports},
                           {"listen_addresses", c.listen_addresses}, {"address_family", c.address_family},
                           {"error", c.error}, {"checked_with", c.checked_with}});
    nlohmann::json units = nlohmann::json::array();
    for (const auto& u : h.units) units.push_back(unit_json(u));
    nlohmann::json socket_units = nlohmann::json::array();
    for (const auto& u : h.socket_units) socket_units.push_back(unit_json(u));
    nlohmann::json managers = nlohmann::json::array();
    for (const auto& m : h.firewall_managers) managers.push_back({{"name", m.name}, {"pid", m.pid}, {"detail", m.detail}});
    nlohmann::json bans = nlohmann::json::array();
    for (const auto& b : h.bans)
        bans.push_back({{"manager", b.manager}, {"jail", b.jail}, {"addr", b.addr.str()}, {"since_s", b.since_s},
                        {"until_s", b.until_s}});
    nlohmann::json programs = nlohmann::json::array();
    for (const auto& p : h.net_programs)
        programs.push_back({{"ifname", p.ifname}, {"attach", p.attach}, {"prog_id", p.prog_id}, {"prog_name", p.prog_name},
                            {"holder_pid", p.holder_pid}, {"holder_comm", p.holder_comm}});
    nlohmann::json foreign = nlohmann::json::array();
    for (const auto& f : h.other_netns_listeners)
        foreign.push_back({{"netns", f.netns}, {"netns_name", f.netns_name}, {"container", f.container},
                           {"addr", f.listener.addr.str()}, {"port", f.listener.port}, {"pid", f.listener.pid},
                           {"comm", f.listener.comm}});
    return {{"netns", h.netns},
            {"other_netns_listeners", foreign},
            {"netns_name", h.netns_name},
            {"listeners", listeners},
            {"addresses", addresses},
            {"sshd_processes", sshd},
            {"sshd_configs", configs},
            {"systemd_running", h.systemd_running},
            {"units", units},
            {"socket_units", socket_units},
            {"sshd_socket_generator", h.sshd_socket_generator},
            {"os", {{"id", h.os_id}, {"version_id", h.os_version_id}}},
            {"mount_view", h.mount_view},
            {"firewall_managers", managers},
            {"bans", bans},
            {"net_programs", programs},
            {"iptables_legacy", h.iptables_legacy_present},
            {"probe_errors", h.probe_errors}};
}

nlohmann::json report_json(const Diagnosis& d, const ReportContext& ctx) {
    nlohmann::json flows = nlohmann::json::array();
    for (const auto& f : d.flows) flows.push_back(flow_json(f));
    nlohmann::json causes = nlohmann::json::array();
    for (const auto& c : d.causes) {
        nlohmann::json cj = {{"code", c.code},         {"flows", c.flows}, {"summary", c.summary},
                             {"evidence", c.evidence}, {"fix", c.fix}};
        if (c.rule) cj["rule"] = rule_json(*c.rule);
        causes.push_back(cj);
    }
    nlohmann::json caps = nlohmann::json::object();
    for (const auto& [name, ok] : ctx.capabilities) caps[name] = ok;
    nlohmann::json j = {
        {"version", SYNWHY_VERSION},
        {"capture", ctx.capture},
        {"capture_note", ctx.capture_note},
        {"ports", ctx.ports},
        {"capture_seconds", ctx.capture_seconds},
        // The kernel counts forwarded SYNs apart with one watched namespace; with --all-netns it
        // counts them with the namespace's own, and they are told apart here from the snapshots.
        {"syns_seen", std::max<uint64_t>(d.syns_seen, ctx.syns_counted - std::min(ctx.syns_counted, d.syns_forwarded))},
        {"syns_detailed", d.syns_seen},
        {"syns_forwarded", ctx.syns_forwarded_kernel + d.syns_forwarded},
        {"events_lost", ctx.events_lost},
        {"events_rate_limited", ctx.rate_limited},
        {"events_not_kept", ctx.events_not_kept},
        {"kernel_counts", [&] {
             auto a = nlohmann::json::array();
             for (const auto& t : ctx.kernel_totals)
                 a.push_back({{"netns", t.netns}, {"port", t.port}, {"what", t.what}, {"count", t.count}});
             return a;
         }()},
        {"flows", flows},
        {"causes", causes},
        {"host", ctx.hosts.empty() ? nlohmann::json::object() : host_json(ctx.hosts.front())},
        {"kernel_signals", caps},
        {"missing_signals", ctx.missing_signals},
        {"firewall_attribution", ctx.firewall_attribution},
        {"privileges", {{"capabilities_kept", ctx.capabilities_kept}, {"note", ctx.privileges_note}}},
    };
    if (ctx.hosts.size() > 1) {
        nlohmann::json all = nlohmann::json::array();
        for (const auto& h : ctx.hosts) all.push_back(host_json(h));
        j["hosts"] = all;
    }
    return j;
}

std::string json_text(const nlohmann::json& j, int indent) {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace synwhy
