// The mapping between a session document (runtime/api/session_file.h) and the window's ViewState:
// what Save session writes from the panels and what Open session / a demo preset gives back to
// them.
#pragma once

#include "runtime/api/session_file.h"
#include "ui/view_state.h"

#include <optional>
#include <string>

namespace ll::ui {

// "GemFilter", "gemfilter", "snapkv", "SnapKV", "h2o", "promptdistill" ... (nullopt: unknown).
std::optional<SelectMethod> parseSelectMethod(const std::string& name);

// Router edits and knockout go to interventions; selection settings to view.method / view.k and
// view.extra["selection.*"]; steering to view.extra["steering.*"] (a Saved vector also to
// interventions.steering); the token, the chat-template switch and the logit-lens grid's settings
// (view.extra["lens.*"]) to view.extra. server: "HOST:PORT" of a remote session ("" local): its
// teacher is a path on that server, written as view.extra["teacher.server_model"] with the server
// in "teacher.server", never as "teacher.model" (a file here), which the reverse alone reads, so
// restoring the file never opens a server path as a local file.
rt::SessionState sessionFromViewState(const ViewState& state, const std::string& modelPath,
                                      const std::string& server = {});
// The reverse. Values in view.extra that do not parse keep the ViewState defaults; a session with
// interventions.steering but no steering.* settings (written by the CLI) steers with its vector.
ViewState viewStateFromSession(const rt::SessionState& session);

}  // namespace ll::ui
