// Figures of every view (attention, head grid, logit lens, routing, selection) from the built-in
// demo model in PNG (scales 1 and 3), SVG and PDF: PNG size and real pixels, SVG that parses and
// carries the title, token labels and caption, PDF with a header, a page and vector text; and the
// views' .npy tensors.
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>
#include <algorithm>
#include <cmath>

#include "runtime/api/npy_io.h"
#include "runtime/api/selection_export.h"
#include "runtime/demo/demo_model.h"
#include "runtime/tokenizer/tokenizer.h"
#include "visualizers/figure/figure_builder.h"

using namespace ll;

class TstFigureExport : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  rt::Session m_session;
  std::shared_ptr<const rt::Trace> m_trace;
  const std::string m_prompt = "abcdefgh abcdefgh 42!";

  vis::FigureRequest request(const std::string& view) const {
    vis::FigureRequest r;
    r.view = view;
    r.layer = view == "attention" ? 1 : -1;
    r.head = 0;
    r.modelName = "demo.gguf";
    r.prompt = m_prompt;
    return r;
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    const std::string model = m_dir.filePath("demo.gguf").toStdString();
    rt::demo::writeDemoModel(model);
    m_session.load(model, rt::parseBackend("cpu", 1));
    m_session.setPrompt(m_prompt);
    m_trace = m_session.run();
  }

  void everyViewEveryFormat_data() {
    QTest::addColumn<QString>("view");
    for (const char* v : {"attention", "headgrid", "lens", "routing", "selection"})
      QTest::newRow(v) << QString(v);
  }
  void everyViewEveryFormat() {
    QFETCH(QString, view);
    const vis::FigureSpec spec = vis::buildFigure(m_session, *m_trace, request(view.toStdString()));
    QVERIFY(!spec.title.isEmpty());
    const QString hash = QString::fromStdString(rt::promptHash(m_prompt));
    QVERIFY(spec.caption.contains("demo.gguf") && spec.caption.contains(hash));
    const QSizeF logical = vis::figureSize(spec);

    // PNG at scale 1 and 3: size follows the scale; real pixels in the heatmap and the text.
    QImage img1, img3;
    for (int scale : {1, 3}) {
      const QString path = m_dir.filePath(view + QString::number(scale) + ".png");
      QString err, note;
      QVERIFY2(vis::exportFigure(spec, path, scale, &err, &note), qPrintable(err));
      QImage img(path);
      QVERIFY(!img.isNull());
      QCOMPARE(img.width(), int(logical.width() * scale));
      QCOMPARE(img.height(), int(logical.height() * scale));
      QSet<QRgb> colours;
      int dark = 0;
      for (int y = 0; y < img.height(); y += 2)
        for (int x = 0; x < img.width(); x += 2) {
          const QRgb c = img.pixel(x, y);
          colours.insert(c);
          dark += qGray(c) < 60;
        }
      QVERIFY2(colours.size() > 20, qPrintable(QString::number(colours.size())));
      QVERIFY(dark > 100);  // text and dark heatmap cells
      (scale == 1 ? img1 : img3) = img;
    }
    // Same drawing at both scales: downsampled 3x image is close to the 1x one.
    const QImage down = img3.scaled(img1.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
    double diff = 0;
    for (int y = 0; y < img1.height(); ++y)
      for (int x = 0; x < img1.width(); ++x)
        diff += std::abs(qGray(img1.pixel(x, y)) - qGray(down.pixel(x, y)));
    QVERIFY(diff / (img1.width() * img1.height()) < 25.0);

    // SVG: well-formed XML with <svg> root, vector text with title, token labels and caption.
    const QString svgPath = m_dir.filePath(view + ".svg");
    QString err;
    QVERIFY2(vis::exportFigure(spec, svgPath, 1, &err), qPrintable(err));
    QFile svg(svgPath);
    QVERIFY(svg.open(QIODevice::ReadOnly));
    const QByteArray svgBytes = svg.readAll();
    QXmlStreamReader xml(svgBytes);
    QString root, text;
    int images = 0;
    while (!xml.atEnd()) {
      if (xml.readNext() == QXmlStreamReader::StartElement) {
        if (root.isEmpty()) root = xml.name().toString();
        if (xml.name() == QLatin1String("image")) ++images;
        if (xml.name() == QLatin1String("text")) text += xml.readElementText() + "\n";
      }
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QCOMPARE(root, QString("svg"));
    QCOMPARE(images, 1);  // the heatmap, embedded as an image
    QVERIFY2(text.contains(spec.title.left(12)), qPrintable(text.left(400)));
    QVERIFY(text.contains(hash));
    for (const QString& label : spec.colLabels.mid(0, 3))
      QVERIFY2(text.contains(label), qPrintable(label));
    for (const QString& label : spec.rowLabels.mid(0, 2))
      QVERIFY2(text.contains(label), qPrintable(label));

    // PDF: header, a page object, trailer, and text drawn as text (a font resource).
    const QString pdfPath = m_dir.filePath(view + ".pdf");
    QVERIFY2(vis::exportFigure(spec, pdfPath, 1, &err), qPrintable(err));
    QFile pdf(pdfPath);
    QVERIFY(pdf.open(QIODevice::ReadOnly));
    const QByteArray pdfBytes = pdf.readAll();
    QVERIFY(pdfBytes.startsWith("%PDF-"));
    QVERIFY(pdfBytes.contains("/Type /Page") || pdfBytes.contains("/Type/Page"));
    QVERIFY(pdfBytes.contains("/Font"));
    QVERIFY(pdfBytes.trimmed().endsWith("%%EOF"));
  }

  void badRequestsAreRefused() {
    auto req = request("attention");
    req.layer = 7;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, vis::buildFigure(m_session, *m_trace, req));
    req = request("nonsense");
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, vis::buildFigure(m_session, *m_trace, req));
    const auto spec = vis::buildFigure(m_session, *m_trace, request("routing"));
    QString err;
    QVERIFY(!vis::exportFigure(spec, m_dir.filePath("x.bmp"), 1, &err));
    QVERIFY(err.contains("format"));
    QVERIFY(!vis::exportFigure(spec, m_dir.filePath("x.png"), 9, &err));
  }

  // The figures show what the model does: routing rows are one-hot on the class expert.
  void routingFigureShowsClassExperts() {
    const auto spec = vis::buildFigure(m_session, *m_trace, request("routing"));
    QCOMPARE(spec.matrix.cols, rt::demo::kNumExperts);
    for (int t = 0; t < spec.matrix.rows; ++t) {
      std::string piece = m_trace->pieces[size_t(t)];
      if (piece == " ") piece = "\xe2\x96\x81";
      const int want = int(rt::demo::classOfPiece(piece));
      QVERIFY(spec.matrix.at(t, want) > 0.95f);
    }
  }

  // A real model (stories260K: 5 layers, 8 heads) when the shared folder is present.
  void realModelFigures() {
    const QByteArray shared = qgetenv("LAYERLENS_SHARED_DIR");
    const QString model = QString(shared) + "/models/stories260K.gguf";
    if (shared.isEmpty() || !QFileInfo::exists(model)) QSKIP("shared models not available");
    rt::Session s;
    s.load(model.toStdString(), rt::parseBackend("cpu", 1));
    s.setPrompt("Once upon a time");
    auto tr = s.run();
    for (const char* view : {"lens", "headgrid", "attention", "selection"}) {
      vis::FigureRequest r;
      r.view = view;
      r.head = 0;
      r.modelName = "stories260K.gguf";
      r.prompt = "Once upon a time";
      const auto spec = vis::buildFigure(s, *tr, r);
      QString err;
      const QString path = m_dir.filePath(QString("stories-") + view + ".svg");
      QVERIFY2(vis::exportFigure(spec, path, 1, &err), qPrintable(err));
      QVERIFY(QFileInfo(path).size() > 1000);
    }
    // The lens's last row is the model's own prediction: its top-1 matches the logits.
    vis::FigureRequest r;
    r.view = "lens";
    const auto spec = vis::buildFigure(s, *tr, r);
    QCOMPARE(spec.matrix.rows, 6);
    const int T = tr->nTokens;
    const float* last = tr->logitsRow(T - 1);
    const int top = int(std::max_element(last, last + tr->nVocab) - last);
    QCOMPARE(spec.cellText[5 * T + T - 1], vis::tokenLabel(s.model().tokenizer->piece(top)));
  }

  void npyTensors() {
    const int T = m_trace->nTokens;
    struct Case {
      const char* view;
      std::vector<int64_t> shape;
    };
    const std::vector<Case> cases = {{"attention", {T, T}}, {"headgrid", {2, 2, T, T}},
                                     {"lens", {3, T}},      {"routing", {T, 4}},
                                     {"selection", {T}},    {"residual", {T, 256}}};
    for (const auto& c : cases) {
      const std::string path = m_dir.filePath(QString(c.view) + ".npy").toStdString();
      QCOMPARE(vis::exportViewNpy(m_session, *m_trace, request(c.view), path), c.shape);
      const auto back = rt::readNpyF32(path);
      QCOMPARE(back.shape, c.shape);
      if (std::string(c.view) == "attention") {
        const auto map = m_session.attentionMap(*m_trace, 1, 0);
        QCOMPARE(back.data, map);
      }
    }
  }
};

QTEST_MAIN(TstFigureExport)
#include "tst_figure_export.moc"
