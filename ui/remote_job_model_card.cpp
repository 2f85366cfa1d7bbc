// RemoteAnalysisJob's model card parts beyond the info document's shape: the chat-template family
// the prompts are written in and the induction scores, from one run of the induction prompt on a
// server session of its own (its queries and keys fetched), as AnalysisJob::load computes them in
// process.
#ifdef LAYERLENS_HAVE_REMOTE
#include "runtime/analysis/induction_card.h"
#include "runtime/tokenizer/chat_family.h"
#include "ui/remote_analysis_job.h"

namespace ll::ui {

void RemoteAnalysisJob::fillModelCard(const nlohmann::json& j, int32_t bos,
                                      const rt::ModelSpec& spec, remote::RemoteSession& aux,
                                      ModelInfo& info) {
  // A family this client does not write (or no such field: an older server) is no template: the
  // prompts then run as typed, as for a model whose template is not recognised.
  const auto format = j.find("chat_format");
  if (format != j.end() && format->is_string() && rt::knownChatFamily(format->get<std::string>()))
    info.chatFormat = QString::fromStdString(format->get<std::string>());
  const rt::ana::InductionCard card =
      rt::ana::inductionCard(spec, bos, [&](const std::vector<int32_t>& ids) {
        aux.setPromptIds(ids);
        const remote::RemoteTrace tr = aux.run();
        aux.fetch(tr, remote::kPartQK);
        return std::shared_ptr<const rt::Trace>(tr.trace);
      });
  info.induction = card.scores;
  info.inductionN = card.n;
  info.inductionNote = QString::fromStdString(card.note);
}

}  // namespace ll::ui
#endif
