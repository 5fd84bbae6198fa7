#include "probe/verdict.h"

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace synwhy::probe {

const char* answer_name(Answer a) {
    switch (a) {
    case Answer::syn_ack: return "syn-ack";
    case Answer::rst: return "rst";
    case Answer::icmp: return "icmp";
    case Answer::none: return "none";
    case Answer::local_error: return "local-error";
    }
    return "none";
}

std::string endpoint(const std::string& addr, int family, uint16_t port) {
    return family == 6 ? fmt::format("[{}]:{}", addr, port) : fmt::format("{}:{}", addr, port);
}

std::string icmp_name(int family, int type, int code) {
    if (family == 4 && type == 3) {
        switch (code) {
        case 0: return "net unreachable";
        case 1: return "host unreachable";
        case 2: return "protocol unreachable";
        case 3: return "port unreachable";
        case 6: return "net unknown";
        case 7: return "host unknown";
        case 9: return "net prohibited";
        case 10: return "host prohibited";
        case 13: return "admin prohibited";
        }
    }
    if (family == 4 && type == 11) return "time exceeded";
    if (family == 6 && type == 1) {
        switch (code) {
        case 0: return "no route";
        case 1: return "admin prohibited";
        case 3: return "address unreachable";
        case 4: return "port unreachable";
        case 5: return "source address failed policy";
        case 6: return "reject route";
        }
    }
    if (family == 6 && type == 3) return "time exceeded";
    return fmt::format("type {} code {}", type, code);
}

bool icmp_is_unreachable_route(int family, int type, int code) {
    if (family == 4) return type == 3 && (code == 0 || code == 1 || code == 6 || code == 7 || code == 11 || code == 12);
    return type == 1 && (code == 0 || code == 3);
}

namespace {

std::string ttl_text(const std::optional<int>& ttl) { return ttl ? fmt::format(", TTL {}", *ttl) : ""; }

// Hops an answer travelled: senders start at 64 (Linux, BSDs, macOS), 128 (Windows) or 255
// (routers, firewalls), so the distance is what the TTL lost from the next of those.
int hops_of(int ttl) { return (ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255) - ttl; }

// Another answer of the host to compare a RST with: a SYN-ACK on another port (a service of the
// host's own, the strongest), else a RST there (weaker: a box resetting every port sends those
// too). Nothing when no other port answered with a TTL.
std::optional<Handshake> host_reference(const AddressProbe& a) {
    std::vector<Handshake> others = a.also;
    if (a.default_port) others.push_back(*a.default_port);
    for (Answer kind : {Answer::syn_ack, Answer::rst})
        for (const auto& h : others)
            if (h.answer == kind && h.ttl) return h;
    return std::nullopt;
}

AddressVerdict verdict_for(const AddressProbe& a, const std::string& code, const std::string& clause) {
    return {code, clause, endpoint(a.addr, a.family, a.ssh.port) + " " + clause};
}

AddressVerdict classify_syn_ack(const AddressProbe& a) {
    const Handshake& h = a.ssh;
    switch (h.banner) {
    case Banner::ssh: return verdict_for(a, "reachable", fmt::format("answers SSH ({})", h.banner_text));
    case Banner::not_ssh:
        return verdict_for(a, "wrong-port", fmt::format("completes the handshake but is not SSH: it said \"{}\"", h.banner_text));
    case Banner::closed:
        return verdict_for(a, "refused-by-host",
                           "accepts TCP, then closes before the SSH banner (sshd's MaxStartups, tcp wrappers, or not sshd)");
    case Banner::silent:
    case Banner::not_read: break;
    }
    return verdict_for(a, "refused-by-host",
                       "accepts TCP but sends no SSH banner (an overloaded sshd, or a service that is not SSH)");
}

AddressVerdict classify_rst(const AddressProbe& a) {
    const Handshake& h = a.ssh;
    auto ref = host_reference(a);
    // Fewer hops than the host's own answer: something nearer forged it.
    if (h.ttl && ref && hops_of(*h.ttl) < hops_of(*ref->ttl))
        return verdict_for(a, "refused-in-path",
                           fmt::format("is reset by a box in the path: the TCP RST arrives with TTL {} ({} hop{}), the "
                                       "host's own {} on :{} with TTL {} ({} hop{})", *h.ttl, hops_of(*h.ttl),
                                       hops_of(*h.ttl) == 1 ? "" : "s", answer_name(ref->answer), ref->port,
                                       *ref->ttl, hops_of(*ref->ttl), hops_of(*ref->ttl) == 1 ? "" : "s"));
    if (h.ttl && ref && ref->answer == Answer::rst)
        return verdict_for(a, "refused-by-host",
                           fmt::format("is refused with a TCP RST (TTL {}, as its rst on :{}): nothing listens on :{} "
                                       "or a firewall rejects, most likely the host's; a box in the path that resets "
                                       "every port would look the same (traceroute -n -T -p {} tells)",
                                       *h.ttl, ref->port, h.port, h.port));
    if (!h.ttl)
        return verdict_for(a, "refused-by-host",
                           fmt::format("is refused with a TCP RST: nothing listens on :{} or a firewall rejects, most "
                                       "likely the host's (a box in the path can forge it: the TTL tells, as root)",
                                       h.port));
    std::string why = ref && h.ttl ? fmt::format("TCP RST, TTL {} like its {} on :{}", *h.ttl, answer_name(ref->answer), ref->port)
                                   : fmt::format("TCP RST{}", ttl_text(h.ttl));
    return verdict_for(a, "refused-by-host",
                       fmt::format("is refused by the host itself: nothing listens on :{} or its firewall rejects ({})",
                                   h.port, why));
}

AddressVerdict classify_icmp(const AddressProbe& a) {
    const Handshake& h = a.ssh;
    std::string what = h.icmp_type ? icmp_name(a.family, *h.icmp_type, h.icmp_code.value_or(0)) : "an error";
    std::string sender = h.from.empty() ? "an unknown sender" : h.from;
    bool from_host = h.from == a.addr;
    // The host itself answers first: its firewall may reject with any unreachable code.
    if (!from_host && h.icmp_type && icmp_is_unreachable_route(a.family, *h.icmp_type, h.icmp_code.value_or(0))) {
        const int code = h.icmp_code.value_or(0);
        const bool host_unreachable = a.family == 4 ? (code == 1 || code == 7) : code == 3;
        if (host_unreachable)
            return verdict_for(a, "no-route",
                               fmt::format("is unreachable: {} answers ICMP {}: the last router before it cannot "
                                           "reach it (the host is down, or nobody holds the address)", sender, what));
        return verdict_for(a, "no-route",
                           fmt::format("is unreachable: {} (a router on the way) answers ICMP {}: no route on from "
                                       "there", sender, what));
    }
    if (from_host)
        return verdict_for(a, "refused-by-host",
                           fmt::format("is refused by the host itself: it answers ICMP {} (its firewall rejects, or "
                                       "nothing listens)", what));
    return verdict_for(a, "refused-in-path",
                       fmt::format("is refused in the path: {}, not the host, answers ICMP {} (a router or firewall "
                                   "rejects)", sender, what));
}

}  // namespace

AddressVerdict classify_address(const AddressProbe& a) {
    const Handshake& h = a.ssh;
    switch (h.answer) {
    case Answer::syn_ack: return classify_syn_ack(a);
    case Answer::rst: return classify_rst(a);
    case Answer::icmp: return classify_icmp(a);
    case Answer::local_error:
        // EPERM/EACCES from connect(): an output rule of this machine's own firewall rejects it.
        if (h.error_number == EPERM || h.error_number == EACCES)
            return verdict_for(a, "refused-in-path",
                               "is refused by this machine's own firewall (connect: " + h.error + ")");
        return verdict_for(a, "no-route", "cannot be reached from this machine: " + h.error);
    case Answer::none: break;
    }
    std::string sent = fmt::format("{} SYN{} in {:.1f} s", h.syns_sent, h.syns_sent == 1 ? "" : "s", h.seconds);
    return verdict_for(a, "dropped", fmt::format("does not answer ({}, no RST, no ICMP): a firewall drops the SYNs", sent));
}

}  // namespace synwhy::probe

