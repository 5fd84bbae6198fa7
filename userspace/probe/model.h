// What `synwhy probe` learned about one SSH destination: plain data shared by the probing code,
// the pure verdict function and the renderers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace synwhy::probe {

// What came back for a SYN.
enum class Answer { syn_ack, rst, icmp, none, local_error };
const char* answer_name(Answer a);  // "syn-ack", "rst", "icmp", "none", "local-error"

// What the server said after the handshake (only meaningful after a SYN-ACK).
enum class Banner { not_read, ssh, not_ssh, closed, silent };

// One TCP handshake attempt to addr:port, as seen by the kernel's error queue and, as root, by a
// packet socket that saw the answer itself.
struct Handshake {
    uint16_t port = 0;
    Answer answer = Answer::none;
    std::string from;                  // the address that answered ("" = unknown / nothing)
    std::optional<int> ttl;            // TTL / hop limit of the answer (root only)
    std::optional<int> icmp_type, icmp_code;
    std::string error;                 // connect's error text ("Connection refused")
    int error_number = 0;              // its errno (EPERM: this machine's own firewall)
    Banner banner = Banner::not_read;
    std::string banner_text;           // first line the server sent (printable, bounded)
    int syns_sent = 0;
    bool syns_counted_on_wire = false;  // counted by the packet socket (else TCP_INFO)
    double seconds = 0;
};

// Where an address came from.
enum class Source { nss, dns_only };

struct AddressProbe {
    std::string addr;                 // numeric, no brackets
    int family = 4;                   // 4 or 6
    Source source = Source::nss;
    Handshake ssh;                    // to the port ssh uses
    std::vector<Handshake> also;      // --also-port answers (only asked when ssh's port did not answer SSH)
    std::optional<Handshake> default_port;  // port 22, asked when ssh's port is not 22 and fails
};

struct PortOrigin {
    std::string how;   // "default", "command line", "ssh config"
    std::string file;  // the config file and line that set it, when found
    int line = 0;
};

// The effective settings of `ssh -G`.
struct SshSettings {
    bool known = false;               // ssh -G ran and was read
    std::string error;                // why not
    std::string user, hostname;
    uint16_t port = 22;
    std::string address_family = "any";  // any, inet, inet6
    std::string proxy_jump, proxy_command;
    PortOrigin port_origin;
};

// The host's own view of the name (NSS: /etc/hosts first on most systems) against DNS.
struct Resolution {
    std::vector<std::string> nss;        // getaddrinfo's answer, in ssh's order
    std::vector<std::string> dns;        // the resolvers' A and AAAA answers ("" when not asked)
    bool dns_asked = false;
    std::string dns_error;
    std::string hosts_file;              // set when /etc/hosts names the host: "/etc/hosts:3"
    std::string error;                   // getaddrinfo's error
};

struct ProbeResult {
    std::string target;                  // what the user typed, as ssh would get it ([user@]HOST)
    std::string host;                    // HOST
    std::string user;                    // from [user@]HOST, "" when not given
    std::string config_file;             // -F FILE given to probe (passed to ssh -G), "" = ssh's own
    std::optional<uint16_t> command_line_port;  // -p PORT or HOST:PORT
    SshSettings ssh;
    Resolution resolution;
    std::vector<AddressProbe> addresses;  // ssh's order, then DNS-only addresses
    size_t addresses_not_probed = 0;     // beyond the bound (max_probed_addresses)
    bool saw_packets = false;            // the packet socket ran (root): TTLs and SYN counts from the wire
    std::string capture_note;            // why it did not ("needs CAP_NET_RAW")
};

// The decision, from ProbeResult alone.
struct AddressVerdict {
    std::string code;     // refused-by-host, refused-in-path, dropped, no-route, wrong-port, reachable
    std::string clause;   // what happens to it, after its endpoint: "is refused by the host itself (TCP RST, TTL 63)"
    std::string summary;  // endpoint + " " + clause
};

// A command to run next, and why (the "why" may name where to run it).
struct NextStep {
    std::string command;
    std::string why;
};

struct Verdict {
    std::string code;                     // the first cause (or reachable)
    std::string summary;                  // the first line
    std::vector<std::string> evidence;
    std::vector<NextStep> next;
    std::vector<AddressVerdict> per_address;  // parallel to ProbeResult::addresses
};

}  // namespace synwhy::probe
