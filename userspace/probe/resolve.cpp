#include "probe/resolve.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

#include <strings.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace synwhy::probe {

int family_of_address_family(const std::string& address_family) {
    return address_family == "inet" ? 4 : address_family == "inet6" ? 6 : 0;
}

int numeric_family(const std::string& addr) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, addr.c_str(), buf) == 1) return 4;
    if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) return 6;
    return 0;
}

namespace {

// Skips a (maybe compressed) name at pos; false when it runs past the end.
bool skip_name(const std::vector<uint8_t>& m, size_t& pos) {
    while (pos < m.size()) {
        uint8_t len = m[pos];
        if ((len & 0xc0) == 0xc0) {
            pos += 2;
            return pos <= m.size();
        }
        pos += 1 + len;
        if (len == 0) return pos <= m.size();
    }
    return false;
}

uint16_t read16(const std::vector<uint8_t>& m, size_t pos) { return uint16_t(m[pos] << 8 | m[pos + 1]); }

// systemd-resolved's stub (127.0.0.53) answers from /etc/hosts too (ReadEtcHosts=yes): DNS's
// own answer comes from the servers behind it, which it lists in /run/systemd/resolve/resolv.conf
// (IPv4 ones: the resolver state holds those directly).
void use_upstream_of_stub(struct __res_state& state) {
    bool stub = false;
    for (int i = 0; i < state.nscount; i++)
        if (state.nsaddr_list[i].sin_family == AF_INET && state.nsaddr_list[i].sin_addr.s_addr == htonl(0x7f000035))
            stub = true;
    if (!stub) return;
    std::ifstream in("/run/systemd/resolve/resolv.conf");
    std::string line;
    int n = 0;
    while (n < MAXNS && std::getline(in, line)) {
        std::istringstream words(line);
        std::string key, addr;
        sockaddr_in sa{};
        if (!(words >> key >> addr) || key != "nameserver" || inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1)
            continue;
        sa.sin_family = AF_INET;
        sa.sin_port = htons(53);
        state.nsaddr_list[n++] = sa;
    }
    if (n > 0) state.nscount = n;
}

std::vector<std::string> query_dns(const std::string& host, std::string& error) {
    std::vector<std::string> out;
    struct __res_state state {};
    if (res_ninit(&state) != 0) {
        error = "cannot read /etc/resolv.conf";
        return out;
    }
    state.retrans = 2;  // seconds per try: bounded, the probe itself is what takes time
    state.retry = 1;
    use_upstream_of_stub(state);
    for (int type : {ns_t_a, ns_t_aaaa}) {
        std::vector<uint8_t> answer(4096);
        int n = res_nquery(&state, host.c_str(), ns_c_in, type, answer.data(), int(answer.size()));
        if (n < 0) {
            if (state.res_h_errno == TRY_AGAIN || state.res_h_errno == NO_RECOVERY) error = "no answer from the resolvers";
            continue;
        }
        answer.resize(size_t(n));
        for (auto& a : parse_dns_answer(answer)) out.push_back(a);
    }
    res_nclose(&state);
    return out;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

std::vector<std::string> parse_dns_answer(const std::vector<uint8_t>& m) {
    std::vector<std::string> out;
    if (m.size() < 12) return out;
    uint16_t questions = read16(m, 4), answers = read16(m, 6);
    size_t pos = 12;
    for (int q = 0; q < questions; q++) {
        if (!skip_name(m, pos) || pos + 4 > m.size()) return out;
        pos += 4;
    }
    for (int a = 0; a < answers; a++) {
        if (!skip_name(m, pos) || pos + 10 > m.size()) return out;
        uint16_t type = read16(m, pos), klass = read16(m, pos + 2), length = read16(m, pos + 8);
        pos += 10;
        if (pos + length > m.size()) return out;
        char text[INET6_ADDRSTRLEN];
        if (klass == ns_c_in && type == ns_t_a && length == 4 && inet_ntop(AF_INET, &m[pos], text, sizeof text))
            out.emplace_back(text);
        else if (klass == ns_c_in && type == ns_t_aaaa && length == 16 && inet_ntop(AF_INET6, &m[pos], text, sizeof text))
            out.emplace_back(text);
        pos += length;
    }
    return out;
}

std::optional<std::pair<int, std::string>> find_hosts_line(const std::string& hosts_text, const std::string& host) {
    std::istringstream in(hosts_text);
    std::string line;
    for (int number = 1; std::getline(in, line); number++) {
        line = line.substr(0, line.find('#'));
        std::istringstream words(line);
        std::string addr, name;
        if (!(words >> addr)) continue;
        while (words >> name)
            if (strcasecmp(name.c_str(), host.c_str()) == 0) return std::pair{number, addr};
    }
    return std::nullopt;
}

Resolution resolve(const std::string& hostname, const std::string& address_family) {
    Resolution r;
    addrinfo hints{};
    int family = family_of_address_family(address_family);
    hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;  // as ssh: no AI_ADDRCONFIG, getaddrinfo's (RFC 6724) order
    addrinfo* list = nullptr;
    int rc = getaddrinfo(hostname.c_str(), nullptr, &hints, &list);
    if (rc != 0) r.error = gai_strerror(rc);
    for (addrinfo* ai = list; ai; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = "";
        int af = ai->ai_family;
        const void* a = af == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
                                      : &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr;
        // ::ffff:a.b.c.d is an IPv4 host: probed as one (its ICMP errors come as IPv4's).
        if (af == AF_INET6 && IN6_IS_ADDR_V4MAPPED(static_cast<const in6_addr*>(a))) {
            af = AF_INET;
            a = static_cast<const uint8_t*>(a) + 12;
        }
        if (inet_ntop(af, a, text, sizeof text) &&
            std::find(r.nss.begin(), r.nss.end(), text) == r.nss.end())
            r.nss.emplace_back(text);
    }
    if (list) freeaddrinfo(list);
    if (numeric_family(hostname) != 0) return r;  // a literal address: nothing to look up
    if (auto line = find_hosts_line(read_text("/etc/hosts"), hostname))
        r.hosts_file = "/etc/hosts:" + std::to_string(line->first);
    r.dns_asked = true;
    for (auto& a : query_dns(hostname, r.dns_error))
        if ((family == 0 || numeric_family(a) == family) && std::find(r.dns.begin(), r.dns.end(), a) == r.dns.end())
            r.dns.push_back(a);
    return r;
}

}  // namespace synwhy::probe
