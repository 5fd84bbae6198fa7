#include "probe/render.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "probe/verdict.h"

namespace synwhy::probe {

namespace {

using nlohmann::json;

json or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
json or_null(const std::optional<int>& i) { return i ? json(*i) : json(nullptr); }

const char* banner_kind(Banner b) {
    switch (b) {
    case Banner::ssh: return "ssh";
    case Banner::not_ssh: return "not-ssh";
    case Banner::closed: return "closed-before-banner";
    case Banner::silent: return "silent";
    case Banner::not_read: break;
    }
    return nullptr;
}

json handshake_json(const Handshake& h, int family) {
    json j = {{"port", h.port}, {"answer", answer_name(h.answer)}, {"from", or_null(h.from)}, {"ttl", or_null(h.ttl)},
              {"icmp_type", or_null(h.icmp_type)}, {"icmp_code", or_null(h.icmp_code)},
              {"icmp", h.icmp_type ? json(icmp_name(family, *h.icmp_type, h.icmp_code.value_or(0))) : json(nullptr)},
              {"error", or_null(h.error)}, {"syns_sent", h.syns_sent},
              {"syns_counted", h.syns_counted_on_wire ? "wire" : "tcp_info"}, {"seconds", h.seconds}};
    const char* kind = h.answer == Answer::syn_ack ? banner_kind(h.banner) : nullptr;
    j["banner_kind"] = kind ? json(kind) : json(nullptr);
    j["banner"] = h.banner == Banner::ssh || h.banner == Banner::not_ssh ? json(h.banner_text) : json(nullptr);
    return j;
}

json address_json(const AddressProbe& a, const AddressVerdict& v) {
    json j = handshake_json(a.ssh, a.family);
    j["addr"] = a.addr;
    j["family"] = a.family == 6 ? "ipv6" : "ipv4";
    j["source"] = a.source == Source::dns_only ? "dns" : "resolver";
    j["verdict"] = v.code;
    j["summary"] = v.summary;
    j["also_ports"] = json::array();
    for (const auto& h : a.also) j["also_ports"].push_back(handshake_json(h, a.family));
    j["port_22"] = a.default_port ? handshake_json(*a.default_port, a.family) : json(nullptr);
    return j;
}

json ssh_config_json(const ProbeResult& r) {
    const SshSettings& s = r.ssh;
    std::string file = s.port_origin.file.empty() ? "" : fmt::format("{}:{}", s.port_origin.file, s.port_origin.line);
    return {{"hostname", s.hostname}, {"port", s.port}, {"port_from", s.port_origin.how}, {"port_file", or_null(file)},
            {"address_family", s.address_family}, {"proxy_jump", or_null(s.proxy_jump)},
            {"proxy_command", or_null(s.proxy_command)}, {"read", s.known}, {"error", or_null(s.error)}};
}

std::string handshake_text(const Handshake& h, int family) {
    std::string out = answer_name(h.answer);
    if (h.answer == Answer::icmp && h.icmp_type) out += " " + icmp_name(family, *h.icmp_type, h.icmp_code.value_or(0));
    if (!h.from.empty() && h.answer != Answer::none) out += " from " + h.from;
    if (h.ttl) out += fmt::format(", TTL {}", *h.ttl);
    if (h.answer == Answer::local_error) out += ": " + h.error;
    if (h.answer == Answer::syn_ack && h.banner != Banner::not_read)
        out += h.banner_text.empty() ? fmt::format(", {}", banner_kind(h.banner)) : ", \"" + h.banner_text + "\"";
    return out + fmt::format(", {} SYN{} in {:.1f} s", h.syns_sent, h.syns_sent == 1 ? "" : "s", h.seconds);
}

std::string ssh_settings_text(const ProbeResult& r) {
    const SshSettings& s = r.ssh;
    if (!s.known) return fmt::format("ssh -G {}: not read ({}): using port {}\n", r.host, s.error, s.port);
    std::string origin = !s.port_origin.file.empty() ? fmt::format("{} line {}", s.port_origin.file, s.port_origin.line)
                                                     : s.port_origin.how;
    std::string out = fmt::format("ssh -G {}: hostname {}, port {} ({}), addressfamily {}", r.host, s.hostname, s.port,
                                  origin, s.address_family);
    if (!s.proxy_jump.empty()) out += ", proxyjump " + s.proxy_jump;
    if (!s.proxy_command.empty()) out += ", proxycommand " + s.proxy_command;
    return out + "\n";
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::string resolution_text(const ProbeResult& r) {
    const Resolution& res = r.resolution;
    std::string out = fmt::format("{} resolves to {}", r.ssh.hostname.empty() ? r.host : r.ssh.hostname,
                                  res.nss.empty() ? "nothing (" + res.error + ")" : join(res.nss));
    if (!res.hosts_file.empty()) out += " (" + res.hosts_file + ")";
    auto sorted = [](std::vector<std::string> v) {
        std::sort(v.begin(), v.end());
        return v;
    };
    if (res.dns_asked && sorted(res.dns) != sorted(res.nss))  // DNS's order is not ssh's: sets
        out += "; DNS says " + (res.dns.empty() ? "nothing" + (res.dns_error.empty() ? "" : " (" + res.dns_error + ")")
                                                : join(res.dns));
    return out + "\n";
}

}  // namespace

std::string render_json(const ProbeResult& r, const Verdict& v) {
    json j = {{"verdict", v.code}, {"summary", v.summary}, {"host", r.host}, {"port", r.ssh.port},
              {"ssh_config", ssh_config_json(r)}};
    j["resolution"] = {{"resolver", r.resolution.nss}, {"dns", r.resolution.dns_asked ? json(r.resolution.dns) : json(nullptr)},
                       {"hosts_file", or_null(r.resolution.hosts_file)}, {"dns_error", or_null(r.resolution.dns_error)}};
    j["addresses"] = json::array();
    for (size_t i = 0; i < r.addresses.size(); i++) j["addresses"].push_back(address_json(r.addresses[i], v.per_address[i]));
    j["evidence"] = v.evidence;
    j["next"] = json::array();
    j["next_why"] = json::array();
    for (const auto& n : v.next) {
        j["next"].push_back(n.command);
        j["next_why"].push_back(n.why);
    }
    j["packets_seen"] = r.saw_packets;
    j["capture_note"] = or_null(r.capture_note);
    // A host name, a ProxyCommand or an error text that is not UTF-8 must not abort the dump.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string render_text(const ProbeResult& r, const Verdict& v) {
    std::string out = v.code + ": " + v.summary + "\n\n";
    out += ssh_settings_text(r) + resolution_text(r);
    out += "\naddresses, in ssh's order:\n";
    for (size_t i = 0; i < r.addresses.size(); i++) {
        const AddressProbe& a = r.addresses[i];
        out += fmt::format("  {}  {}  {}{}\n", endpoint(a.addr, a.family, a.ssh.port), v.per_address[i].code,
                           handshake_text(a.ssh, a.family), a.source == Source::dns_only ? "  (DNS only)" : "");
        for (const auto& h : a.also) out += fmt::format("      :{}  {}\n", h.port, handshake_text(h, a.family));
        if (a.default_port) out += fmt::format("      :22  {}\n", handshake_text(*a.default_port, a.family));
    }
    if (!v.evidence.empty()) out += "\n";
    for (const auto& e : v.evidence) out += "  - " + e + "\n";
    if (!v.next.empty()) out += "\nnext:\n";
    for (const auto& n : v.next) out += "  " + n.command + "\n      # " + n.why + "\n";
    if (!r.capture_note.empty()) out += "\n(" + r.capture_note + ")\n";
    return out;
}

}  // namespace synwhy::probe
