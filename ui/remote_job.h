// Attaching the GUI to a `layerlens-cli serve` server: where to connect (RemoteTarget, what
// File > Connect to server asks for) and the factory of the remote AnalysisSource. Without gRPC
// the factory says so (the build has no client).
#pragma once

#include "ui/analysis_source.h"
#include "ui/view_state.h"

#include <QString>
#include <QStringList>

#include <memory>

namespace ll::ui {

struct RemoteTarget {
  QString host = QStringLiteral("127.0.0.1");
  int port = 7433;
  QString tokenFile;  // shared secret file ("" = none)
  QString caFile;     // TLS: the CA that signed the server's certificate ("" = plain)
  QString model;      // path on the server, relative to its --models folder
  // HOST:PORT, an IPv6 host in brackets.
  QString address() const {
    return (host.contains(QLatin1Char(':')) ? QStringLiteral("[%1]:%2") : QStringLiteral("%1:%2"))
        .arg(host)
        .arg(port);
  }
  bool operator==(const RemoteTarget&) const = default;
};

// Whether this build has the remote client (gRPC).
bool remoteClientBuilt();

// Connects, opens target.model on the server and returns the source with its ModelInfo in *info;
// throws std::runtime_error with a message naming the server on failure (unreadable token or CA
// file, no server, refused token, unknown model).
// What the window names while it connects and when it fails: "MODEL on HOST:PORT".
inline QString remoteLabel(const RemoteTarget& t) {
  return QStringLiteral("%1 on %2").arg(t.model, t.address());
}
std::unique_ptr<AnalysisSource> connectRemote(const RemoteTarget& target, ModelInfo* info);

// The models a server may open (its ListModels: .gguf files and safetensors folders under its
// --models folder), as the choosers show them.
struct ServerModels {
  QStringList paths;    // relative to the server's --models folder
  QStringList details;  // per path: "gguf, 1.2 MB" / "safetensors (llama), 1.0 MB"
  bool truncated = false;
};
// Asks target's server (host, port, token and CA; target.model is not read) with a deadline of
// deadlineMs; blocks, so the UI thread calls it through listServerModels (server_models.h).
// Throws std::runtime_error naming the server (no answer, refused token, no gRPC in this build).
ServerModels fetchServerModels(const RemoteTarget& target, int deadlineMs);

}  // namespace ll::ui
