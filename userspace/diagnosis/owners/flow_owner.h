// Who a flow's fate belongs to, in one word an operator can filter on (the journal's SYNWHY_OWNER):
// the manager of the rule that stopped it (ufw, fail2ban, firewalld, ...), else whatever holds or
// should hold the port (sshd, ssh.socket, docker-proxy, ...). The tables it asks are the owners'.
#pragma once

#include <string>

#include "diagnosis/model.h"

namespace synwhy {

// "" when nothing is known to own it (a rule of the administrator's own, an unknown holder).
std::string flow_owner(const Flow& flow, const HostSnapshot* host);

}  // namespace synwhy