namespace synwhy::probe {

namespace {

const char* record_type(int family) { return family == 6 ? "AAAA" : "A"; }

// How the user would run ssh with `options` added: "ssh -4 -F FILE -p 2222 user@HOST". A port
// given here replaces the user's own -p; dest replaces HOST.
std::string ssh_command(const ProbeResult& r, const std::string& options = "", std::optional<uint16_t> port = {},
                        const std::string& dest = "") {
    std::string cmd = "ssh";
    if (!options.empty()) cmd += " " + options;
    if (!r.config_file.empty()) cmd += " -F " + r.config_file;
    if (!port) port = r.command_line_port;
    if (port) cmd += " -p " + std::to_string(*port);
    std::string host = dest.empty() ? r.host : dest;
    return cmd + " " + (r.user.empty() ? host : r.user + "@" + host);
}

// This probe again, with the user's -F and port: "synwhy probe -F FILE -p 2222 user@HOST".
std::string probe_command(const ProbeResult& r, const std::string& prefix = "") {
    std::string cmd = prefix + "synwhy probe";
    if (!r.config_file.empty()) cmd += " -F " + r.config_file;
    if (r.command_line_port) cmd += " -p " + std::to_string(*r.command_line_port);
    return cmd + " " + r.target;
}

// The address ssh connects to when it works: the first reachable one, or none.
const AddressProbe* first_reachable(const ProbeResult& r, const std::vector<AddressVerdict>& per) {
    for (size_t i = 0; i < r.addresses.size(); i++)
        if (per[i].code == "reachable") return &r.addresses[i];
    return nullptr;
}

void next_for_refused_by_host(const ProbeResult& r, const AddressProbe& a, Verdict& v) {
    v.next.push_back({fmt::format("synwhy report --port {}", a.ssh.port),
                      fmt::format("on {}'s console (ssh cannot reach it): why the host refuses :{}", r.host, a.ssh.port)});
    if (a.ssh.answer == Answer::rst && !a.ssh.ttl)
        v.next.push_back({probe_command(r, "sudo "), "the RST's TTL tells the host from a box in the path that forges it"});
    if (a.ssh.answer == Answer::syn_ack)
        v.next.push_back({"sshd -T | grep -i maxstartups",
                          "on the server: a full sshd closes new connections before the banner; so do "
                          "/etc/hosts.deny rules"});
}

void next_for_refused_in_path(const ProbeResult& r, const AddressProbe& a, Verdict& v) {
    if (a.ssh.answer == Answer::local_error) {
        v.next.push_back({"nft list ruleset", fmt::format("this machine's own rules: an output chain that rejects "
                                                          "{} port {}", a.addr, a.ssh.port)});
        return;
    }
    v.next.push_back({fmt::format("traceroute -n -T -p {} {}", a.ssh.port, a.addr),
                      "as root: the last hop that answers is the box that refuses, or next to it"});
    v.next.push_back({probe_command(r),
                      fmt::format("from another network (a phone hotspot): if it answers there, this network "
                                  "blocks :{}", a.ssh.port)});
}

void next_for_dropped(const ProbeResult& r, const AddressProbe& a, Verdict& v) {
    v.next.push_back({fmt::format("synwhy report --port {}", a.ssh.port),
                      fmt::format("on {}'s console: SYNs that arrive and are dropped are the host's firewall; "
                                  "none arriving means a firewall before it (a cloud security group, this network)",
                                  r.host)});
    v.next.push_back({probe_command(r),
                      "from another network (a phone hotspot): if it answers there, this network drops it"});
}

void next_for_no_route(const AddressProbe& a, Verdict& v) {
    const int code = a.ssh.icmp_code.value_or(-1);
    const bool host_unreachable =
        a.ssh.answer == Answer::icmp && (a.family == 4 ? (code == 1 || code == 7) : code == 3);
    if (host_unreachable)
        v.next.push_back({"ping -c 3 " + a.addr, "from the host's own network or console: whether it is up and holds "
                                                  "this address"});
    else if (a.ssh.answer == Answer::local_error)
        v.next.push_back({"ip route get " + a.addr, "this machine's route to the host"});
    else
        v.next.push_back({"traceroute -n " + a.addr, "where the path ends: the router that answered has no route on"});
}

void add_next(const ProbeResult& r, const AddressProbe& a, const std::string& code, Verdict& v) {
    if (code == "refused-by-host") next_for_refused_by_host(r, a, v);
    else if (code == "refused-in-path") next_for_refused_in_path(r, a, v);
    else if (code == "dropped") next_for_dropped(r, a, v);
    else if (code == "no-route") next_for_no_route(a, v);
    else if (code == "wrong-port")
        v.next.push_back({fmt::format("synwhy report --port {}", a.ssh.port),
                          fmt::format("on {}'s console: what listens on :{} and where sshd listens", r.host, a.ssh.port)});
}

// What the other ports said: the host is up, or nothing answers at all.
void add_also_port_evidence(const AddressProbe& a, Verdict& v) {
    for (const auto& h : a.also) {
        if (h.answer == Answer::syn_ack || h.answer == Answer::rst)
            v.evidence.push_back(fmt::format("{} answers :{} ({}{}): the host is up", a.addr, h.port,
                                             answer_name(h.answer), h.ttl ? fmt::format(", TTL {}", *h.ttl) : ""));
        else if (h.answer == Answer::icmp && h.icmp_type)
            v.evidence.push_back(fmt::format("{} gets ICMP {} from {} on :{} too", a.addr,
                                             icmp_name(a.family, *h.icmp_type, h.icmp_code.value_or(0)),
                                             h.from.empty() ? "?" : h.from, h.port));
        else
            v.evidence.push_back(fmt::format("{} does not answer :{} either", a.addr, h.port));
    }
}

// "198.51.100.66 answers rst", "nothing answers": for a sentence about a port.
std::string short_answer(const AddressProbe& a) {
    const Handshake& h = a.ssh;
    if (h.answer == Answer::none) return fmt::format("nothing answers ({} SYN{})", h.syns_sent, h.syns_sent == 1 ? "" : "s");
    if (h.answer == Answer::icmp && h.icmp_type)
        return fmt::format("{} answers ICMP {}", h.from.empty() ? "?" : h.from, icmp_name(a.family, *h.icmp_type, h.icmp_code.value_or(0)));
    if (h.answer == Answer::rst) return a.addr + " answers with a TCP RST";
    if (h.answer == Answer::local_error) return "this machine cannot send: " + h.error;
    return a.addr + " completes the handshake but sends no SSH banner";
}

// ssh's config sends it to a port that fails while SSH answers on 22.
bool decide_wrong_port(const ProbeResult& r, const std::vector<AddressVerdict>& per, Verdict& v) {
    if (r.addresses.empty() || r.ssh.port == 22) return false;
    const AddressProbe& a = r.addresses.front();
    if (per.front().code == "reachable" || !a.default_port || a.default_port->answer != Answer::syn_ack ||
        a.default_port->banner != Banner::ssh)
        return false;
    const PortOrigin& o = r.ssh.port_origin;
    std::string origin = !o.file.empty() ? fmt::format("set in {} line {}", o.file, o.line)
                         : o.how.empty()  ? "from ssh's config"
                                          : "from the " + o.how;
    v.code = "wrong-port";
    v.summary = fmt::format("ssh goes to {} port {} ({}), where {}; SSH answers on port 22", r.host,
                            r.ssh.port, origin, short_answer(a));
    v.evidence.push_back(fmt::format("{} answers SSH ({})", endpoint(a.addr, a.family, 22), a.default_port->banner_text));
    v.next.push_back({ssh_command(r, "", uint16_t(22)), "connect to the port SSH answers on"});
    if (!o.file.empty())
        v.next.push_back({fmt::format("sed -n '{}p' {}", o.line, o.file),
                          fmt::format("the line that sets Port {}: change it to 22, or remove it", r.ssh.port)});
    return true;
}

std::string address_label(const AddressProbe& a, const ProbeResult& r) {
    if (a.source == Source::dns_only) return fmt::format("{} (DNS's {})", a.addr, record_type(a.family));
    bool hosts = !r.resolution.hosts_file.empty();
    return fmt::format("{} ({}{})", a.addr, hosts ? "from " + r.resolution.hosts_file + ", " : "", record_type(a.family));
}

// This machine's resolver gives nothing while DNS answers: ssh says "Could not resolve hostname",
// whatever the addresses would answer.
bool decide_unresolved_here(const ProbeResult& r, Verdict& v) {
    if (std::any_of(r.addresses.begin(), r.addresses.end(), [](const AddressProbe& a) { return a.source == Source::nss; }))
        return false;
    const std::string& name = r.ssh.hostname.empty() ? r.host : r.ssh.hostname;
    std::vector<std::string> dns;
    for (const auto& a : r.addresses) dns.push_back(a.addr);
    v.code = "wrong-address";
    v.summary = fmt::format("{} does not resolve on this machine{}, while DNS says {}: ssh fails with \"Could not "
                            "resolve hostname\"", name,
                            r.resolution.error.empty() ? "" : " (" + r.resolution.error + ")", fmt::join(dns, ", "));
    v.next.push_back({"getent ahosts " + name, "this machine's resolver (NSS): check the hosts line of "
                                               "/etc/nsswitch.conf and /etc/resolv.conf"});
    return true;
}

// Some addresses answer SSH, others do not: the name (or this host's view of it) is wrong.
bool decide_wrong_address(const ProbeResult& r, const std::vector<AddressVerdict>& per, Verdict& v) {
    const AddressProbe* good = first_reachable(r, per);
    if (!good) return false;
    size_t bad = r.addresses.size();
    for (size_t i = 0; i < r.addresses.size() && bad == r.addresses.size(); i++)
        if (per[i].code != "reachable") bad = i;
    if (bad == r.addresses.size()) return false;
    const AddressProbe& b = r.addresses[bad];
    v.code = "wrong-address";
    v.per_address = per;
    // The alias keeps its Port, User and IdentityFile: only the address changes.
    std::string direct = ssh_command(r, "-o HostName=" + good->addr);
    if (good->source == Source::dns_only) {
        v.summary = fmt::format("{} resolves here to {}, and {}; DNS says {}, which answers SSH", r.host,
                                address_label(b, r), per[bad].summary, good->addr);
        v.next.push_back({direct, "the address DNS gives"});
        if (!r.resolution.hosts_file.empty())
            v.next.push_back({fmt::format("sed -n '{}p' {}", r.resolution.hosts_file.substr(r.resolution.hosts_file.rfind(':') + 1),
                                          r.resolution.hosts_file.substr(0, r.resolution.hosts_file.rfind(':'))),
                              "the /etc/hosts line that overrides DNS: fix or remove it"});
        else
            v.next.push_back({"getent ahosts " + r.host, "this host's resolver (NSS) differs from DNS: check nsswitch.conf"});
        return true;
    }
    bool bad_first = bad < size_t(good - r.addresses.data());
    if (bad_first)
        v.summary = fmt::format("ssh tries {} first: it {}; then {} ({}), which answers SSH", address_label(b, r),
                                per[bad].clause, good->addr, record_type(good->family));
    else
        v.summary = fmt::format("ssh connects to {} first and it answers SSH, but {} {}: clients that try it "
                                "first fail", good->addr, address_label(b, r), per[bad].clause);
    if (bad_first)
        v.evidence.push_back(b.ssh.answer == Answer::none
                                 ? "ssh waits on a silent address until its ConnectTimeout (none set: about 2 minutes "
                                   "of SYN retries) before it tries the next"
                                 : "ssh moves on to the next address at once after a refusal: connections work, "
                                   "but ssh -v shows the failed attempt first");
    if (good->family != b.family)
        v.next.push_back({ssh_command(r, good->family == 4 ? "-4" : "-6"),
                          fmt::format("only the {} addresses", good->family == 4 ? "IPv4" : "IPv6")});
    v.next.push_back({fmt::format("dig +short {} {}", record_type(b.family), r.host),
                      fmt::format("the {} record {}: fix it in DNS, or remove it", record_type(b.family), b.addr)});
    return true;
}

}  // namespace

Verdict decide(const ProbeResult& r) {
    Verdict v;
    std::vector<AddressVerdict> per;
    for (const auto& a : r.addresses) per.push_back(classify_address(a));
    v.per_address = per;
    if (!r.ssh.proxy_jump.empty() || !r.ssh.proxy_command.empty())
        v.evidence.push_back(fmt::format("ssh connects through {} {}, not directly: this probe tried the direct path",
                                         r.ssh.proxy_jump.empty() ? "ProxyCommand" : "ProxyJump",
                                         r.ssh.proxy_jump.empty() ? r.ssh.proxy_command : r.ssh.proxy_jump));
    if (r.addresses_not_probed)
        v.evidence.push_back(fmt::format("{} more address{} of {} not probed (at most {} are)", r.addresses_not_probed,
                                         r.addresses_not_probed == 1 ? "" : "es", r.ssh.hostname.empty() ? r.host : r.ssh.hostname,
                                         r.addresses.size()));
    if (r.addresses.empty()) return v;
    if (decide_unresolved_here(r, v) || decide_wrong_port(r, per, v) || decide_wrong_address(r, per, v)) {
    } else if (per.front().code == "reachable") {
        v.code = "reachable";
        v.summary = fmt::format("{} port {} is reachable: {}; if ssh still fails, it fails after TCP", r.host,
                                r.ssh.port, per.front().summary);
        v.next.push_back({ssh_command(r, "-v"), "what ssh does after TCP: keys, authentication, host key"});
    } else {
        v.code = per.front().code;
        v.summary = per.front().summary;
        add_next(r, r.addresses.front(), v.code, v);
    }
    for (size_t i = 0; i < r.addresses.size(); i++) add_also_port_evidence(r.addresses[i], v);
    // ssh does not take the direct path probed here: say so first, and the first hop first.
    if (!r.ssh.proxy_jump.empty() || !r.ssh.proxy_command.empty()) {
        v.summary = fmt::format("ssh goes through {} (this probe tried the direct path): {}",
                                r.ssh.proxy_jump.empty() ? "a ProxyCommand" : "ProxyJump " + r.ssh.proxy_jump, v.summary);
        if (!r.ssh.proxy_jump.empty())
            v.next.insert(v.next.begin(), {"synwhy probe " + r.ssh.proxy_jump.substr(0, r.ssh.proxy_jump.find(',')),
                                           "ssh's first hop (ProxyJump): the path ssh takes"});
    }
    return v;
}

}  // namespace synwhy::probe
