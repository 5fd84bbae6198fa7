// `synwhy probe`'s gathering: ssh's settings, the addresses in ssh's order (and DNS's, when the
// host's own resolver differs), one bounded handshake per address, more ports only where needed.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "probe/model.h"

namespace synwhy::probe {

struct ProbeRequest {
    std::string user, host;                 // from [user@]HOST
    std::optional<uint16_t> port;           // -p or HOST:PORT
    std::string config_file;                // -F
    int family = 0;                         // -4 / -6; 0 = as ssh's AddressFamily
    std::chrono::milliseconds timeout{5000};
    std::vector<uint16_t> also_ports{443, 80};
};

ProbeResult gather(const ProbeRequest& q);

}  // namespace synwhy::probe
