// The embedded demo presets (:/demos/) match resources/demos on disk and parse with the runtime's
// preset reader, teacher texts included.
#include <QDir>
#include <QFileInfo>
#include <QTest>

#include "resources/demos/demo_resources.h"
#include "runtime/demo/demo_presets.h"

class TstDemoResources : public QObject {
  Q_OBJECT
 private slots:
  void embeddedPresetsParse() {
    const QStringList files = ll::demos::embeddedPresetFiles();
    QVERIFY(files.size() >= 9);
    for (const QString& f : files) {
      const QString id = QFileInfo(f).completeBaseName();
      const QString json = ll::demos::embeddedText(f);
      QVERIFY(!json.isEmpty());
      const auto p =
          ll::rt::demo::parseDemoPreset(json.toStdString(), id.toStdString(), f.toStdString());
      QVERIFY(!p.title.empty());
      QVERIFY2(ll::demos::embeddedText(QString::fromStdString(p.teacherFile)).size() > 100,
               qPrintable(id));
    }
    const QByteArray src = qgetenv("LAYERLENS_SOURCE_DIR");
    if (!src.isEmpty()) {
      const QStringList onDisk =
          QDir(QString(src) + "/resources/demos").entryList({"*.json"}, QDir::Files);
      QCOMPARE(onDisk.size(), files.size());
    }
  }
};

QTEST_MAIN(TstDemoResources)
#include "tst_demo_resources.moc"
